/**
 * A stand-in for the WebLLM internals src/engines/webllm/pipelineInternals.ts uses: tvmjs's
 * scopes, tensors and packed functions, the model library's `batch_prefill` and `_metadata`, and
 * the runtime's KV-cache builtins, backed by the tiny Llama's ONNX session (through `KvSequence`).
 *
 * Faithful where a mistake would otherwise pass unnoticed:
 * - TVM objects can only be made inside a scope, and scopes must balance.
 * - GPU work is asynchronous: a CPU tensor copied from a GPU tensor can be read only after
 *   `device.sync()`, and reading a GPU tensor directly fails.
 * - `batch_prefill` refuses more tokens than the prefill chunk and more positions than
 *   max_batch_size (the real library's planned memory), and a position outside the call's tokens
 *   (the real one reads out of bounds); `fKVCacheBeginForward` must announce the same length.
 * - `kv_state_popn` takes typed scalars only (a bare JS number would arrive as a float) and
 *   refuses to empty the sequence (older TVM refuses to pop a whole block).
 */
import type { KvSequence } from './kvSequence.ts';

const CPU = { kind: 'cpu' } as const;
const GPU = { kind: 'gpu' } as const;
type Device = typeof CPU | typeof GPU;

export class StandInScalar {
  constructor(
    readonly value: number,
    readonly dtype: string,
  ) {}
}

export class StandInTensor {
  data: Float32Array | Int32Array;
  /** Resolves when asynchronous (GPU) work writing this tensor has finished. */
  ready: Promise<void> = Promise.resolve();
  settled = true;
  /** Embeddings carry the token ids they embed: the ONNX model takes ids, not vectors. */
  tokenIds: number[] | undefined;

  constructor(
    readonly shape: number[],
    readonly dtype: string,
    readonly device: Device,
    private readonly gpu: StandInGpu,
  ) {
    const size = shape.reduce((a, b) => a * b, 1);
    this.data = dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
  }

  copyFrom(source: StandInTensor | ArrayLike<number>): StandInTensor {
    if (source instanceof StandInTensor) {
      if (source.data.length !== this.data.length) throw new Error(`copyFrom: ${source.data.length} elements into ${this.data.length}`);
      this.settled = false;
      this.ready = this.gpu.track(
        source.ready.then(() => {
          this.data = this.dtype === 'int32' ? Int32Array.from(source.data) : Float32Array.from(source.data);
          this.settled = true;
        }),
      );
      return this;
    }
    if (source.length !== this.data.length) throw new Error(`data size and shape mismatch data.length${source.length} vs ${this.data.length}`);
    this.data = this.dtype === 'int32' ? Int32Array.from(source) : Float32Array.from(source);
    return this;
  }

  toArray(): Float32Array | Int32Array {
    if (this.device !== CPU) throw new Error('Can only sync copy CPU array, use cpu_arr.copyfrom(gpu_arr) then sync instead.');
    if (!this.settled) throw new Error('stand-in: read a CPU tensor before device.sync() finished the copy into it');
    return this.dtype === 'int32' ? Int32Array.from(this.data) : Float32Array.from(this.data);
  }

  view(shape: number[]): StandInTensor {
    if (shape.reduce((a, b) => a * b, 1) !== this.data.length) throw new Error(`view ${shape.join('x')} of ${this.shape.join('x')}`);
    const view = new StandInTensor(shape, this.dtype, this.device, this.gpu);
    view.data = this.data;
    view.ready = this.ready;
    view.settled = this.settled;
    view.tokenIds = this.tokenIds;
    return view;
  }
}

/** The GPU queue: `sync()` waits for every piece of asynchronous work issued so far. */
export class StandInGpu {
  #pending: Promise<unknown>[] = [];

  track(work: Promise<void>): Promise<void> {
    this.#pending.push(work);
    return work;
  }

  readonly device = {
    sync: async (): Promise<void> => {
      const pending = this.#pending;
      this.#pending = [];
      await Promise.all(pending);
    },
  };
}

type Packed = (...args: unknown[]) => unknown;

export class StandInTvm {
  #depth = 0;
  readonly #globals: Map<string, Packed>;

  constructor(
    private readonly gpu: StandInGpu,
    globals: Record<string, Packed>,
  ) {
    this.#globals = new Map(Object.entries(globals));
  }

  get scopeDepth(): number {
    return this.#depth;
  }

  beginScope(): void {
    this.#depth++;
  }

  endScope(): void {
    if (this.#depth === 0) throw new Error('tvm.endScope called when the stack is empty.');
    this.#depth--;
  }

  requireScope(): void {
    if (this.#depth === 0) throw new Error('Must call beginScope to use functions that returns TVM objects');
  }

  detachFromCurrentScope<T>(object: T): T {
    this.requireScope();
    return object;
  }

  empty(shape: number[], dtype: string, device: unknown): StandInTensor {
    this.requireScope();
    return new StandInTensor([...shape], dtype, device === CPU ? CPU : GPU, this.gpu);
  }

  cpu(): unknown {
    return CPU;
  }

  makeShapeTuple(shape: number[]): { tuple: number[] } {
    this.requireScope();
    return { tuple: [...shape] };
  }

  getGlobalFunc(name: string): Packed {
    this.requireScope();
    const found = this.#globals.get(name);
    if (!found) throw new Error(`Cannot find global function ${name}`);
    return found;
  }

  scalar(value: number, dtype: string): StandInScalar {
    return new StandInScalar(value, dtype);
  }
}

export interface LibraryOptions {
  /** The library exports batch_prefill (all inspected web libraries do). */
  batchPrefill: boolean;
  /** `_metadata`'s max_batch_size (80 in most libraries; 1 for phi-1_5; absent before v0_2_43). */
  maxBatchSize: number | undefined;
  /** The runtime registers vm.builtin.kv_state_popn. */
  popn: boolean;
  /** The runtime registers vm.builtin.attention_kv_cache_get_sequence_length (newer runtimes). */
  sequenceLength: boolean;
  /** Added to every one-pass logit (deterministic pattern), to show the run-time check failing. */
  perturbOnePass: number;
  /** A broken pop: the reported length shrinks but the popped keys and values stay in the cache. */
  stalePop: boolean;
  /** batch_prefill fails after this many calls (a GPU fault after the check passed). */
  failBatchPrefillAfter: number | undefined;
}

/** The pipeline's internal fields, as LLMChatPipeline 0.2.86 holds them, over one KV sequence. */
export function internalFields(sequence: KvSequence, library: LibraryOptions, counters: { forwardCalls: number; batchPrefillCalls: number }) {
  const gpu = new StandInGpu();
  const typed = (value: unknown, dtype: string, what: string): number => {
    if (!(value instanceof StandInScalar) || value.dtype !== dtype) throw new Error(`${what} must be a ${dtype} scalar (tvm.scalar): a bare number is passed as a float`);
    return value.value;
  };
  const tuple = (value: unknown): number[] => (value as { tuple: number[] }).tuple;
  let announced: number | undefined;
  const globals: Record<string, Packed> = {};
  if (library.popn) {
    globals['vm.builtin.kv_state_popn'] = (state, seq, count) => {
      if (state !== sequence) throw new Error('kv_state_popn: not this KV cache');
      if (typed(seq, 'int64', 'seq_id') !== 0) throw new Error('kv_state_popn: no such sequence');
      const n = typed(count, 'int32', 'n');
      if (library.stalePop) sequence.popStale(n);
      else sequence.pop(n);
    };
  }
  if (library.sequenceLength) {
    globals['vm.builtin.attention_kv_cache_get_sequence_length'] = (state, seq) => {
      if (state !== sequence) throw new Error('get_sequence_length: not this KV cache');
      typed(seq, 'int64', 'seq_id');
      return sequence.length;
    };
  }
  const tvm = new StandInTvm(gpu, globals);
  const functions: Record<string, Packed> = {
    _metadata: () => ({ toString: () => JSON.stringify({ prefill_chunk_size: sequence.prefillChunkSize, ...(library.maxBatchSize === undefined ? {} : { max_batch_size: library.maxBatchSize }) }) }),
  };
  if (library.batchPrefill) {
    functions.batch_prefill = (embeddings, positions, state, _params) => {
      tvm.requireScope();
      const input = embeddings as StandInTensor;
      const where = positions as StandInTensor;
      if (state !== sequence) throw new Error('batch_prefill: not this KV cache');
      const [batch, length] = input.shape as [number, number, number];
      if (batch !== 1 || input.tokenIds === undefined) throw new Error('batch_prefill: embeddings must be [1, n, H] from embed');
      if (length !== announced) throw new Error(`batch_prefill: ${length} tokens, but fKVCacheBeginForward announced ${announced}`);
      if (length > sequence.prefillChunkSize) throw new Error(`batch_prefill: ${length} tokens exceed the planned prefill chunk of ${sequence.prefillChunkSize}`);
      const wanted = Array.from(where.data);
      if (wanted.length > (library.maxBatchSize ?? 1)) throw new Error(`batch_prefill: ${wanted.length} positions exceed the planned max_batch_size of ${library.maxBatchSize}`);
      if (wanted.some((p) => p < 0 || p >= length)) throw new Error('batch_prefill: a logit position outside the call (the real library reads out of bounds)');
      if (library.failBatchPrefillAfter !== undefined && counters.batchPrefillCalls >= library.failBatchPrefillAfter) {
        throw new Error('stand-in: batch_prefill failed (simulated GPU fault)');
      }
      counters.forwardCalls++;
      counters.batchPrefillCalls++;
      const logits = new StandInTensor([1, wanted.length, sequence.vocab], 'float32', GPU, gpu);
      logits.settled = false;
      logits.ready = gpu.track(
        sequence.run(input.tokenIds, length).then((rows) => {
          const out = new Float32Array(wanted.length * sequence.vocab);
          wanted.forEach((position, r) => {
            const row = rows[position] as Float32Array;
            out.set(row, r * sequence.vocab);
            if (library.perturbOnePass !== 0) {
              const offset = r * sequence.vocab;
              for (let i = 0; i < sequence.vocab; i++) out[offset + i] = (out[offset + i] as number) + library.perturbOnePass * (((i * 7919 + position * 104729) % 1000) / 1000 - 0.5);
            }
          });
          logits.data = out;
          logits.settled = true;
        }),
      );
      return { get: (index: number) => (index === 0 ? logits : undefined) };
    };
  }
  return {
    tvm,
    vm: {
      getFunction: (name: string): Packed => {
        tvm.requireScope();
        const found = functions[name];
        if (!found) throw new Error(`Cannot find function ${name} in the VM module`);
        return found;
      },
    },
    device: gpu.device,
    params: { kind: 'params' },
    embed: (input: StandInTensor, _params: unknown): StandInTensor => {
      tvm.requireScope();
      if (input.dtype !== 'int32' || input.device !== GPU || input.shape.length !== 1) throw new Error('embed: expects int32 token ids [n] on the GPU');
      const out = new StandInTensor([input.shape[0] as number, sequence.hidden], 'float32', GPU, gpu);
      out.tokenIds = Array.from(input.data);
      return out;
    },
    kvCache: sequence,
    rnnState: undefined,
    fKVCacheBeginForward: (state: unknown, seqIds: unknown, lengths: unknown) => {
      if (state !== sequence) throw new Error('begin_forward: not this KV cache');
      if (tuple(seqIds).join() !== '0') throw new Error('begin_forward: only sequence 0 exists');
      announced = tuple(lengths)[0];
      // The sequence lengthens at once, as TVM's paged KV cache does.
      sequence.reserve(announced as number);
    },
    fKVCacheEndForward: (state: unknown) => {
      if (state !== sequence || announced === undefined) throw new Error('end_forward without begin_forward');
      announced = undefined;
    },
    prefillChunkSize: sequence.prefillChunkSize,
    contextWindowSize: sequence.capacity,
    slidingWindowSize: -1,
    kvStateKind: 'kv_cache',
    artifact: undefined,
  };
}
