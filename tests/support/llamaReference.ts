/**
 * An independent float64 Llama forward pass in plain TypeScript, for checking ONNX graphs and
 * scoring code against known-good numbers. It reads `config.json` and `model.safetensors` with
 * its own parser and shares no code with the generator. Semantics follow Hugging Face
 * LlamaForCausalLM: RMSNorm, rotate-half RoPE, grouped-query attention, SwiGLU MLP, untied lm_head,
 * causal + padding mask, and position_ids = cumsum(mask) − 1 (1 at masked positions).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface ReferenceConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  eosTokenId: number;
}

export interface ReferenceTensor {
  shape: number[];
  data: Float64Array;
}

/** One layer's cache for one sequence: `key[kvHead][position]` is a head_dim vector (after RoPE). */
export interface ReferenceLayerCache {
  key: Float64Array[][];
  value: Float64Array[][];
}

/** `cache[row][layer]`; the positions are the columns of the attention mask seen so far. */
export type ReferenceCache = ReferenceLayerCache[][];

export interface ReferenceForwardResult {
  /** `logits[row][position]`, one vocab-sized vector per input position. */
  logits: Float64Array[][];
  /** The past plus this call's keys and values; the past passed in is left untouched. */
  present: ReferenceCache;
}

export interface ReferenceLlama {
  config: ReferenceConfig;
  /** `attentionMask[row]` covers past + current columns, like the ONNX `attention_mask`. */
  forward(inputIds: number[][], attentionMask: number[][], past?: ReferenceCache): ReferenceForwardResult;
  /** Greedy (argmax) continuation of one unpadded prompt, stopping after EOS or `maxNewTokens`. */
  greedyContinuation(promptIds: number[], maxNewTokens: number): number[];
}

/** Parses a safetensors file (F32 tensors only) into float64 arrays. */
export async function readSafetensors(path: string): Promise<Map<string, ReferenceTensor>> {
  const bytes = await readFile(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown>;
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, ReferenceTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: [begin, end] } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (dtype !== 'F32') throw new Error(`${name}: only F32 is supported, got ${dtype}`);
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * 4) throw new Error(`${name}: data_offsets do not match shape ${shape.join('×')}`);
    const data = new Float64Array(count);
    for (let i = 0; i < count; i++) data[i] = bytes.readFloatLE(dataStart + begin + 4 * i);
    tensors.set(name, { shape, data });
  }
  return tensors;
}

/** HF/transformers.js position ids for the last `sequenceLength` columns of one mask row. */
export function positionIdsFromMask(maskRow: readonly number[], sequenceLength: number): number[] {
  let seen = 0;
  const all = maskRow.map((m) => {
    seen += m;
    return m === 0 ? 1 : seen - 1;
  });
  return all.slice(maskRow.length - sequenceLength);
}

export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i] as number);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp((logits[i] as number) - max);
  const logZ = max + Math.log(sum);
  return Float64Array.from({ length: logits.length }, (_, i) => (logits[i] as number) - logZ);
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

function parseConfig(json: Record<string, unknown>): ReferenceConfig {
  const num = (key: string): number => {
    const value = json[key];
    if (typeof value !== 'number') throw new Error(`config.json: ${key} must be a number`);
    return value;
  };
  const numHeads = num('num_attention_heads');
  return {
    vocabSize: num('vocab_size'),
    hiddenSize: num('hidden_size'),
    intermediateSize: num('intermediate_size'),
    numLayers: num('num_hidden_layers'),
    numHeads,
    numKvHeads: num('num_key_value_heads'),
    headDim: typeof json.head_dim === 'number' ? json.head_dim : num('hidden_size') / numHeads,
    rmsNormEps: num('rms_norm_eps'),
    ropeTheta: num('rope_theta'),
    eosTokenId: num('eos_token_id'),
  };
}

/** y = W·x for a row-major W of shape [rows, x.length]. */
function matVec(weight: ReferenceTensor, x: Float64Array): Float64Array {
  const [rows, cols] = weight.shape as [number, number];
  if (cols !== x.length) throw new Error(`matVec: weight has ${cols} columns, vector has ${x.length}`);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    const offset = r * cols;
    for (let c = 0; c < cols; c++) sum += (weight.data[offset + c] as number) * (x[c] as number);
    y[r] = sum;
  }
  return y;
}

function rmsNorm(x: Float64Array, weight: ReferenceTensor, eps: number): Float64Array {
  let meanSquare = 0;
  for (const v of x) meanSquare += v * v;
  const scale = 1 / Math.sqrt(meanSquare / x.length + eps);
  return x.map((v, i) => v * scale * (weight.data[i] as number));
}

/** Rotates each (i, i + d/2) pair of one head by position·θ^(−2i/d), i.e. x·cos + rotate_half(x)·sin. */
function rope(head: Float64Array, position: number, theta: number): Float64Array {
  const half = head.length / 2;
  const out = new Float64Array(head.length);
  for (let i = 0; i < half; i++) {
    const angle = position / Math.pow(theta, (2 * i) / head.length);
    const [c, s] = [Math.cos(angle), Math.sin(angle)];
    const [a, b] = [head[i] as number, head[i + half] as number];
    out[i] = a * c - b * s;
    out[i + half] = b * c + a * s;
  }
  return out;
}

function splitHeads(x: Float64Array, headDim: number): Float64Array[] {
  return Array.from({ length: x.length / headDim }, (_, h) => x.slice(h * headDim, (h + 1) * headDim));
}

function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

class ReferenceModel implements ReferenceLlama {
  constructor(
    readonly config: ReferenceConfig,
    private readonly tensors: Map<string, ReferenceTensor>,
  ) {}

  forward(inputIds: number[][], attentionMask: number[][], past?: ReferenceCache): ReferenceForwardResult {
    if (inputIds.length !== attentionMask.length) throw new Error('inputIds and attentionMask need the same number of rows');
    const rows = inputIds.map((ids, row) => this.forwardRow(ids, attentionMask[row] as number[], past?.[row]));
    return { logits: rows.map((r) => r.logits), present: rows.map((r) => r.present) };
  }

  greedyContinuation(promptIds: number[], maxNewTokens: number): number[] {
    const generated: number[] = [];
    let step = this.forwardRow(promptIds, promptIds.map(() => 1), undefined);
    while (generated.length < maxNewTokens) {
      const next = argmax(step.logits[step.logits.length - 1] as Float64Array);
      generated.push(next);
      if (next === this.config.eosTokenId) break;
      const seen = promptIds.length + generated.length;
      step = this.forwardRow([next], Array.from({ length: seen }, () => 1), step.present);
    }
    return generated;
  }

  private weight(name: string): ReferenceTensor {
    const tensor = this.tensors.get(name);
    if (!tensor) throw new Error(`model.safetensors has no tensor ${name}`);
    return tensor;
  }

  /**
   * One sequence. Tokens are processed one at a time through all layers, appending to a copy of the
   * cache, so each token attends exactly to the columns up to its own (causality by construction).
   */
  private forwardRow(ids: number[], maskRow: number[], past: ReferenceLayerCache[] | undefined): { logits: Float64Array[]; present: ReferenceLayerCache[] } {
    const { numLayers, numKvHeads, hiddenSize } = this.config;
    const pastLength = past?.[0]?.key[0]?.length ?? 0;
    if (maskRow.length !== pastLength + ids.length) {
      throw new Error(`attention mask has ${maskRow.length} columns, expected past ${pastLength} + ${ids.length}`);
    }
    const cache: ReferenceLayerCache[] = Array.from({ length: numLayers }, (_, layer) => ({
      key: Array.from({ length: numKvHeads }, (_, h) => [...(past?.[layer]?.key[h] ?? [])]),
      value: Array.from({ length: numKvHeads }, (_, h) => [...(past?.[layer]?.value[h] ?? [])]),
    }));
    const positions = positionIdsFromMask(maskRow, ids.length);
    const embed = this.weight('model.embed_tokens.weight');
    const logits = ids.map((id, s) => {
      let x: Float64Array = embed.data.slice(id * hiddenSize, (id + 1) * hiddenSize);
      for (let layer = 0; layer < numLayers; layer++) {
        x = this.decoderLayer(layer, x, positions[s] as number, cache[layer] as ReferenceLayerCache, maskRow);
      }
      return matVec(this.weight('lm_head.weight'), rmsNorm(x, this.weight('model.norm.weight'), this.config.rmsNormEps));
    });
    return { logits, present: cache };
  }

  private decoderLayer(layer: number, x: Float64Array, position: number, cache: ReferenceLayerCache, maskRow: number[]): Float64Array {
    const prefix = `model.layers.${layer}`;
    const { rmsNormEps, headDim, ropeTheta, numHeads, numKvHeads } = this.config;
    const normed = rmsNorm(x, this.weight(`${prefix}.input_layernorm.weight`), rmsNormEps);
    const queries = splitHeads(matVec(this.weight(`${prefix}.self_attn.q_proj.weight`), normed), headDim).map((q) => rope(q, position, ropeTheta));
    const keys = splitHeads(matVec(this.weight(`${prefix}.self_attn.k_proj.weight`), normed), headDim).map((k) => rope(k, position, ropeTheta));
    const values = splitHeads(matVec(this.weight(`${prefix}.self_attn.v_proj.weight`), normed), headDim);
    keys.forEach((k, h) => cache.key[h]?.push(k));
    values.forEach((v, h) => cache.value[h]?.push(v));

    const context = new Float64Array(numHeads * headDim);
    const groupSize = numHeads / numKvHeads;
    queries.forEach((query, h) => {
      const kvHead = Math.floor(h / groupSize);
      const headContext = attendOneHead(query, cache.key[kvHead] as Float64Array[], cache.value[kvHead] as Float64Array[], maskRow);
      context.set(headContext, h * headDim);
    });
    const afterAttention = addVectors(x, matVec(this.weight(`${prefix}.self_attn.o_proj.weight`), context));

    const normed2 = rmsNorm(afterAttention, this.weight(`${prefix}.post_attention_layernorm.weight`), rmsNormEps);
    const gate = matVec(this.weight(`${prefix}.mlp.gate_proj.weight`), normed2);
    const up = matVec(this.weight(`${prefix}.mlp.up_proj.weight`), normed2);
    const activated = gate.map((g, i) => silu(g) * (up[i] as number));
    return addVectors(afterAttention, matVec(this.weight(`${prefix}.mlp.down_proj.weight`), activated));
  }
}

function addVectors(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + (b[i] as number));
}

/**
 * Softmax attention of one query over the cached keys whose mask column is 1. A query with no
 * visible key (a left-padding position) gets a zero context: its output is meaningless either way.
 */
function attendOneHead(query: Float64Array, keys: Float64Array[], values: Float64Array[], maskRow: number[]): Float64Array {
  const scale = 1 / Math.sqrt(query.length);
  const visible = keys.map((_, j) => j).filter((j) => maskRow[j] === 1);
  const context = new Float64Array(query.length);
  if (visible.length === 0) return context;
  const scores = visible.map((j) => {
    const key = keys[j] as Float64Array;
    let dot = 0;
    for (let d = 0; d < query.length; d++) dot += (query[d] as number) * (key[d] as number);
    return dot * scale;
  });
  const weights = logSoftmax(scores).map(Math.exp);
  visible.forEach((j, n) => {
    const value = values[j] as Float64Array;
    for (let d = 0; d < context.length; d++) context[d] = (context[d] as number) + (weights[n] as number) * (value[d] as number);
  });
  return context;
}

/** Loads `config.json` and `model.safetensors` from a Hugging Face model folder. */
export async function loadReferenceLlama(dir: string): Promise<ReferenceLlama> {
  const config = parseConfig(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>);
  return new ReferenceModel(config, await readSafetensors(join(dir, 'model.safetensors')));
}
