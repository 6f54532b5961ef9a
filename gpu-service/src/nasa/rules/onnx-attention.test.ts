import { describeRuleRewrites, formsByRuleFile } from '../../testing/rewrite-fixture.ts'
import { onnxAttentionRule } from './onnx-attention.ts'

// The ONNX opset-23 Attention op.
describeRuleRewrites(onnxAttentionRule, formsByRuleFile['onnx-attention'])
