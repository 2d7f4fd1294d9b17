/**
 * The tiny Llama as an ONNX graph (IR 8, opset 17, standard ops only) with the input/output
 * contract transformers.js 4.x expects of a decoder-only `llama` model: `input_ids`,
 * `attention_mask`, `position_ids`, `past_key_values.{i}.key|value`, `num_logits_to_keep` in;
 * `logits` and `present.{i}.key|value` out. Built from the same weights as `model.safetensors`.
 */
import type { onnx as OnnxTypes } from 'onnx-proto';
import { RMS_NORM_EPS, ROPE_THETA } from './config.ts';
import type { TinyLlamaDims } from './config.ts';
import { ElementType, OnnxGraphBuilder, intAttribute, intsAttribute, tensorValueInfo } from './onnxBuilder.ts';
import { layerPrefix, requireWeight } from './weights.ts';
import type { LlamaWeights } from './weights.ts';

const ONNX_IR_VERSION = 8;
/** Opset 17: ReduceMean still takes `axes` as an attribute (it became an input in 18). */
const ONNX_OPSET_VERSION = 17;

/** Added to the attention scores of disallowed keys; finite so a fully masked (padding) row stays NaN-free. */
const MASKED_SCORE = -1e9;
/** Slice end meaning "to the end of the axis" (ONNX clamps ends to the dimension). */
const SLICE_TO_END = Number.MAX_SAFE_INTEGER;

/** Names of the graph's cache inputs and outputs for one layer. */
function cacheNames(layer: number): { pastKey: string; pastValue: string; presentKey: string; presentValue: string } {
  return {
    pastKey: `past_key_values.${layer}.key`,
    pastValue: `past_key_values.${layer}.value`,
    presentKey: `present.${layer}.key`,
    presentValue: `present.${layer}.value`,
  };
}

/** Serialized `onnx/model.onnx` for the given weights. */
export function buildLlamaOnnxModel(dims: TinyLlamaDims, weights: LlamaWeights): Uint8Array {
  const graph = new LlamaGraph(dims, weights);
  const logits = graph.build();
  return graph.builder.encodeModel({
    irVersion: ONNX_IR_VERSION,
    opsetVersion: ONNX_OPSET_VERSION,
    producerName: 'wikipersona make-tiny-model',
    inputs: graphInputs(dims),
    outputs: graphOutputs(dims, logits),
  });
}

function graphInputs(dims: TinyLlamaDims): OnnxTypes.IValueInfoProto[] {
  // transformers.js builds the empty first-step cache from this metadata: dim 0 must be named
  // `batch_size`, dims 1 and 3 must be numbers, and the past length must be symbolic.
  const cacheShape = ['batch_size', dims.kvHeads, 'past_sequence_length', dims.headDim];
  const inputs = [
    tensorValueInfo('input_ids', ElementType.INT64, ['batch_size', 'sequence_length']),
    tensorValueInfo('attention_mask', ElementType.INT64, ['batch_size', 'total_sequence_length']),
    tensorValueInfo('position_ids', ElementType.INT64, ['batch_size', 'sequence_length']),
  ];
  for (let layer = 0; layer < dims.layers; layer++) {
    const names = cacheNames(layer);
    inputs.push(tensorValueInfo(names.pastKey, ElementType.FLOAT, cacheShape));
    inputs.push(tensorValueInfo(names.pastValue, ElementType.FLOAT, cacheShape));
  }
  inputs.push(tensorValueInfo('num_logits_to_keep', ElementType.INT64, []));
  return inputs;
}

function graphOutputs(dims: TinyLlamaDims, logits: string): OnnxTypes.IValueInfoProto[] {
  const cacheShape = ['batch_size', dims.kvHeads, 'total_sequence_length', dims.headDim];
  const outputs = [tensorValueInfo(logits, ElementType.FLOAT, ['batch_size', 'sequence_length', dims.vocabSize])];
  for (let layer = 0; layer < dims.layers; layer++) {
    const names = cacheNames(layer);
    outputs.push(tensorValueInfo(names.presentKey, ElementType.FLOAT, cacheShape));
    outputs.push(tensorValueInfo(names.presentValue, ElementType.FLOAT, cacheShape));
  }
  return outputs;
}

/** HF Linear weights are [out, in]; MatMul(x, W) needs [in, out]. */
function transposed(shape: readonly number[], data: Float32Array): Float32Array {
  const [rows, cols] = shape as [number, number];
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c] as number;
  return out;
}

/** cos and sin of position·θ^(−2i/d), each half duplicated as rotate-half RoPE expects: [maxPositions, headDim]. */
function ropeTables(dims: TinyLlamaDims): { cos: Float32Array; sin: Float32Array } {
  const half = dims.headDim / 2;
  const cos = new Float32Array(dims.maxPositions * dims.headDim);
  const sin = new Float32Array(dims.maxPositions * dims.headDim);
  for (let position = 0; position < dims.maxPositions; position++) {
    for (let i = 0; i < half; i++) {
      const angle = position * Math.pow(ROPE_THETA, (-2 * i) / dims.headDim);
      for (const column of [i, i + half]) {
        cos[position * dims.headDim + column] = Math.cos(angle);
        sin[position * dims.headDim + column] = Math.sin(angle);
      }
    }
  }
  return { cos, sin };
}

class LlamaGraph {
  readonly builder = new OnnxGraphBuilder();

  constructor(
    private readonly dims: TinyLlamaDims,
    private readonly weights: LlamaWeights,
  ) {}

  /** Adds every node; returns the name of the logits output. */
  build(): string {
    const g = this.builder;
    const embed = requireWeight(this.weights, 'model.embed_tokens.weight');
    g.floatInitializer('model.embed_tokens.weight', embed.shape, embed.data);
    let hidden = g.op('Gather', ['model.embed_tokens.weight', 'input_ids'], { attributes: [intAttribute('axis', 0)] });

    const rope = this.ropeForPositions();
    const maskBias = this.attentionBias();
    for (let layer = 0; layer < this.dims.layers; layer++) {
      const prefix = layerPrefix(layer);
      const attention = this.attention(layer, this.rmsNorm(hidden, `${prefix}.input_layernorm.weight`), rope, maskBias);
      hidden = g.op('Add', [hidden, attention]);
      const mlp = this.mlp(prefix, this.rmsNorm(hidden, `${prefix}.post_attention_layernorm.weight`));
      hidden = g.op('Add', [hidden, mlp]);
    }
    const normed = this.rmsNorm(hidden, 'model.norm.weight');
    // Keep the last n positions; n = 0 gives start −0 = 0, i.e. every position.
    const keep = g.op('Unsqueeze', ['num_logits_to_keep', g.int64Constant([0])]);
    const kept = g.op('Slice', [normed, g.op('Neg', [keep]), g.int64Constant([SLICE_TO_END]), g.int64Constant([1])]);
    return g.op('MatMul', [kept, this.linearWeight('lm_head.weight')], { output: 'logits' });
  }

  /** Registers a Linear weight transposed to [in, out] and returns its initializer name. */
  private linearWeight(name: string): string {
    const weight = requireWeight(this.weights, name);
    return this.builder.floatInitializer(`${name}.transposed`, [...weight.shape].reverse(), transposed(weight.shape, weight.data));
  }

  private rmsNorm(x: string, weightName: string): string {
    const g = this.builder;
    const weight = requireWeight(this.weights, weightName);
    g.floatInitializer(weightName, weight.shape, weight.data);
    const meanSquare = g.op('ReduceMean', [g.op('Mul', [x, x])], { attributes: [intsAttribute('axes', [-1]), intAttribute('keepdims', 1)] });
    const rms = g.op('Sqrt', [g.op('Add', [meanSquare, g.floatScalarConstant(RMS_NORM_EPS)])]);
    return g.op('Mul', [g.op('Div', [x, rms]), weightName]);
  }

  /** cos/sin rows for `position_ids`, shaped [B, 1, S, D] to broadcast over heads. */
  private ropeForPositions(): { cos: string; sin: string } {
    const g = this.builder;
    const tables = ropeTables(this.dims);
    const tableShape = [this.dims.maxPositions, this.dims.headDim];
    const rows = (table: string) =>
      g.op('Unsqueeze', [g.op('Gather', [table, 'position_ids'], { attributes: [intAttribute('axis', 0)] }), g.int64Constant([1])]);
    return {
      cos: rows(g.floatInitializer('rope.cos', tableShape, tables.cos)),
      sin: rows(g.floatInitializer('rope.sin', tableShape, tables.sin)),
    };
  }

  /**
   * Additive attention bias [B, 1, S, T]: 0 where query s (at absolute column past + s) may see key t
   * (t ≤ past + s and attention_mask[b, t] = 1), MASKED_SCORE elsewhere.
   */
  private attentionBias(): string {
    const g = this.builder;
    const dimension = (tensor: string, axis: number) =>
      g.op('Gather', [g.op('Shape', [tensor]), g.int64Constant([axis], true)], { attributes: [intAttribute('axis', 0)] });
    const total = dimension('attention_mask', 1);
    const current = dimension('input_ids', 1);
    const past = g.op('Sub', [total, current]);
    const zero = g.int64Constant([0], true);
    const one = g.int64Constant([1], true);
    const keyColumns = g.op('Unsqueeze', [g.op('Range', [zero, total, one]), g.int64Constant([0])]);
    const queryColumns = g.op('Unsqueeze', [g.op('Add', [g.op('Range', [zero, current, one]), past]), g.int64Constant([1])]);
    const causal = g.op('LessOrEqual', [keyColumns, queryColumns]);
    const notPadding = g.op('Unsqueeze', [g.op('Cast', ['attention_mask'], { attributes: [intAttribute('to', ElementType.BOOL)] }), g.int64Constant([1, 2])]);
    const allowed = g.op('And', [causal, notPadding]);
    return g.op('Where', [allowed, g.floatScalarConstant(0), g.floatScalarConstant(MASKED_SCORE)]);
  }

  /** x [B, S, H] → [B, heads, S, D]. */
  private projectHeads(x: string, weightName: string, heads: number): string {
    const g = this.builder;
    const projected = g.op('MatMul', [x, this.linearWeight(weightName)]);
    const split = g.op('Reshape', [projected, g.int64Constant([0, 0, heads, this.dims.headDim])]);
    return g.op('Transpose', [split], { attributes: [intsAttribute('perm', [0, 2, 1, 3])] });
  }

  /** x·cos + rotate_half(x)·sin, with rotate_half(x) = [−x₂, x₁] over the halves of the head dim. */
  private applyRope(x: string, rope: { cos: string; sin: string }): string {
    const g = this.builder;
    const half = this.dims.headDim / 2;
    const lastAxis = g.int64Constant([3]);
    const firstHalf = g.op('Slice', [x, g.int64Constant([0]), g.int64Constant([half]), lastAxis]);
    const secondHalf = g.op('Slice', [x, g.int64Constant([half]), g.int64Constant([this.dims.headDim]), lastAxis]);
    const rotated = g.op('Concat', [g.op('Neg', [secondHalf]), firstHalf], { attributes: [intAttribute('axis', 3)] });
    return g.op('Add', [g.op('Mul', [x, rope.cos]), g.op('Mul', [rotated, rope.sin])]);
  }

  /** [B, KV, T, D] → [B, heads, T, D]; query head h reads kv head ⌊h / groups⌋, as HF's repeat_kv. */
  private repeatKv(x: string): string {
    const groups = this.dims.heads / this.dims.kvHeads;
    if (groups === 1) return x;
    const g = this.builder;
    const expanded = g.op('Expand', [g.op('Unsqueeze', [x, g.int64Constant([2])]), g.int64Constant([1, 1, groups, 1, 1])]);
    return g.op('Reshape', [expanded, g.int64Constant([0, this.dims.heads, -1, this.dims.headDim])]);
  }

  private attention(layer: number, x: string, rope: { cos: string; sin: string }, maskBias: string): string {
    const g = this.builder;
    const prefix = `${layerPrefix(layer)}.self_attn`;
    const names = cacheNames(layer);
    const { heads, kvHeads, headDim } = this.dims;
    const query = this.applyRope(this.projectHeads(x, `${prefix}.q_proj.weight`, heads), rope);
    const newKey = this.applyRope(this.projectHeads(x, `${prefix}.k_proj.weight`, kvHeads), rope);
    const newValue = this.projectHeads(x, `${prefix}.v_proj.weight`, kvHeads);
    const concatSequence = [intAttribute('axis', 2)];
    const key = g.op('Concat', [names.pastKey, newKey], { attributes: concatSequence, output: names.presentKey });
    const value = g.op('Concat', [names.pastValue, newValue], { attributes: concatSequence, output: names.presentValue });

    const keyT = g.op('Transpose', [this.repeatKv(key)], { attributes: [intsAttribute('perm', [0, 1, 3, 2])] });
    const scores = g.op('Mul', [g.op('MatMul', [query, keyT]), g.floatScalarConstant(1 / Math.sqrt(headDim))]);
    const probabilities = g.op('Softmax', [g.op('Add', [scores, maskBias])], { attributes: [intAttribute('axis', -1)] });
    const context = g.op('MatMul', [probabilities, this.repeatKv(value)]);
    const merged = g.op('Reshape', [
      g.op('Transpose', [context], { attributes: [intsAttribute('perm', [0, 2, 1, 3])] }),
      g.int64Constant([0, 0, heads * headDim]),
    ]);
    return g.op('MatMul', [merged, this.linearWeight(`${prefix}.o_proj.weight`)]);
  }

  /** SwiGLU: down(silu(gate(x)) · up(x)). */
  private mlp(prefix: string, x: string): string {
    const g = this.builder;
    const gate = g.op('MatMul', [x, this.linearWeight(`${prefix}.mlp.gate_proj.weight`)]);
    const up = g.op('MatMul', [x, this.linearWeight(`${prefix}.mlp.up_proj.weight`)]);
    const activated = g.op('Mul', [gate, g.op('Sigmoid', [gate])]);
    return g.op('MatMul', [g.op('Mul', [activated, up]), this.linearWeight(`${prefix}.mlp.down_proj.weight`)]);
  }
}
