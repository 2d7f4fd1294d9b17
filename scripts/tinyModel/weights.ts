/**
 * Seeded random weights for the tiny Llama, named and shaped exactly like Hugging Face's
 * LlamaForCausalLM state dict (Linear weights are [out, in]). The scales are chosen so the
 * model is far from uniform: sharp-ish attention and next-token distributions whose entropy
 * sits well below ln(vocab), so scoring and aggregation bugs change numbers visibly.
 */
import { createRng, normal } from '../../src/core/random.ts';
import type { TinyLlamaDims } from './config.ts';

export interface WeightTensor {
  shape: readonly number[];
  data: Float32Array;
}

/** Tensor name → tensor, in Hugging Face naming; insertion order is the generation order. */
export type LlamaWeights = ReadonlyMap<string, WeightTensor>;

/**
 * Standard deviation of the lm_head logits: with a final RMSNorm the hidden state has norm ≈ √hidden,
 * so lm_head entries of std LOGIT_STD/√hidden give logits of std ≈ LOGIT_STD. For Gaussian logits
 * the entropy is about ln(V) − LOGIT_STD²/2 ≈ 10.37 − 4.5 nats.
 */
const LOGIT_STD = 3;
/** Queries are scaled up so attention scores have std ≈ 2 and attention visibly depends on position. */
const QUERY_GAIN = 2;
/** Norm weights are 1 ± this, so a forgotten norm weight changes the output. */
const NORM_WEIGHT_SPREAD = 0.1;

export function layerPrefix(layer: number): string {
  return `model.layers.${layer}`;
}

/** Generates every tensor of the model from one seeded generator, in a fixed order. */
export function generateLlamaWeights(dims: TinyLlamaDims, seed: number): LlamaWeights {
  const rng = createRng(seed);
  const weights = new Map<string, WeightTensor>();
  const add = (name: string, shape: number[], sample: () => number): void => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = sample();
    weights.set(name, { shape, data });
  };
  const gaussian = (std: number) => () => std * normal(rng);
  const normWeight = () => 1 + NORM_WEIGHT_SPREAD * normal(rng);
  // Linear [out, in] with std ∝ 1/√in keeps every projection's output at unit scale.
  const linear = (name: string, out: number, inFeatures: number, gain = 1): void =>
    add(name, [out, inFeatures], gaussian(gain / Math.sqrt(inFeatures)));

  const { hidden, headDim, heads, kvHeads, intermediate, vocabSize } = dims;
  add('model.embed_tokens.weight', [vocabSize, hidden], gaussian(1));
  for (let layer = 0; layer < dims.layers; layer++) {
    const prefix = layerPrefix(layer);
    add(`${prefix}.input_layernorm.weight`, [hidden], normWeight);
    linear(`${prefix}.self_attn.q_proj.weight`, heads * headDim, hidden, QUERY_GAIN);
    linear(`${prefix}.self_attn.k_proj.weight`, kvHeads * headDim, hidden);
    linear(`${prefix}.self_attn.v_proj.weight`, kvHeads * headDim, hidden);
    linear(`${prefix}.self_attn.o_proj.weight`, hidden, heads * headDim);
    add(`${prefix}.post_attention_layernorm.weight`, [hidden], normWeight);
    linear(`${prefix}.mlp.gate_proj.weight`, intermediate, hidden);
    linear(`${prefix}.mlp.up_proj.weight`, intermediate, hidden);
    linear(`${prefix}.mlp.down_proj.weight`, hidden, intermediate);
  }
  add('model.norm.weight', [hidden], normWeight);
  linear('lm_head.weight', vocabSize, hidden, LOGIT_STD);
  return weights;
}

/** Looks a tensor up, failing loudly on a typo instead of producing a broken graph. */
export function requireWeight(weights: LlamaWeights, name: string): WeightTensor {
  const tensor = weights.get(name);
  if (!tensor) throw new Error(`missing weight ${name}`);
  return tensor;
}
