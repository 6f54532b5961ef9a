import { describeRuleRewrites, formsByRuleFile } from '../../testing/rewrite-fixture.ts'
import { msMultiHeadAttentionRule } from './ms-multi-head-attention.ts'

// com.microsoft MultiHeadAttention with separate K and V, and with packed KV (self-attention as
// com.microsoft Attention, which msAttentionRule counts as self-attention).
describeRuleRewrites(msMultiHeadAttentionRule, formsByRuleFile['ms-multi-head-attention'])
