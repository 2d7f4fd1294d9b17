/**
 * Transformers.js engine (browser: WebGPU or WASM; Node: CPU, CUDA where present).
 *
 * Owns: loading a causal LM + tokenizer (local folder in Node, the page's origin or the hub in
 * the browser), streaming seeded generation with top-p, and teacher-forced scoring. Scoring runs
 * the shared prompt once (KV cache), then each continuation in one forward pass over all its
 * positions; `promptCache: false` scores every continuation as a full sequence from scratch
 * (the reward-bench way), kept as the reference the cached path must equal.
 *
 * Failures handled here: missing model files (clear message naming the folder), WebGPU absent
 * (probed before loading, since one failed session creation poisons later loads in a page),
 * context overflow (checked before running), cancellation (between tokens).
 */
import {
  AutoModelForCausalLM,
  AutoTokenizer,
  DynamicCache,
  LogitsProcessor,
  StoppingCriteria,
  Tensor,
  env,
  random,
  type PreTrainedModel,
  type PreTrainedTokenizer,
  type ProgressInfo,
} from '@huggingface/transformers';
import { z } from 'zod';
import { throwIfCancelled, type CancelSignal } from '../core/cancel.ts';
import type { ChatMessage } from '../core/chat.ts';
import { templateFromInfo, zephyrTemplate, type ChatTemplate } from '../core/chatTemplate.ts';
import type {
  ChatTemplateInfo,
  Engine,
  EngineInfo,
  GenerateOptionsInput,
  GenerateResult,
  LoadProgress,
  ProgressListener,
  RankedLogprob,
  ScoreRequest,
  ScoreResult,
  TokenListener,
} from '../core/engine.ts';
import { assertScoreFits, GenerateOptions, ScoreRequest as ScoreRequestSchema } from '../core/engine.ts';
import { AppError, assertFitsContext } from '../core/errors.ts';
import { keepNucleus, logSoftmaxAt } from '../core/logits.ts';

export const TransformersDevice = z.enum(['cpu', 'cuda', 'webgpu', 'wasm']);
export type TransformersDevice = z.infer<typeof TransformersDevice>;

export const TransformersEngineOptions = z.object({
  /** Node: an absolute folder path. Browser: a model id resolved under `localModelPath`, or a hub id. */
  model: z.string().min(1),
  device: TransformersDevice,
  dtype: z.enum(['fp32', 'fp16', 'q8', 'q4', 'q4f16']).default('fp32'),
  /** Browser only: base URL the page serves models from (e.g. `./models/`). */
  localModelPath: z.string().optional(),
  /** Allow downloads from the model hub (off by default: nothing is fetched unless asked). */
  allowRemote: z.boolean().default(false),
  /** Browser only: where ONNX Runtime's wasm files are served from (never a CDN). */
  wasmPaths: z.string().optional(),
  /** Keep downloaded files in the browser's Cache API. */
  useBrowserCache: z.boolean().default(true),
  /** Score the shared prompt once and reuse its KV cache (default); false = every continuation from scratch. */
  promptCache: z.boolean().default(true),
});
export type TransformersEngineOptions = z.input<typeof TransformersEngineOptions>;

type ModelOutputs = Record<string, Tensor>;
type CausalLM = PreTrainedModel & {
  forward(inputs: Record<string, unknown>): Promise<ModelOutputs>;
  generate(inputs: Record<string, unknown>): Promise<Tensor>;
  sessions: Record<string, { inputNames: string[] }>;
  config: Record<string, unknown>;
};

export async function createTransformersEngine(
  input: TransformersEngineOptions,
  onProgress: ProgressListener = () => {},
): Promise<Engine> {
  const options = TransformersEngineOptions.parse(input);
  configureEnvironment(options);
  if (options.device === 'webgpu') await assertWebGpu();

  const progress_callback = (info: ProgressInfo) => {
    const mapped = mapProgress(info);
    if (mapped) onProgress(mapped);
  };
  let tokenizer: PreTrainedTokenizer;
  let model: CausalLM;
  try {
    tokenizer = await AutoTokenizer.from_pretrained(options.model, { progress_callback });
    model = (await AutoModelForCausalLM.from_pretrained(options.model, {
      device: options.device,
      dtype: options.dtype,
      progress_callback,
    })) as unknown as CausalLM;
  } catch (error) {
    throw loadError(options.model, error);
  }
  onProgress({ stage: 'init', text: 'Model loaded' });
  if (inBrowser()) yieldBetweenForwards(model);
  const engine = new TransformersEngine(model, tokenizer, options);
  onProgress({ stage: 'warmup', text: 'Warming up' });
  await engine.score({ promptIds: [engine.info.bosTokenId], continuations: [[engine.info.eosTokenId]] });
  onProgress({ stage: 'ready', fraction: 1, text: 'Ready' });
  return engine;
}

class TransformersEngine implements Engine {
  readonly info: EngineInfo;
  readonly #template: ChatTemplate;
  readonly #keepsLogits: boolean;
  readonly #vocabSize: number;
  #forwardTokens = 0;

  constructor(
    private readonly model: CausalLM,
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly options: z.output<typeof TransformersEngineOptions>,
  ) {
    const config = model.config;
    const templateInfo = chatTemplateInfo(tokenizer);
    this.#template = templateFromInfo(templateInfo);
    this.#keepsLogits = model.sessions.model?.inputNames.includes('num_logits_to_keep') ?? false;
    this.#vocabSize = typeof config.vocab_size === 'number' ? config.vocab_size : Number.POSITIVE_INFINITY;
    this.info = {
      backend: 'transformers',
      model: options.model,
      device: options.device,
      dtype: options.dtype,
      contextWindow: Number(config.max_position_embeddings ?? 2048),
      bosTokenId: Number(config.bos_token_id ?? 1),
      eosTokenId: firstNumber(config.eos_token_id) ?? 2,
      chatTemplate: templateInfo,
      scoringMethod: options.promptCache ? 'one-pass-cached-prompt' : 'full-sequence',
    };
  }

  async tokenize(text: string): Promise<number[]> {
    return this.tokenizer.encode(text, { add_special_tokens: false });
  }

  async generate(
    messages: readonly ChatMessage[],
    options: GenerateOptionsInput,
    onToken: (text: string) => void = () => {},
    signal?: CancelSignal,
  ): Promise<GenerateResult> {
    throwIfCancelled(signal);
    const prompt = this.#template.render(messages, { addGenerationPrompt: true });
    return this.#generate(await this.#withBos(prompt), prompt, options, onToken, signal);
  }

  async generateFromIds(
    promptIds: readonly number[],
    options: GenerateOptionsInput,
    onToken: (text: string) => void = () => {},
    signal?: CancelSignal,
  ): Promise<GenerateResult> {
    throwIfCancelled(signal);
    if (promptIds.length === 0) throw new AppError('invalid-input', 'Generation needs at least one prompt token.');
    this.#assertInVocabulary([promptIds]);
    const prompt = this.tokenizer.decode([...promptIds], { skip_special_tokens: false });
    return this.#generate([...promptIds], prompt, options, onToken, signal);
  }

  async #generate(
    promptIds: number[],
    prompt: string,
    optionsInput: GenerateOptionsInput,
    onToken: (text: string) => void,
    signal: CancelSignal | undefined,
  ): Promise<GenerateResult> {
    const options = GenerateOptions.parse(optionsInput);
    assertFitsContext('The prompt', promptIds.length + 1, this.options.model, this.info.contextWindow);
    const maxNewTokens = Math.min(options.maxNewTokens, this.info.contextWindow - promptIds.length);

    const streamer = new DeltaStreamer(this.tokenizer, promptIds.length, onToken);
    const stopping = new CancelCriteria(signal);
    if (options.seed !== undefined) random.seed(options.seed);
    const sampling = options.temperature > 0;
    const input_ids = new Tensor('int64', BigInt64Array.from(promptIds.map(BigInt)), [1, promptIds.length]);
    const output = await this.model.generate({
      input_ids,
      attention_mask: new Tensor('int64', new BigInt64Array(promptIds.length).fill(1n), [1, promptIds.length]),
      max_new_tokens: maxNewTokens,
      do_sample: sampling,
      // Top-k and top-p both run in our processor, in Hugging Face's order (top-k, then top-p over
      // what is left); the library's sampler would apply top-k after our top-p.
      ...(sampling ? { temperature: options.temperature, top_k: 0 } : {}),
      logits_processor: sampling && (options.topP < 1 || options.topK > 0) ? [new TopKTopPLogitsProcessor(options.topK, options.topP)] : [],
      eos_token_id: this.info.eosTokenId,
      stopping_criteria: [stopping],
      streamer,
    });
    const tokenIds = Array.from(output.data as BigInt64Array, Number).slice(promptIds.length);
    output.dispose();
    streamer.flush();
    const finishReason = signal?.aborted ? 'aborted' : tokenIds.at(-1) === this.info.eosTokenId ? 'eos' : 'length';
    return {
      text: this.tokenizer.decode(tokenIds, { skip_special_tokens: true }),
      tokenIds,
      promptTokenCount: promptIds.length,
      finishReason,
      prompt,
    };
  }

  async score(requestInput: ScoreRequest, signal?: CancelSignal): Promise<ScoreResult> {
    const before = this.#forwardTokens;
    const logprobs = await this.#scoreEach(requestInput, logSoftmaxAt, signal);
    return { logprobs, method: this.info.scoringMethod, forwardTokens: this.#forwardTokens - before };
  }

  async scoreRanked(requestInput: ScoreRequest, topK: number, signal?: CancelSignal): Promise<RankedLogprob[][]> {
    if (!Number.isInteger(topK) || topK < 0) throw new AppError('invalid-input', `topK must be a non-negative integer, got ${topK}.`);
    return this.#scoreEach(requestInput, (row, token) => rankedLogprobAt(row, token, topK), signal);
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }

  /** Teacher-forced scoring; `read` turns the logits row that predicts a token into the result for that token. */
  async #scoreEach<T>(requestInput: ScoreRequest, read: (row: Float32Array, token: number) => T, signal?: CancelSignal): Promise<T[][]> {
    const request = ScoreRequestSchema.parse(requestInput);
    assertScoreFits(request, this.options.model, this.info.contextWindow);
    this.#assertInVocabulary([request.promptIds, ...request.continuations]);
    return this.options.promptCache ? this.#scoreWithPromptCache(request, read, signal) : this.#scoreFromScratch(request, read, signal);
  }

  /** An id past the embedding table would reach ONNX Runtime, whose error names no token. */
  #assertInVocabulary(sequences: readonly (readonly number[])[]): void {
    const vocabSize = this.#vocabSize;
    for (const ids of sequences) {
      const outside = ids.find((id) => id < 0 || id >= vocabSize);
      if (outside !== undefined) throw new AppError('invalid-input', `Token id ${outside} is outside the vocabulary of ${this.options.model} (ids 0–${vocabSize - 1}).`);
    }
  }

  /**
   * Prompt once (only its last logits row is kept), then each continuation over the cache. The
   * next continuation's forward is started before this one's rows are read, so ONNX Runtime's
   * threads and the JavaScript reduction overlap.
   */
  async #scoreWithPromptCache<T>(request: ScoreRequest, read: (row: Float32Array, token: number) => T, signal?: CancelSignal): Promise<T[][]> {
    const promptLength = request.promptIds.length;
    const promptOut = await this.#forward(request.promptIds, undefined, 1);
    const lastPromptRow = logitsRows(promptOut.logits, 1)[0] as Float32Array;
    const cache = new DynamicCache(presentAsPast(promptOut));
    // The last token is never fed: nothing is predicted from it.
    const start = (continuation: number[]) =>
      continuation.length > 1 ? this.#forward(continuation.slice(0, -1), cache, 0, promptLength) : Promise.resolve(undefined);
    try {
      const results: T[][] = [];
      let pending = start(request.continuations[0] as number[]);
      for (const [index, continuation] of request.continuations.entries()) {
        const out = await pending;
        throwIfCancelled(signal);
        const next = request.continuations[index + 1];
        pending = next ? start(next) : Promise.resolve(undefined);
        const rows = out ? logitsRows(out.logits, continuation.length - 1) : [];
        results.push(continuation.map((token, t) => read(t === 0 ? lastPromptRow : (rows[t - 1] as Float32Array), token)));
        if (out) disposeAll(out);
      }
      return results;
    } finally {
      promptOut.logits?.dispose();
      await cache.dispose();
    }
  }

  /** Reference path: prompt + continuation as one sequence, logits for every position. */
  async #scoreFromScratch<T>(request: ScoreRequest, read: (row: Float32Array, token: number) => T, signal?: CancelSignal): Promise<T[][]> {
    const results: T[][] = [];
    const promptLength = request.promptIds.length;
    for (const continuation of request.continuations) {
      throwIfCancelled(signal);
      const sequence = [...request.promptIds, ...continuation];
      const out = await this.#forward(sequence, undefined, 0);
      const rows = logitsRows(out.logits, sequence.length);
      results.push(continuation.map((token, t) => read(rows[promptLength - 1 + t] as Float32Array, token)));
      disposeAll(out);
    }
    return results;
  }

  async #forward(ids: readonly number[], cache: DynamicCache | undefined, keepLogits: number, pastLength = 0): Promise<ModelOutputs> {
    const inputs: Record<string, unknown> = {
      input_ids: new Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]),
      attention_mask: new Tensor('int64', new BigInt64Array(pastLength + ids.length).fill(1n), [1, pastLength + ids.length]),
    };
    if (cache) inputs.past_key_values = cache;
    if (this.#keepsLogits) inputs.num_logits_to_keep = new Tensor('int64', BigInt64Array.from([BigInt(keepLogits)]), []);
    this.#forwardTokens += ids.length;
    return this.model.forward(inputs);
  }

  async #withBos(text: string): Promise<number[]> {
    const ids = await this.tokenize(text);
    return ids[0] === this.info.bosTokenId ? ids : [this.info.bosTokenId, ...ids];
  }

}

/** Logits rows of the last `count` positions (the graph may have computed only those). */
function logitsRows(logits: Tensor | undefined, count: number): Float32Array[] {
  if (!logits) throw new AppError('internal', 'The model returned no logits.');
  const [, positions, vocab] = logits.dims as [number, number, number];
  const data = logits.data as Float32Array;
  const rows: Float32Array[] = [];
  for (let p = positions - count; p < positions; p++) rows.push(data.subarray(p * vocab, (p + 1) * vocab));
  return rows;
}


/**
 * log softmax(row)[token] with the token's rank (how many entries are at least as large, as vLLM
 * counts) and the `topK` largest entries, largest first, ties to the lower id.
 */
export function rankedLogprobAt(row: Float32Array, token: number, topK: number): RankedLogprob {
  const length = row.length;
  let max = -Infinity;
  for (let i = 0; i < length; i++) if ((row[i] as number) > max) max = row[i] as number;
  let sum = 0;
  const target = row[token] as number;
  let rank = 0;
  // Kept sorted, largest first; a new entry only enters when it beats the smallest kept.
  const top: number[] = [];
  for (let i = 0; i < length; i++) {
    const value = row[i] as number;
    sum += Math.exp(value - max);
    if (value >= target) rank++;
    if (topK > 0 && (top.length < topK || value > (row[top[top.length - 1] as number] as number))) {
      let at = top.length;
      while (at > 0 && value > (row[top[at - 1] as number] as number)) at--;
      top.splice(at, 0, i);
      if (top.length > topK) top.pop();
    }
  }
  // Computed as logSoftmaxAt does, so both give bit-identical log-probs.
  const logSum = Math.log(sum);
  return { logprob: target - max - logSum, rank, top: top.map((tokenId) => ({ tokenId, logprob: (row[tokenId] as number) - max - logSum })) };
}

function presentAsPast(outputs: ModelOutputs): Record<string, Tensor> {
  const entries = Object.entries(outputs).filter(([name]) => name.startsWith('present'));
  return Object.fromEntries(entries.map(([name, tensor]) => [name.replace('present', 'past_key_values'), tensor]));
}

function disposeAll(outputs: ModelOutputs): void {
  for (const tensor of Object.values(outputs)) tensor.dispose();
}

function firstNumber(value: unknown): number | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'number' ? first : undefined;
}

function chatTemplateInfo(tokenizer: PreTrainedTokenizer): ChatTemplateInfo {
  const source = (tokenizer as unknown as { chat_template?: unknown }).chat_template;
  if (typeof source !== 'string') return { name: zephyrTemplate.name };
  const special = tokenizer as unknown as { bos_token?: string | null; eos_token?: string | null };
  return { name: 'model', source, bosToken: special.bos_token ?? undefined, eosToken: special.eos_token ?? undefined };
}

function inBrowser(): boolean {
  return typeof window !== 'undefined' || typeof (globalThis as { importScripts?: unknown }).importScripts === 'function';
}

/** How long model work may hold the browser thread before pending messages (a cancel) get a turn. */
const YIELD_EVERY_MS = 20;

/**
 * On WASM, ONNX Runtime computes on the worker's own thread and generate() never gives the event
 * loop a turn, so a cancel message would wait for the whole generation. Yielding before a forward
 * at most every YIELD_EVERY_MS (a MessageChannel round trip, not a clamped timer) lets it through
 * at no measurable cost; yielding before every step would cost much more.
 */
function yieldBetweenForwards(model: CausalLM): void {
  const forward = model.forward.bind(model);
  let lastYield = performance.now();
  model.forward = async (inputs) => {
    if (performance.now() - lastYield > YIELD_EVERY_MS) {
      await new Promise<void>((resolve) => {
        const channel = new MessageChannel();
        channel.port1.onmessage = () => resolve();
        channel.port2.postMessage(null);
      });
      lastYield = performance.now();
    }
    return forward(inputs);
  };
}

function configureEnvironment(options: z.output<typeof TransformersEngineOptions>): void {
  env.allowRemoteModels = options.allowRemote;
  env.allowLocalModels = true;
  if (inBrowser()) {
    if (options.localModelPath) env.localModelPath = options.localModelPath;
    env.useBrowserCache = options.useBrowserCache;
    const wasm = env.backends.onnx.wasm;
    if (wasm && options.wasmPaths) wasm.wasmPaths = options.wasmPaths;
  } else {
    // Local folders are read in place; a stale file-system cache entry must never win.
    env.useFSCache = false;
  }
}

async function assertWebGpu(): Promise<void> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator?.gpu;
  const adapter = await gpu?.requestAdapter().catch(() => null);
  if (!adapter) {
    throw new AppError('no-webgpu', 'WebGPU is unavailable here: use Chrome or Edge 113+ with a supported GPU, or choose the WASM device.');
  }
}

function loadError(model: string, error: unknown): AppError {
  const message = error instanceof Error ? error.message : String(error);
  if (/not found|could not locate|ENOENT|404|local_files_only/i.test(message)) {
    return new AppError(
      'model-files-missing',
      `Model files not found for "${model}": expected config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx (${message}).`,
    );
  }
  return new AppError('internal', `Loading "${model}" failed: ${message}`);
}

function mapProgress(info: ProgressInfo): LoadProgress | undefined {
  switch (info.status) {
    case 'progress':
      return {
        stage: 'fetch',
        file: info.file,
        loadedBytes: info.loaded,
        totalBytes: info.total,
        fraction: Math.min(1, info.progress / 100),
        text: `Fetching ${info.file}`,
      };
    case 'initiate':
      return { stage: 'fetch', file: info.file, text: `Fetching ${info.file}` };
    case 'done':
      return { stage: 'fetch', file: info.file, fraction: 1, text: `Fetched ${info.file}` };
    default:
      return undefined;
  }
}

/** Emits decoded text deltas as tokens arrive; holds back an incomplete UTF-8 sequence. */
class DeltaStreamer {
  #ids: number[] = [];
  #emitted = '';
  #seenPrompt = false;

  constructor(
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly promptLength: number,
    private readonly onText: TokenListener,
  ) {}

  put(ids: bigint[][]): void {
    // The first call carries the prompt.
    if (!this.#seenPrompt) {
      this.#seenPrompt = true;
      if ((ids[0]?.length ?? 0) === this.promptLength) return;
    }
    for (const id of ids[0] ?? []) this.#ids.push(Number(id));
    this.#emit(false);
  }

  end(): void {
    this.#emit(true);
  }

  flush(): void {
    this.#emit(true);
  }

  #emit(final: boolean): void {
    const text = this.tokenizer.decode(this.#ids, { skip_special_tokens: true });
    if (!final && text.endsWith('\uFFFD')) return;
    if (text.length > this.#emitted.length && text.startsWith(this.#emitted)) {
      this.onText(text.slice(this.#emitted.length), this.#ids.length);
      this.#emitted = text;
    }
  }
}

/** Stops generation at the next token once the signal is aborted. */
class CancelCriteria extends StoppingCriteria {
  constructor(private readonly signal: CancelSignal | undefined) {
    super();
  }

  override _call(inputIds: number[][]): boolean[] {
    return inputIds.map(() => this.signal?.aborted ?? false);
  }
}

/**
 * Top-k, then nucleus (top-p) sampling over the tokens top-k kept, as Hugging Face's warpers run
 * after the temperature (Transformers.js ignores top_p and applies top_k after any processor).
 */
export class TopKTopPLogitsProcessor extends LogitsProcessor {
  constructor(
    private readonly topK: number,
    private readonly topP: number,
  ) {
    super();
  }

  override _call(_inputIds: bigint[][], logits: Tensor): Tensor {
    const data = logits.data as Float32Array;
    const vocab = logits.dims.at(-1) as number;
    for (let offset = 0; offset < data.length; offset += vocab) {
      keepNucleus(data.subarray(offset, offset + vocab), this.topP, this.topK);
    }
    return logits;
  }
}
