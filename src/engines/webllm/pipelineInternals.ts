/**
 * The ONLY module that touches WebLLM internals. Written against @mlc-ai/web-llm 0.2.86
 * (`modelVersion` "v0_2_86/base"); any other version, and any pipeline that lacks what is used
 * here, is refused by `probePipeline` with a reason, and the engine falls back to forced decoding
 * through WebLLM's public `forwardTokensAndSample`.
 *
 * What it relies on (read from the 0.2.86 bundle, lib/index.js; facts in
 * ../shared/reference/webllm-one-pass.md):
 * - `MLCEngine.loadedModelIdToPipeline: Map<modelId, LLMChatPipeline>` (private to TypeScript only).
 * - The pipeline's fields `tvm`, `vm`, `device`, `params`, `embed`, `kvCache`, `rnnState`,
 *   `fKVCacheBeginForward`, `fKVCacheEndForward`, `filledKVCacheLength`, `prefillChunkSize`,
 *   `contextWindowSize`, `slidingWindowSize`, `kvStateKind`, `artifact`.
 * - The model library's `batch_prefill(embeddings [1, n, H], logit_positions int32 [p], kv_cache,
 *   params)` → (logits float32 [1, p, V], …): the logits of the tokens of THIS call at the given
 *   positions, planned at compile time for n ≤ prefill_chunk_size and p ≤ `_metadata`'s
 *   max_batch_size. It gathers positions with no bounds check, so every position is checked here.
 * - The runtime's `vm.builtin.kv_state_popn(state, seq int64, n int32)`: drops the last n tokens
 *   of sequence 0 (integers must be typed scalars: a bare JS number is passed as a float). It does
 *   not rewind a sliding window (refused below), and older runtimes refuse to pop a whole
 *   sequence, so at least one token is always kept. `filledKVCacheLength` is WebLLM's own count
 *   and is kept in step here; `vm.builtin.attention_kv_cache_get_sequence_length`, when the
 *   library has it, reads the real length back after every pop.
 * - `fKVCacheBeginForward` lengthens the sequence at once: if anything throws before
 *   `fKVCacheEndForward`, the caller must `resetChat()` (it does, in a `finally`).
 * Every TVM object is created inside a `beginScope`/`endScope` pair, as the pipeline does, so
 * nothing leaks on the GPU.
 */

/** The WebLLM `modelVersion` this module was written and checked against. */
export const PINNED_WEBLLM_MODEL_VERSION = 'v0_2_86/base';

/** tvmjs's Tensor, as far as this module uses it. */
export interface TvmTensor {
  readonly shape: readonly number[];
  copyFrom(data: TvmTensor | Int32Array): TvmTensor;
  toArray(): ArrayLike<number>;
  view(shape: number[]): TvmTensor;
}

/** tvmjs's Instance, as far as this module uses it. */
export interface TvmRuntime {
  beginScope(): void;
  endScope(): void;
  detachFromCurrentScope<T>(object: T): T;
  empty(shape: number[], dtype: string, device: unknown): TvmTensor;
  cpu(): unknown;
  makeShapeTuple(shape: number[]): unknown;
  getGlobalFunc(name: string): PackedFunc;
  scalar(value: number, dtype: string): unknown;
}

export type PackedFunc = (...args: unknown[]) => unknown;

/** The LLMChatPipeline fields this module reads and writes. */
export interface PipelineFields {
  tvm: TvmRuntime;
  vm: { getFunction(name: string): PackedFunc };
  device: { sync(): Promise<void> };
  params: unknown;
  embed: (input: TvmTensor, params: unknown) => TvmTensor;
  kvCache: unknown;
  rnnState: unknown;
  fKVCacheBeginForward: PackedFunc;
  fKVCacheEndForward: PackedFunc;
  filledKVCacheLength: number;
  prefillChunkSize: number;
  contextWindowSize: number;
  slidingWindowSize: number;
  kvStateKind: string;
  artifact: unknown;
}

/** What the probe found: access to the pipeline, or why there is none. */
export type PipelineProbe = { ok: true; access: PipelineAccess } | { ok: false; reason: string };

/**
 * Looks for everything this module needs on a loaded in-thread engine; never throws. `batchPrefill`
 * is optional in the result: a library without it (or with max_batch_size < 2) still allows
 * popping the KV cache, which forced decoding uses to prefill each prompt once.
 */
export function probePipeline(engine: unknown, modelId: string, webLlmModelVersion: string): PipelineProbe {
  if (webLlmModelVersion !== PINNED_WEBLLM_MODEL_VERSION) {
    return { ok: false, reason: `WebLLM ${webLlmModelVersion} is not the version this one-pass path was written against (${PINNED_WEBLLM_MODEL_VERSION})` };
  }
  const pipelines = (engine as { loadedModelIdToPipeline?: unknown }).loadedModelIdToPipeline;
  if (!(pipelines instanceof Map)) return { ok: false, reason: "WebLLM's engine has no loadedModelIdToPipeline map" };
  const pipeline: unknown = pipelines.get(modelId);
  const missing = missingFields(pipeline);
  if (missing.length > 0) return { ok: false, reason: `WebLLM's pipeline lacks ${missing.join(', ')}` };
  const fields = pipeline as PipelineFields;
  if (fields.artifact !== undefined) return { ok: false, reason: 'the model ships a package manifest, whose prefill takes other arguments' };
  if (fields.kvStateKind !== 'kv_cache' || fields.rnnState !== undefined || fields.kvCache === undefined) {
    return { ok: false, reason: `the model keeps ${fields.kvStateKind} state, not a plain KV cache` };
  }
  if (fields.slidingWindowSize !== -1) return { ok: false, reason: 'the model runs with a sliding window, which popping tokens does not rewind' };
  const popn = lookup(fields, () => fields.tvm.getGlobalFunc('vm.builtin.kv_state_popn'));
  if (!popn) return { ok: false, reason: 'the model library lacks vm.builtin.kv_state_popn' };
  const sequenceLength = lookup(fields, () => fields.tvm.getGlobalFunc('vm.builtin.attention_kv_cache_get_sequence_length'));
  return { ok: true, access: new PipelineAccess(fields, popn, sequenceLength, findBatchPrefill(fields)) };
}

const FUNCTION_FIELDS = ['embed', 'fKVCacheBeginForward', 'fKVCacheEndForward'] as const;
const NUMBER_FIELDS = ['filledKVCacheLength', 'prefillChunkSize', 'contextWindowSize', 'slidingWindowSize'] as const;
const TVM_METHODS = ['beginScope', 'endScope', 'detachFromCurrentScope', 'empty', 'cpu', 'makeShapeTuple', 'getGlobalFunc', 'scalar'] as const;

function missingFields(pipeline: unknown): string[] {
  if (typeof pipeline !== 'object' || pipeline === null) return ['a pipeline for the loaded model'];
  const record = pipeline as Record<string, unknown>;
  const missing: string[] = [];
  for (const name of FUNCTION_FIELDS) if (typeof record[name] !== 'function') missing.push(name);
  for (const name of NUMBER_FIELDS) if (typeof record[name] !== 'number') missing.push(name);
  const tvm = record.tvm as Record<string, unknown> | undefined;
  if (typeof tvm !== 'object' || tvm === null) missing.push('tvm');
  else for (const name of TVM_METHODS) if (typeof tvm[name] !== 'function') missing.push(`tvm.${name}`);
  if (typeof (record.vm as { getFunction?: unknown } | undefined)?.getFunction !== 'function') missing.push('vm.getFunction');
  if (typeof (record.device as { sync?: unknown } | undefined)?.sync !== 'function') missing.push('device.sync');
  if (!('params' in record)) missing.push('params');
  return missing;
}

/** A function that outlives the scope it was looked up in (as the pipeline keeps its own), or undefined. */
function lookup(fields: PipelineFields, find: () => PackedFunc): PackedFunc | undefined {
  fields.tvm.beginScope();
  try {
    return fields.tvm.detachFromCurrentScope(find());
  } catch {
    return undefined;
  } finally {
    fields.tvm.endScope();
  }
}

interface BatchPrefill {
  run: PackedFunc;
  /** Positions one call may ask for (the library's max_batch_size). */
  maxPositions: number;
}

/** `batch_prefill` and the positions it was compiled for, or why it cannot be used. */
function findBatchPrefill(fields: PipelineFields): BatchPrefill | { unavailable: string } {
  const run = lookup(fields, () => fields.vm.getFunction('batch_prefill'));
  if (!run) return { unavailable: 'the model library lacks batch_prefill' };
  let metadata: unknown;
  fields.tvm.beginScope();
  try {
    metadata = JSON.parse(String(fields.vm.getFunction('_metadata')()));
  } catch {
    metadata = undefined;
  } finally {
    fields.tvm.endScope();
  }
  const maxBatch = (metadata as { max_batch_size?: unknown } | undefined)?.max_batch_size;
  if (typeof maxBatch !== 'number' || !Number.isInteger(maxBatch) || maxBatch < 2) {
    return { unavailable: `the model library's max_batch_size is ${typeof maxBatch === 'number' ? maxBatch : 'not stated'}: batch_prefill can return too few positions` };
  }
  return { run, maxPositions: maxBatch };
}

/** The low-level calls, each validated before it reaches the runtime (a failed TVM check can abort it). */
export class PipelineAccess {
  readonly #fields: PipelineFields;
  readonly #popn: PackedFunc;
  readonly #sequenceLength: PackedFunc | undefined;
  readonly #batchPrefill: BatchPrefill | { unavailable: string };

  constructor(fields: PipelineFields, popn: PackedFunc, sequenceLength: PackedFunc | undefined, batchPrefill: BatchPrefill | { unavailable: string }) {
    this.#fields = fields;
    this.#popn = popn;
    this.#sequenceLength = sequenceLength;
    this.#batchPrefill = batchPrefill;
  }

  /** Tokens in the KV cache, by WebLLM's count. */
  get filled(): number {
    return this.#fields.filledKVCacheLength;
  }

  get contextWindow(): number {
    return this.#fields.contextWindowSize;
  }

  /** Why one-pass forwards are impossible, or undefined when `forwardWithLogits` works. */
  get onePassUnavailable(): string | undefined {
    return 'unavailable' in this.#batchPrefill ? this.#batchPrefill.unavailable : undefined;
  }

  /** Tokens one `forwardWithLogits` call takes (the library's prefill chunk). */
  get maxTokens(): number {
    return this.#fields.prefillChunkSize;
  }

  /** Positions one `forwardWithLogits` call may ask for (the library's max_batch_size). */
  get maxPositions(): number {
    const batch = this.#batchPrefill;
    return 'unavailable' in batch ? 0 : batch.maxPositions;
  }

  /** Drops the last `count` tokens of the KV cache; at least one token always stays. */
  popTokens(count: number): void {
    const fields = this.#fields;
    if (!Number.isInteger(count) || count < 1 || count >= fields.filledKVCacheLength) {
      throw new Error(`popTokens(${count}) with ${fields.filledKVCacheLength} tokens cached: at least one must stay`);
    }
    const expected = fields.filledKVCacheLength - count;
    fields.tvm.beginScope();
    try {
      this.#popn(fields.kvCache, fields.tvm.scalar(0, 'int64'), fields.tvm.scalar(count, 'int32'));
      fields.filledKVCacheLength = expected;
      const actual = this.#sequenceLength ? Number(this.#sequenceLength(fields.kvCache, fields.tvm.scalar(0, 'int64'))) : expected;
      if (actual !== expected) throw new Error(`the KV cache holds ${actual} tokens after popping ${count}, expected ${expected}`);
    } finally {
      fields.tvm.endScope();
    }
  }

  /**
   * Runs `ids` through the model on top of the KV cache (which grows by ids.length) and returns
   * the float32 logits rows at `positions` (indices into `ids`), copied to the CPU.
   */
  async forwardWithLogits(ids: readonly number[], positions: readonly number[]): Promise<Float32Array[]> {
    const fields = this.#fields;
    const batch = this.#batchPrefill;
    if ('unavailable' in batch) throw new Error(batch.unavailable);
    if (ids.length === 0 || ids.length > fields.prefillChunkSize) throw new Error(`forwardWithLogits: ${ids.length} tokens, the prefill chunk is ${fields.prefillChunkSize}`);
    if (positions.length === 0 || positions.length > batch.maxPositions) throw new Error(`forwardWithLogits: ${positions.length} positions, the library allows ${batch.maxPositions}`);
    if (positions.some((p) => !Number.isInteger(p) || p < 0 || p >= ids.length)) throw new Error(`forwardWithLogits: a position outside 0..${ids.length - 1}`);
    if (fields.filledKVCacheLength + ids.length > fields.contextWindowSize) {
      throw new Error(`forwardWithLogits: ${fields.filledKVCacheLength + ids.length} tokens exceed the KV cache of ${fields.contextWindowSize}`);
    }
    const { tvm } = fields;
    tvm.beginScope();
    try {
      const input = tvm.empty([ids.length], 'int32', fields.device).copyFrom(Int32Array.from(ids));
      const embedded = fields.embed(input, fields.params);
      const embeddings = embedded.view([1, ...embedded.shape]);
      const logitPositions = tvm.empty([positions.length], 'int32', fields.device).copyFrom(Int32Array.from(positions));
      fields.fKVCacheBeginForward(fields.kvCache, tvm.makeShapeTuple([0]), tvm.makeShapeTuple([ids.length]));
      const output = batch.run(embeddings, logitPositions, fields.kvCache, fields.params) as { get(index: number): TvmTensor };
      fields.fKVCacheEndForward(fields.kvCache);
      fields.filledKVCacheLength += ids.length;
      const logits = output.get(0);
      const [, rows, vocab] = logits.shape as [number, number, number];
      if (rows !== positions.length) throw new Error(`batch_prefill returned ${rows} rows for ${positions.length} positions`);
      const onCpu = tvm.empty([...logits.shape], 'float32', tvm.cpu()).copyFrom(logits);
      await fields.device.sync();
      const array = onCpu.toArray();
      const data = array instanceof Float32Array ? array : Float32Array.from(array);
      return positions.map((_, row) => data.subarray(row * vocab, (row + 1) * vocab));
    } finally {
      tvm.endScope();
    }
  }
}
