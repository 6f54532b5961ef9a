import { describeRuleRewrites, formsByRuleFile } from '../../testing/rewrite-fixture.ts'
import { decomposedAttentionRule } from './decomposed-attention.ts'

// MatMul/Softmax/MatMul as torch exports it, with the scale on the scores or split as √scale on Q and Kᵀ.
describeRuleRewrites(decomposedAttentionRule, formsByRuleFile['decomposed-attention'])
