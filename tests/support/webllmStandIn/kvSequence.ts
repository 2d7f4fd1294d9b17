/**
 * One KV-cache sequence of the tiny Llama: the ONNX session's past keys and values, grown by
 * forwards and shrunk by pops, as WebLLM's paged KV cache holds sequence 0. `length` is what the
 * runtime reports: it grows as soon as a forward is announced and shrinks at a pop, while the
 * forwards themselves run in order on an internal queue (GPU work is asynchronous).
 */

export interface TinyDims {
  vocab: number;
  hidden: number;
  layers: number;
  kvHeads: number;
  headDim: number;
}

/** The dimensions the stand-in needs, from a Hugging Face config.json. */
export function tinyDims(config: Record<string, unknown>): TinyDims {
  const hidden = Number(config.hidden_size);
  return {
    vocab: Number(config.vocab_size),
    hidden,
    layers: Number(config.num_hidden_layers),
    kvHeads: Number(config.num_key_value_heads),
    headDim: Number(config.head_dim ?? hidden / Number(config.num_attention_heads)),
  };
}

/** An onnxruntime tensor (node or web), as far as the stand-in reads it. */
export interface OrtTensor {
  readonly dims: readonly number[];
  readonly data: unknown;
}

/** The parts of onnxruntime (node or web) the stand-in uses. */
export interface OrtLike {
  tensor(type: 'int64', data: BigInt64Array, dims: number[]): OrtTensor;
  tensor(type: 'float32', data: Float32Array, dims: number[]): OrtTensor;
}

export interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
}

type Feeds = Record<string, OrtTensor>;

export class KvSequence {
  /** Tokens in the cache, as the runtime reports them. */
  length = 0;
  #past: Feeds;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ort: OrtLike,
    private readonly session: OrtSession,
    private readonly dims: TinyDims,
    readonly prefillChunkSize: number,
    /** max_total_sequence_length: the context window the cache was created for. */
    readonly capacity: number,
  ) {
    this.#past = this.#emptyPast();
  }

  get vocab(): number {
    return this.dims.vocab;
  }

  get hidden(): number {
    return this.dims.hidden;
  }

  /** Announces `count` tokens (TVM lengthens the sequence at begin_forward). */
  reserve(count: number): void {
    if (this.length + count > this.capacity) {
      throw new Error(`stand-in runtime: the KV cache holds ${this.capacity} tokens, ${this.length + count} requested`);
    }
    this.length += count;
  }

  /** Runs reserved `ids` on the cache; resolves to the logits rows of the last `keep` positions. */
  run(ids: readonly number[], keep: number): Promise<Float32Array[]> {
    const work = this.#queue.then(() => this.#forward(ids, keep));
    this.#queue = work.catch(() => {});
    return work;
  }

  /** Reserve and run: the path WebLLM's own prefill and decode take. */
  forward(ids: readonly number[], keep: number): Promise<Float32Array[]> {
    this.reserve(ids.length);
    return this.run(ids, keep);
  }

  pop(count: number): void {
    this.popStale(count);
    const keep = this.length;
    this.#queue = this.#queue.then(() => this.#slicePast(keep));
  }

  /** Shrinks the reported length only: the popped keys and values stay (a broken runtime, for tests). */
  popStale(count: number): void {
    if (!Number.isInteger(count) || count < 1 || count >= this.length) {
      throw new Error(`stand-in runtime: cannot pop ${count} of ${this.length} tokens (a sequence is never popped empty)`);
    }
    this.length -= count;
  }

  clear(): void {
    this.length = 0;
    this.#queue = this.#queue.then(() => {
      this.#past = this.#emptyPast();
    });
  }

  get #pastLength(): number {
    return (Object.values(this.#past)[0] as OrtTensor).dims[2] as number;
  }

  async #forward(ids: readonly number[], keep: number): Promise<Float32Array[]> {
    const past = this.#pastLength;
    const int64 = (values: readonly number[]) => this.ort.tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), [1, values.length]);
    const outputs = await this.session.run({
      input_ids: int64(ids),
      attention_mask: int64(Array.from({ length: past + ids.length }, () => 1)),
      position_ids: int64(ids.map((_, i) => past + i)),
      num_logits_to_keep: this.ort.tensor('int64', BigInt64Array.of(BigInt(keep)), []),
      ...this.#past,
    });
    const next: Feeds = {};
    for (const [name, tensor] of Object.entries(outputs)) {
      if (name.startsWith('present.')) next[name.replace('present', 'past_key_values')] = tensor;
    }
    this.#past = next;
    const data = (outputs.logits as OrtTensor).data as Float32Array;
    const rows: Float32Array[] = [];
    for (let r = 0; r < keep; r++) rows.push(Float32Array.from(data.subarray(r * this.dims.vocab, (r + 1) * this.dims.vocab)));
    return rows;
  }

  #slicePast(length: number): void {
    const { kvHeads, headDim } = this.dims;
    const total = this.#pastLength;
    const next: Feeds = {};
    for (const [name, tensor] of Object.entries(this.#past)) {
      const source = tensor.data as Float32Array;
      const out = new Float32Array(kvHeads * length * headDim);
      for (let h = 0; h < kvHeads; h++) out.set(source.subarray(h * total * headDim, (h * total + length) * headDim), h * length * headDim);
      next[name] = this.ort.tensor('float32', out, [1, kvHeads, length, headDim]);
    }
    this.#past = next;
  }

  #emptyPast(): Feeds {
    const past: Feeds = {};
    for (let layer = 0; layer < this.dims.layers; layer++) {
      for (const kind of ['key', 'value']) {
        past[`past_key_values.${layer}.${kind}`] = this.ort.tensor('float32', new Float32Array(0), [1, this.dims.kvHeads, 0, this.dims.headDim]);
      }
    }
    return past;
  }
}
