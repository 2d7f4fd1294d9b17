/**
 * Sizes of the generated tiny Llama and the Hugging Face JSON files that describe it
 * (`config.json`, `generation_config.json`). Every other tinyModel module takes its
 * dimensions from `TinyLlamaDims`, so the weights, the ONNX graph and the JSON never disagree.
 */

/** The fixture tokenizer's vocabulary (Mistral's SentencePiece vocabulary, 32000 tokens). */
export const LLAMA_VOCAB_SIZE = 32000;
export const BOS_TOKEN_ID = 1;
export const EOS_TOKEN_ID = 2;
export const RMS_NORM_EPS = 1e-5;
export const ROPE_THETA = 10000;

/** The sizes a caller may choose (the `make-tiny-model` flags). */
export interface TinyModelSizes {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  maxPositions: number;
}

export const DEFAULT_TINY_MODEL_SIZES: Readonly<TinyModelSizes> = {
  hidden: 64,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  intermediate: 128,
  maxPositions: 2048,
};

/** The chosen sizes plus everything derived from them. */
export interface TinyLlamaDims extends TinyModelSizes {
  headDim: number;
  vocabSize: number;
}

/** The ids config.json and generation_config.json name (the chat variant's, chatVariants.ts). */
export interface SpecialTokenIds {
  bosTokenId: number;
  eosTokenId: number;
}

const BASE_SPECIAL_IDS: SpecialTokenIds = { bosTokenId: BOS_TOKEN_ID, eosTokenId: EOS_TOKEN_ID };

/** Validates the sizes (grouped-query attention and rotate-half RoPE need exact divisions). */
export function resolveDims(sizes: TinyModelSizes, vocabSize = LLAMA_VOCAB_SIZE): TinyLlamaDims {
  for (const [name, value] of Object.entries(sizes)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${value}`);
  }
  if (sizes.hidden % sizes.heads !== 0) throw new Error(`hidden (${sizes.hidden}) must be divisible by heads (${sizes.heads})`);
  if (sizes.heads % sizes.kvHeads !== 0) throw new Error(`heads (${sizes.heads}) must be divisible by kv-heads (${sizes.kvHeads})`);
  const headDim = sizes.hidden / sizes.heads;
  if (headDim % 2 !== 0) throw new Error(`head_dim (${headDim}) must be even for rotate-half RoPE`);
  return { ...sizes, headDim, vocabSize };
}

/** `config.json` as Hugging Face's LlamaConfig writes it, plus the transformers.js dtype hint. */
export function llamaConfigJson(dims: TinyLlamaDims, special: SpecialTokenIds = BASE_SPECIAL_IDS): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: dims.vocabSize,
    hidden_size: dims.hidden,
    intermediate_size: dims.intermediate,
    num_hidden_layers: dims.layers,
    num_attention_heads: dims.heads,
    num_key_value_heads: dims.kvHeads,
    head_dim: dims.headDim,
    hidden_act: 'silu',
    rms_norm_eps: RMS_NORM_EPS,
    rope_theta: ROPE_THETA,
    max_position_embeddings: dims.maxPositions,
    tie_word_embeddings: false,
    attention_bias: false,
    mlp_bias: false,
    bos_token_id: special.bosTokenId,
    eos_token_id: special.eosTokenId,
    torch_dtype: 'float32',
    // Without this, transformers.js on browser WASM asks for the q8 file `model_quantized.onnx`.
    'transformers.js_config': { dtype: 'fp32' },
  };
}

export function generationConfigJson(dims: TinyLlamaDims, special: SpecialTokenIds = BASE_SPECIAL_IDS): Record<string, unknown> {
  return { bos_token_id: special.bosTokenId, eos_token_id: special.eosTokenId, max_length: dims.maxPositions };
}
