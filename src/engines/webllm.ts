/**
 * WebLLM engine (browser only, WebGPU), hosted inside our own worker: an in-thread `MLCEngine`
 * from @mlc-ai/web-llm 0.2.86, driven only through its public engine surface.
 *
 * Owns: building WebLLM's AppConfig from a catalog entry (given, or looked up by model id in the
 * page's models.json as the worker protocol sends it; custom weight/library URLs validated and
 * made absolute; the catalog's context window and conversation overrides), preflight checks
 * before anything is downloaded (WebGPU adapter, shader-f16 for f16 builds, storage quota),
 * mapping WebLLM's init-progress texts onto LoadProgress, streaming generation with
 * cancellation, teacher-forced scoring, and the cache calls (`cacheStatus`, `deleteCache`).
 *
 * Scoring is forced decoding through a LogitProcessor registered for the model before `reload()`
 * (WebLLM reads the registry once, at load): per continuation `resetChat()` (clears the KV cache
 * and the stored conversation), arm the processor, one `forwardTokensAndSample(prompt)`, then one
 * single-token step per continuation token but the last, and `resetChat()` again so a later chat
 * request never reuses a KV cache full of scoring tokens. `processLogits` receives the raw logits
 * of the last fed position (before penalties, temperature and top-p) and records the log-softmax
 * at the target. The one-pass alternative (the model library's `batch_verify`, logits for every
 * position) is reachable only through private pipeline fields (`vm`, `kvCache`, `params`,
 * `filledKVCacheLength`), so it is not used: `ScoreResult.method` is always `forced-decode`.
 *
 * Tokenization: WebLLM exposes no tokenizer (web-llm#622 is unmerged). `tokenize` runs the model's
 * own tokenizer.json (from the weights folder, already in WebLLM's cache) through Transformers.js,
 * which reproduces Hugging Face tokenizers (what the paper's Python code used). Scoring receives
 * token ids, so it never depends on WebLLM's internal tokenizer; generation prompts are counted
 * piece by piece as WebLLM tokenizes them (`promptTokenIds`).
 *
 * Failures handled: every WebLLM error a user can meet is mapped by `classifyWebLlmError` to an
 * AppError whose message says what to do (no WebGPU, no shader-f16, out of memory, device lost,
 * download interrupted, quota exceeded, context window exceeded, library/weights mismatch). A
 * failed load unloads the engine so the GPU memory is freed and the worker can load another model.
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type {
  AppConfig,
  ChatCompletionChunk,
  ChatCompletionMessageParam,
  ChatCompletionRequestStreaming,
  ChatOptions,
  InitProgressReport,
  LogitProcessor,
  MLCEngine,
  MLCEngineConfig,
  ModelRecord,
} from '@mlc-ai/web-llm';
import { z } from 'zod';
import { throwIfCancelled, type CancelSignal } from '../core/cancel.ts';
import {
  WebLlmCatalogEntry,
  WebLlmConvConfig,
  absoluteUrl,
  findEntry,
  needsUrls,
  parseCatalog,
  weightsBaseUrl,
  withCustomUrls,
  type ModelCatalog,
} from '../core/catalog.ts';
import type { ChatMessage } from '../core/chat.ts';
import type {
  ChatTemplateInfo,
  Engine,
  EngineInfo,
  FinishReason,
  GenerateOptionsInput,
  GenerateResult,
  LoadProgress,
  ProgressListener,
  ScoreRequest,
  ScoreResult,
} from '../core/engine.ts';
import { assertScoreFits, GenerateOptions, ScoreRequest as ScoreRequestSchema } from '../core/engine.ts';
import { AppError, assertFitsContext } from '../core/errors.ts';

export const WebLlmCacheBackend = z.enum(['cache', 'indexeddb']);
export type WebLlmCacheBackend = z.infer<typeof WebLlmCacheBackend>;

export const WebLlmEngineOptions = z
  .object({
    /** The catalog entry to load. */
    entry: WebLlmCatalogEntry.optional(),
    /**
     * Or a catalog id / WebLLM model id, looked up in the catalog at `catalogUrl` (what the worker
     * protocol sends: the page and the worker share public/models.json).
     */
    modelId: z.string().min(1).optional(),
    /** The page's catalog; defaults to models.json beside the page (`baseUrl`). */
    catalogUrl: z.string().optional(),
    /** Weights folder and model library of a build the user hosts; they replace the entry's URLs (both or neither). */
    modelUrl: z.string().optional(),
    modelLibUrl: z.string().optional(),
    /**
     * Where WebLLM keeps downloaded files: the Cache API (WebLLM's best-tested backend) or
     * IndexedDB. WebLLM 0.2.83+ replaced the old `useIndexedDBCache` flag by `cacheBackend` and
     * ignores the flag silently, so this is what selects IndexedDB.
     */
    cacheBackend: WebLlmCacheBackend.default('cache'),
    /**
     * The page's URL, for resolving relative model URLs. Defaults to `document.baseURI`, or in a
     * worker to the origin (what WebLLM itself uses there): a worker of a page served under a
     * sub-path must pass the page URL.
     */
    baseUrl: z.string().optional(),
    /** Compare the download size with `navigator.storage.estimate()` before downloading. */
    checkStorageQuota: z.boolean().default(true),
    logLevel: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT']).default('WARN'),
  })
  .refine((options) => options.entry !== undefined || options.modelId !== undefined, { message: 'Give a catalog entry or a model id.' });
export type WebLlmEngineOptions = z.input<typeof WebLlmEngineOptions>;

/**
 * Exactly the part of WebLLM's engine this adapter calls. `MLCEngine` satisfies it (checked
 * below at compile time) and so does the test stand-in, so the same adapter code runs in both.
 */
export interface WebLlmEngineSurface {
  reload(modelId: string, chatOpts?: ChatOptions): Promise<void>;
  unload(): Promise<void>;
  resetChat(keepStats?: boolean, modelId?: string): Promise<void>;
  forwardTokensAndSample(inputIds: number[], isPrefill: boolean, modelId?: string): Promise<number>;
  interruptGenerate(): void | Promise<void>;
  chat: { completions: { create(request: ChatCompletionRequestStreaming): Promise<AsyncIterable<ChatCompletionChunk>> } };
}
// Compile-time proof that the real engine has this surface.
const _mlcEngineHasSurface = (engine: MLCEngine): WebLlmEngineSurface => engine;
void _mlcEngineHasSurface;

export type WebLlmCacheScope = 'webllm/config' | 'webllm/model';

/** WebLLM's cache utilities (module functions), plus removal of the one file this adapter caches itself. */
export interface WebLlmCacheFns {
  hasModelInCache(modelId: string, appConfig?: AppConfig): Promise<boolean>;
  deleteModelAllInfoInCache(modelId: string, appConfig?: AppConfig): Promise<void>;
  deleteFile(url: string, scope: WebLlmCacheScope): Promise<void>;
}

/** `navigator.gpu` as far as the preflight needs it. */
export interface GpuProbe {
  requestAdapter(): Promise<{ readonly features: { has(feature: string): boolean } } | null>;
}

/** `navigator.storage` as far as the quota check needs it. */
export interface StorageProbe {
  estimate(): Promise<{ quota?: number; usage?: number }>;
  persist?(): Promise<boolean>;
}

export interface WebLlmDeps {
  createEngine(config: MLCEngineConfig): WebLlmEngineSurface | Promise<WebLlmEngineSurface>;
  /** Reads the model catalog (only when the options name a model id instead of giving the entry). */
  loadCatalog(url: string): Promise<ModelCatalog>;
  cache: WebLlmCacheFns;
  /** Reads a model file (mlc-chat-config.json, tokenizer files) by URL, preferring WebLLM's cache. */
  fetchFile(url: string, scope: WebLlmCacheScope): Promise<Response>;
  gpu: GpuProbe | undefined;
  storage: StorageProbe | undefined;
}

const MB = 1024 * 1024;
/** Library, config and tokenizer files on top of the weights, for the quota check. */
const OVERHEAD_MB = 64;

// ---------------------------------------------------------------------------------------------
// AppConfig

/** The AppConfig WebLLM loads this entry with; the same object must go to the cache helpers. */
export function buildAppConfig(
  entry: WebLlmCatalogEntry,
  options: { cacheBackend?: WebLlmCacheBackend; baseUrl?: string } = {},
): AppConfig {
  if (entry.modelUrl === null || entry.modelLibUrl === null) throw missingUrlsError(entry);
  const baseUrl = options.baseUrl ?? defaultBaseUrl();
  const record: ModelRecord = {
    // Absolute: WebLLM calls `new URL()` on `model` before resolving it, and resolves a relative
    // `model_lib` against the origin only inside a worker.
    model: absoluteUrl(entry.modelUrl, baseUrl),
    model_id: entry.modelId,
    model_lib: absoluteUrl(entry.modelLibUrl, baseUrl),
    vram_required_MB: entry.vramMB,
    low_resource_required: entry.vramMB <= 2048,
    required_features: [...entry.requiredFeatures],
    overrides: { ...(entry.overrides as ChatOptions | undefined), context_window_size: entry.contextWindow },
  };
  return { model_list: [record], cacheBackend: options.cacheBackend ?? 'cache' };
}

function missingUrlsError(entry: WebLlmCatalogEntry): AppError {
  return new AppError(
    'invalid-input',
    `${entry.label} is not prebuilt: build it (README, "Zephyr-7B-beta on WebLLM"), host the weights folder and the .wasm library, then set modelUrl and modelLibUrl in public/models.json or under Model → Custom model URLs.`,
  );
}

function defaultBaseUrl(): string | undefined {
  const scope = globalThis as { document?: { baseURI?: string }; location?: { origin?: string } };
  if (scope.document?.baseURI) return scope.document.baseURI;
  return scope.location?.origin ? `${scope.location.origin}/` : undefined;
}

// ---------------------------------------------------------------------------------------------
// Progress

/**
 * One WebLLM init report as LoadProgress. WebLLM restarts `progress` at 0 in each phase, so the
 * phase comes from the text: "Fetching param cache[i/N]: X MB fetched. P% completed…" (first
 * download), "Loading model from cache[i/N]: X MB loaded…", "Loading GPU shader modules[i/N]…",
 * "Finish loading on WebGPU - <gpu>". Byte counts come from the MB figure (WebLLM rounds it up).
 */
export function mapInitProgress(report: InitProgressReport): LoadProgress {
  const fraction = Number.isFinite(report.progress) ? Math.min(1, Math.max(0, report.progress)) : undefined;
  const withFraction = fraction === undefined ? {} : { fraction };
  const fetched = /^Fetching param cache\[(\d+)\/(\d+)\]: (\d+)MB fetched/.exec(report.text);
  if (fetched) {
    const loadedBytes = Number(fetched[3]) * MB;
    const totalBytes = fraction !== undefined && fraction > 0 ? Math.round(loadedBytes / fraction) : undefined;
    return {
      stage: 'fetch',
      ...withFraction,
      loadedBytes,
      ...(totalBytes === undefined ? {} : { totalBytes }),
      text: `Downloading weights: ${fetched[3]} MB (shard ${fetched[1]} of ${fetched[2]})`,
    };
  }
  const loaded = /^Loading model from cache\[(\d+)\/(\d+)\]: (\d+)MB loaded/.exec(report.text);
  if (loaded) {
    return { stage: 'init', ...withFraction, loadedBytes: Number(loaded[3]) * MB, text: `Loading weights onto the GPU: ${loaded[3]} MB` };
  }
  const shaders = /^Loading GPU shader modules\[(\d+)\/(\d+)\]/.exec(report.text);
  if (shaders) return { stage: 'compile', ...withFraction, text: `Compiling GPU shaders (${shaders[1]} of ${shaders[2]})` };
  if (report.text.startsWith('Start to fetch params')) return { stage: 'fetch', fraction: 0, text: 'Checking the weights cache' };
  const finished = /^Finish loading on (.*)$/.exec(report.text);
  if (finished) return { stage: 'init', fraction: 1, text: `Loaded on ${finished[1]}` };
  return { stage: 'init', ...withFraction, text: report.text };
}

// ---------------------------------------------------------------------------------------------
// Errors

export interface ErrorContext {
  /** The model's label, for messages. */
  model?: string;
  vramMB?: number;
}

/**
 * Maps anything WebLLM throws to an AppError whose message says what to do. In-thread errors
 * are Error objects whose `name` is WebLLM's class name; through WebLLM's own worker proxy they
 * arrive as `"<Name>: <message>"` strings. Both forms are read.
 */
export function classifyWebLlmError(error: unknown, context: ErrorContext = {}): AppError {
  if (error instanceof AppError) return error;
  const { name, text } = describeError(error);
  const model = context.model ?? 'the model';
  const detail = text.length > 240 ? `${text.slice(0, 240)}…` : text;

  if (name === 'QuotaExceededError' || /QuotaExceeded|quota/i.test(text)) {
    return new AppError(
      'quota-exceeded',
      `The browser refused to store ${model}: its storage quota is used up (${detail}). Delete cached models you no longer need, leave private/incognito mode (it has a much smaller quota), or choose a smaller model.`,
    );
  }
  if (name === 'ContextWindowSizeExceededError') {
    const numbers = /prompt tokens: (\d+); context window size: (\d+)/.exec(text);
    const size = numbers ? ` (${numbers[1]} prompt tokens, window ${numbers[2]})` : '';
    return new AppError(
      'context-exceeded',
      `The prompt is longer than the context window of ${model}${size}: shorten the prefix or the question, or choose a model with a larger window.`,
    );
  }
  if (name === 'ShaderF16SupportError' || (name === 'FeatureSupportError' && /shader-f16/.test(text)) || /enable f16|extension f16|'f16'|shader-f16/i.test(text)) {
    return new AppError(
      'no-shader-f16',
      `This GPU or browser lacks the shader-f16 feature that ${model} (an f16 build) needs: choose a build marked "no shader-f16 needed" (q4f32_1 or q0f32, e.g. TinyLlama-1.1B q4f32_1 or SmolLM2-360M q4f32_1), or switch to the Transformers.js engine.`,
    );
  }
  if (name === 'FeatureSupportError') {
    return new AppError('unsupported', `${detail} Choose another model, or switch to the Transformers.js engine.`);
  }
  if (name === 'WebGPUNotAvailableError' || name === 'WebGPUNotFoundError' || /Unable to find a compatible GPU|Cannot find WebGPU/.test(text)) {
    return new AppError(
      'no-webgpu',
      `WebGPU is not available here (${detail}): use a recent Chrome or Edge (113+) on a machine with a supported GPU and hardware acceleration on, or switch to the Transformers.js engine (WASM), which runs on the CPU.`,
    );
  }
  const limit = /Cannot initialize runtime because of requested (\w+)/.exec(text);
  if (limit) {
    return new AppError(
      'no-webgpu',
      `This GPU's WebGPU limits are too small for WebLLM (${limit[1]}): switch to the Transformers.js engine (WASM), or use another GPU or browser.`,
    );
  }
  if (name === 'DeviceLostError' || /out of memory|OutOfMemory|\bOOM\b|Array buffer allocation failed|could not allocate memory/i.test(text)) {
    const need = context.vramMB ? ` (it needs about ${Math.round(context.vramMB)} MB of GPU memory)` : '';
    return new AppError(
      'out-of-memory',
      `The GPU ran out of memory loading ${model}${need}: choose a smaller model, a q4f16_1 build instead of q4f32_1, or a shorter context window. The engine was reset, so another model can be loaded right away.`,
    );
  }
  if (name === 'ModelNotLoadedError' || /device (was|is) lost|Device was lost/i.test(text)) {
    return new AppError(
      'device-lost',
      `The GPU device was lost and WebLLM unloaded ${model} (memory pressure, a driver reset, or the GPU process restarting): load the model again; if it keeps happening, choose a smaller model.`,
    );
  }
  if (
    /expected magic word|LinkError|CompileError|WebAssembly\.(instantiate|compile)|Cannot find global function|Cannot find .+ in (cache|exports)|unsatisfied constraint|shape mismatch|Check failed|TVMError|tensor-cache\.json|ndarray-cache/i.test(text) ||
    name === 'UnsupportedTokenizerFilesError'
  ) {
    return new AppError(
      'model-mismatch',
      `The model library (.wasm) does not match the weights or this WebLLM version (${detail}): use the library compiled from the same mlc-chat-config.json as the weights, with an mlc-llm/TVM from the period of WebLLM 0.2.86 (model version v0_2_86); weights converted by an older mlc-llm need ndarray-cache.json renamed to tensor-cache.json.`,
    );
  }
  if (name === 'NetworkError' || /NetworkError|Failed to fetch|network error|Load failed|ERR_(INTERNET|NETWORK|CONNECTION)|net::|Cannot fetch/i.test(text)) {
    return new AppError(
      'download-interrupted',
      `Downloading ${model} was interrupted (${detail}): check the connection and load again. Files that finished downloading stay cached, so the download resumes where it stopped; if it fails again at the same point, clear this model's cache and retry.`,
    );
  }
  if (name === 'MissingModelError' || /Request failed|\b404\b|\b403\b|Not Found/i.test(text)) {
    return new AppError(
      'model-files-missing',
      `A file of ${model} could not be downloaded (${detail}): check the weights URL and the model library URL (both must be reachable with CORS), then retry.`,
    );
  }
  return new AppError('internal', `WebLLM failed: ${detail}`);
}

function describeError(error: unknown): { name: string; text: string } {
  if (typeof error === 'string') {
    const named = /^([A-Za-z_$][\w$]*): /.exec(error);
    return { name: named?.[1] ?? '', text: error };
  }
  if (typeof error === 'object' && error !== null && 'message' in error) {
    const name = 'name' in error && typeof error.name === 'string' ? error.name : '';
    const message = String(error.message);
    return { name, text: name && name !== 'Error' ? `${name}: ${message}` : message };
  }
  return { name: '', text: String(error) };
}

// ---------------------------------------------------------------------------------------------
// The logit processor

type ProcessorMode =
  | { kind: 'idle' }
  | { kind: 'score'; targets: readonly number[]; logprobs: number[]; overrun: number }
  | { kind: 'generate'; keepTop: number; sampled: number[] };

/**
 * Registered for the model before `reload()`; WebLLM then calls it for every sampled token of
 * that model (chat, completion and forwardTokensAndSample), so it passes logits through unless
 * armed. Never throws: an exception inside WebLLM's sampling step would leave its TVM scope open.
 */
class TeacherForcingProcessor implements LogitProcessor {
  #mode: ProcessorMode = { kind: 'idle' };

  armScore(targets: readonly number[]): void {
    this.#mode = { kind: 'score', targets, logprobs: [], overrun: 0 };
  }

  /** `keepTop`: 0 keeps every token; 1 is greedy; k keeps the k largest logits (top-k, which WebLLM's API lacks). */
  armGenerate(keepTop: number): void {
    this.#mode = { kind: 'generate', keepTop, sampled: [] };
  }

  /** Disarms and returns what was recorded. */
  disarm(): ProcessorMode {
    const mode = this.#mode;
    this.#mode = { kind: 'idle' };
    return mode;
  }

  processLogits(logits: Float32Array): Float32Array {
    const mode = this.#mode;
    if (mode.kind === 'score') {
      const target = mode.targets[mode.logprobs.length];
      if (target === undefined) {
        mode.overrun++;
        return logits;
      }
      mode.logprobs.push(logSoftmaxAt(logits, target));
      // Force the sampled token to be the target: the adapter then checks every step's returned
      // token, which proves the processor ran on that step.
      const kept = logits[target] as number;
      logits.fill(-Infinity);
      logits[target] = kept;
    } else if (mode.kind === 'generate' && mode.keepTop > 0 && mode.keepTop < logits.length) {
      keepTopK(logits, mode.keepTop);
    }
    return logits;
  }

  processSampledToken(token: number): void {
    if (this.#mode.kind === 'generate') this.#mode.sampled.push(token);
  }

  /** Called by `resetChat()`, including the one a new chat request does before its first token. */
  resetState(): void {
    if (this.#mode.kind === 'generate') this.#mode.sampled = [];
  }
}

/** log softmax(row)[token], accumulated in float64. */
function logSoftmaxAt(row: Float32Array, token: number): number {
  const length = row.length;
  let max = -Infinity;
  for (let i = 0; i < length; i++) if ((row[i] as number) > max) max = row[i] as number;
  let sum = 0;
  for (let i = 0; i < length; i++) sum += Math.exp((row[i] as number) - max);
  return (row[token] as number) - max - Math.log(sum);
}

/** Sets every logit below the k-th largest to -Infinity (ties with it are kept, as in Hugging Face's top-k). */
function keepTopK(row: Float32Array, k: number): void {
  let threshold: number;
  if (k === 1) {
    threshold = -Infinity;
    for (const value of row) if (value > threshold) threshold = value;
  } else {
    threshold = Float32Array.from(row).sort().at(-k) as number;
  }
  for (let i = 0; i < row.length; i++) if ((row[i] as number) < threshold) row[i] = -Infinity;
}

// ---------------------------------------------------------------------------------------------
// Conversation rendering (what WebLLM prefills for a chat request)

const ConvTemplate = z.looseObject({
  system_template: z.string(),
  system_message: z.string(),
  roles: z.looseObject({ user: z.string(), assistant: z.string() }),
  role_templates: z.record(z.string(), z.string()).optional(),
  seps: z.array(z.string()).min(1),
  role_content_sep: z.string().nullish(),
  role_empty_sep: z.string().nullish(),
  stop_str: z.array(z.string()),
  stop_token_ids: z.array(z.number().int()),
  system_prefix_token_ids: z.array(z.number().int()).nullish(),
  add_role_after_system_message: z.boolean().nullish(),
  render_empty_system_message: z.boolean().nullish(),
});
export type ConvTemplate = z.infer<typeof ConvTemplate>;

/** The parts of mlc-chat-config.json the adapter reads (after the record's overrides). */
const MlcChatConfig = z.looseObject({
  conv_template: z.looseObject({}),
  conv_config: WebLlmConvConfig.loose().optional(),
  context_window_size: z.number().int(),
  sliding_window_size: z.number().int().optional(),
  tokenizer_files: z.array(z.string()).default([]),
  bos_token_id: z.number().int().optional(),
  eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).optional(),
});

export interface RenderedPrompt {
  /** The prompt as one string (what the model saw, without the prefix token ids). */
  text: string;
  /** The pieces WebLLM tokenizes one by one. */
  pieces: string[];
  /** Token ids WebLLM puts before the first piece (`system_prefix_token_ids`, usually BOS). */
  prefixTokenIds: number[];
}

const ROLE_PLACEHOLDER = { user: '{user_message}', assistant: '{assistant_message}' } as const;

/**
 * The prompt WebLLM 0.2.86 builds for a fresh (not multi-round) chat request: its private
 * `getConversationFromChatCompletionRequest` + `getPromptArray`, text-only. String `replace` is
 * used exactly as WebLLM does (first occurrence, `$` patterns included), so the result is
 * character-identical.
 */
export function renderWebLlmPrompt(conv: ConvTemplate, messages: readonly ChatMessage[]): RenderedPrompt {
  const last = messages.at(-1);
  if (!last || last.role !== 'user') throw new AppError('invalid-input', 'The last message must be from the user: WebLLM answers a user turn.');
  let systemOverride: string | undefined;
  const turns: { role: 'user' | 'assistant'; content: string | undefined }[] = [];
  messages.forEach((message, index) => {
    if (message.role === 'system') {
      if (index !== 0) throw new AppError('invalid-input', 'A system message can only come first.');
      systemOverride = message.content;
    } else {
      turns.push({ role: message.role, content: message.content });
    }
  });
  turns.push({ role: 'assistant', content: undefined });

  const systemMessage = systemOverride ?? conv.system_message;
  const systemPrompt =
    systemMessage === '' && conv.render_empty_system_message === false ? '' : conv.system_template.replace('{system_message}', systemMessage);
  const separator = (value: string | null | undefined) => (value || value === '' ? value : ': ');
  const pieces = systemPrompt === '' ? [] : [systemPrompt];
  turns.forEach(({ role, content }, index) => {
    const roleName = conv.roles[role];
    if (content === undefined) {
      pieces.push(roleName + separator(conv.role_empty_sep));
      return;
    }
    const template = conv.role_templates?.[role];
    const body = template === undefined ? content : template.replace(ROLE_PLACEHOLDER[role], content).replace('{function_string}', '');
    const rolePrefix = conv.add_role_after_system_message === false && systemPrompt !== '' && index === 0 ? '' : roleName + separator(conv.role_content_sep);
    pieces.push(rolePrefix + body + conv.seps[index % conv.seps.length]);
  });
  return { text: pieces.join(''), pieces, prefixTokenIds: [...(conv.system_prefix_token_ids ?? [])] };
}

// ---------------------------------------------------------------------------------------------
// Loading

/** The Engine, plus what only WebLLM's own prompt building knows. */
export interface WebLlmEngine extends Engine {
  /** The ids WebLLM prefills for a fresh chat request: the prefix ids, then each prompt piece tokenized on its own. */
  promptTokenIds(messages: readonly ChatMessage[]): Promise<number[]>;
}

/** Loads the entry's model into a fresh in-thread MLCEngine and returns it as an Engine. */
export async function createWebLlmEngine(
  input: WebLlmEngineOptions,
  onProgress: ProgressListener = () => {},
  depsOverride: Partial<WebLlmDeps> = {},
): Promise<WebLlmEngine> {
  const options = parseOptions(input);
  const deps: WebLlmDeps = { ...browserDeps(options.cacheBackend), ...depsOverride };
  const baseUrl = options.baseUrl ?? defaultBaseUrl();
  const entry = await resolveEntry(options, deps, baseUrl);
  const context: ErrorContext = { model: entry.label, vramMB: entry.vramMB };
  if (needsUrls(entry)) throw missingUrlsError(entry);
  const appConfig = buildAppConfig(entry, { cacheBackend: options.cacheBackend, ...(baseUrl ? { baseUrl } : {}) });

  await preflightGpu(entry, deps.gpu);
  if (options.checkStorageQuota) await checkStorageQuota(entry, appConfig, deps);

  const processor = new TeacherForcingProcessor();
  let engine: WebLlmEngineSurface | undefined;
  try {
    engine = await deps.createEngine({
      appConfig,
      initProgressCallback: (report) => onProgress(mapInitProgress(report)),
      // Must be in place before reload(): WebLLM reads it once, when it builds the pipeline.
      logitProcessorRegistry: new Map([[entry.modelId, processor]]),
      logLevel: options.logLevel,
    });
    await engine.reload(entry.modelId);
    const files = await loadModelFiles(entry, weightsBaseUrl(entry.modelUrl as string, baseUrl), deps);
    const webllm = new LoadedWebLlmEngine(engine, processor, entry, files, context);
    onProgress({ stage: 'warmup', text: 'Warming up' });
    // One forced step end to end: proves the processor is attached before we report ready.
    await webllm.score({ promptIds: [webllm.info.bosTokenId], continuations: [[webllm.info.eosTokenId]] });
    onProgress({ stage: 'ready', fraction: 1, text: 'Ready' });
    return webllm;
  } catch (error) {
    // Free whatever the failed load holds on the GPU, so the worker can load another model.
    await engine?.unload().catch(() => {});
    throw classifyWebLlmError(error, context);
  }
}

function parseOptions(input: WebLlmEngineOptions): z.output<typeof WebLlmEngineOptions> {
  const parsed = WebLlmEngineOptions.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message));
  throw new AppError('invalid-input', `Invalid WebLLM engine options: ${problems.join('; ')}`);
}

/** The entry the options name, with the user's URLs applied (validated) when given. */
async function resolveEntry(options: z.output<typeof WebLlmEngineOptions>, deps: Pick<WebLlmDeps, 'loadCatalog'>, baseUrl: string | undefined): Promise<WebLlmCatalogEntry> {
  let entry = options.entry;
  if (!entry) {
    const id = options.modelId as string;
    const catalogUrl = options.catalogUrl ?? absoluteUrl('models.json', baseUrl);
    const found = findEntry(await deps.loadCatalog(catalogUrl), id);
    if (!found) throw new AppError('invalid-input', `The model catalog (${catalogUrl}) has no model "${id}": choose a model from the list.`);
    if (found.engine !== 'webllm') throw new AppError('invalid-input', `${found.label} runs on the Transformers.js engine, not WebLLM.`);
    entry = found;
  }
  if (options.modelUrl !== undefined || options.modelLibUrl !== undefined) {
    if (!options.modelUrl || !options.modelLibUrl) throw new AppError('invalid-input', `${entry.label}: give both the weights URL and the model library URL.`);
    entry = withCustomUrls(entry, { modelUrl: options.modelUrl, modelLibUrl: options.modelLibUrl }, baseUrl);
  }
  return entry;
}

async function preflightGpu(entry: WebLlmCatalogEntry, gpu: GpuProbe | undefined): Promise<void> {
  // WebLLM only notices a missing GPU after downloading the config and the library; checking
  // first saves that download and gives a clearer message.
  const adapter = await gpu?.requestAdapter().catch(() => null);
  if (!adapter) {
    throw classifyWebLlmError(new Error('Unable to find a compatible GPU (navigator.gpu.requestAdapter() returned nothing).'), { model: entry.label });
  }
  // WebLLM checks `required_features` only, and several prebuilt f16 records omit it, so the
  // quantization decides too.
  const needsF16 = entry.requiredFeatures.includes('shader-f16') || /f16/.test(entry.quantization);
  if (needsF16 && !adapter.features.has('shader-f16')) {
    const error = new Error('This model requires WebGPU extension shader-f16, which is not enabled in this browser.');
    error.name = 'ShaderF16SupportError';
    throw classifyWebLlmError(error, { model: entry.label });
  }
}

async function checkStorageQuota(entry: WebLlmCatalogEntry, appConfig: AppConfig, deps: WebLlmDeps): Promise<void> {
  if (!deps.storage) return;
  const cached = await deps.cache.hasModelInCache(entry.modelId, appConfig).catch(() => false);
  if (cached) return;
  const estimate = await deps.storage.estimate().catch(() => undefined);
  if (estimate?.quota === undefined) return;
  const availableMB = Math.max(0, (estimate.quota - (estimate.usage ?? 0)) / MB);
  const neededMB = entry.sizes.downloadMB + OVERHEAD_MB;
  if (neededMB > availableMB) {
    throw new AppError(
      'quota-exceeded',
      `${entry.label} needs about ${Math.ceil(neededMB)} MB of browser storage, but only ${Math.floor(availableMB)} MB is available (quota ${Math.floor(estimate.quota / MB)} MB, ${Math.ceil((estimate.usage ?? 0) / MB)} MB used): delete cached models you no longer need, leave private/incognito mode (it has a much smaller quota), or choose a smaller model.`,
    );
  }
  // Persistent storage makes eviction of a 4 GB download under storage pressure less likely.
  await deps.storage.persist?.().catch(() => false);
}

interface ModelFiles {
  chatConfig: z.infer<typeof MlcChatConfig>;
  conv: ConvTemplate;
  tokenizer: PreTrainedTokenizer;
}

async function loadModelFiles(entry: WebLlmCatalogEntry, base: string, deps: WebLlmDeps): Promise<ModelFiles> {
  const raw = await readJson(deps, `${base}mlc-chat-config.json`, 'webllm/config');
  // The same merge WebLLM does at reload: {...mlc-chat-config.json, ...record.overrides}.
  const chatConfig = MlcChatConfig.parse({ ...(raw as object), ...entry.overrides, context_window_size: entry.contextWindow });
  const conv = ConvTemplate.parse({ ...chatConfig.conv_template, ...chatConfig.conv_config });
  if (!chatConfig.tokenizer_files.includes('tokenizer.json')) {
    throw new AppError(
      'unsupported',
      `${entry.label} ships no tokenizer.json (only ${chatConfig.tokenizer_files.join(', ') || 'nothing'}): this app tokenizes for scoring with tokenizer.json; re-run mlc_llm gen_config on a model folder that has one.`,
    );
  }
  const [tokenizerJson, tokenizerConfig] = await Promise.all([
    readJson(deps, `${base}tokenizer.json`, 'webllm/model'),
    // WebLLM ignores tokenizer_config.json; it carries the special-token names and the chat template.
    readJson(deps, `${base}tokenizer_config.json`, 'webllm/model').catch(() => ({})),
  ]);
  const { PreTrainedTokenizer } = await import('@huggingface/transformers');
  return { chatConfig, conv, tokenizer: new PreTrainedTokenizer(tokenizerJson, tokenizerConfig) };
}

async function readJson(deps: WebLlmDeps, url: string, scope: WebLlmCacheScope): Promise<unknown> {
  const response = await deps.fetchFile(url, scope);
  if (!response.ok) throw new Error(`Request failed: ${response.status} ${response.statusText} for ${url}`);
  return response.json();
}

// ---------------------------------------------------------------------------------------------
// The engine

class LoadedWebLlmEngine implements WebLlmEngine {
  readonly info: EngineInfo;
  /** WebLLM's low-level calls take no lock, so every call into the engine runs one at a time. */
  #queue: Promise<unknown> = Promise.resolve();
  #disposed = false;

  constructor(
    private readonly engine: WebLlmEngineSurface,
    private readonly processor: TeacherForcingProcessor,
    private readonly entry: WebLlmCatalogEntry,
    private readonly files: ModelFiles,
    private readonly context: ErrorContext,
  ) {
    const { chatConfig, conv, tokenizer } = files;
    const eos = Array.isArray(chatConfig.eos_token_id) ? chatConfig.eos_token_id[0] : chatConfig.eos_token_id;
    this.info = {
      backend: 'webllm',
      model: entry.modelId,
      device: 'webgpu',
      dtype: entry.quantization,
      // The record's override: WebLLM allocates the KV cache for exactly this many tokens.
      contextWindow: entry.contextWindow,
      bosTokenId: chatConfig.bos_token_id ?? conv.system_prefix_token_ids?.[0] ?? tokenizer.bos_token_id ?? 1,
      eosTokenId: eos ?? conv.stop_token_ids[0] ?? tokenizer.eos_token_id ?? 2,
      chatTemplate: chatTemplateInfo(entry, tokenizer),
      scoringMethod: 'forced-decode',
    };
  }

  async tokenize(text: string): Promise<number[]> {
    return this.files.tokenizer.encode(text, { add_special_tokens: false });
  }

  async promptTokenIds(messages: readonly ChatMessage[]): Promise<number[]> {
    return this.#promptTokenIds(renderWebLlmPrompt(this.files.conv, messages));
  }

  /** WebLLM tokenizes each piece on its own (so each may gain a leading "▁"), after the prefix ids. */
  #promptTokenIds(rendered: RenderedPrompt): number[] {
    const ids = [...rendered.prefixTokenIds];
    for (const piece of rendered.pieces) ids.push(...this.files.tokenizer.encode(piece, { add_special_tokens: false }));
    return ids;
  }

  async generate(
    messages: readonly ChatMessage[],
    optionsInput: GenerateOptionsInput,
    onToken: (text: string) => void = () => {},
    signal?: CancelSignal,
  ): Promise<GenerateResult> {
    throwIfCancelled(signal);
    const options = GenerateOptions.parse(optionsInput);
    const rendered = renderWebLlmPrompt(this.files.conv, messages);
    const promptTokenCount = this.#promptTokenIds(rendered).length;
    assertFitsContext('The prompt', promptTokenCount + 1, this.entry.label, this.info.contextWindow);
    return this.#exclusive(async () => {
      // It may have waited in the queue behind other work.
      throwIfCancelled(signal);
      const request: ChatCompletionRequestStreaming = {
        messages: messages.map(toWebLlmMessage),
        stream: true,
        max_tokens: options.maxNewTokens,
        temperature: options.temperature,
        top_p: options.topP,
        // Explicit, so the model's mlc-chat-config defaults cannot add penalties the other engines lack.
        repetition_penalty: 1,
        frequency_penalty: 0,
        presence_penalty: 0,
        ...(options.seed === undefined ? {} : { seed: options.seed }),
      };
      // Greedy through the processor too: WebLLM clamps temperature 0 to 1e-6 and samples.
      this.processor.armGenerate(options.temperature === 0 ? 1 : options.topK);
      const interrupt = () => void this.engine.interruptGenerate();
      signal?.addEventListener('abort', interrupt, { once: true });
      let text = '';
      let finish: string | null = null;
      let recorded: ProcessorMode | undefined;
      try {
        const stream = await this.engine.chat.completions.create(request);
        for await (const chunk of stream) {
          const choice = chunk.choices[0];
          const delta = choice?.delta.content ?? '';
          if (delta) {
            text += delta;
            onToken(delta);
          }
          if (choice?.finish_reason) finish = choice.finish_reason;
          // WebLLM clears its interrupt flag when the stream starts: an abort that came before
          // that is re-sent here.
          if (signal?.aborted && finish === null) await this.engine.interruptGenerate();
        }
      } catch (error) {
        throw classifyWebLlmError(error, this.context);
      } finally {
        signal?.removeEventListener('abort', interrupt);
        recorded = this.processor.disarm();
      }
      const tokenIds = recorded?.kind === 'generate' ? recorded.sampled : [];
      return { text, tokenIds, promptTokenCount, finishReason: finishReason(finish, signal), prompt: rendered.text };
    });
  }

  async score(requestInput: ScoreRequest, signal?: CancelSignal): Promise<ScoreResult> {
    const request = ScoreRequestSchema.parse(requestInput);
    // Checked here: forwardTokensAndSample does not check the window, and overflowing the KV
    // cache fails in the runtime with no useful message.
    assertScoreFits(request, this.entry.label, this.info.contextWindow);
    return this.#exclusive(async () => {
      const logprobs: number[][] = [];
      let forwardTokens = 0;
      for (const continuation of request.continuations) {
        throwIfCancelled(signal);
        logprobs.push(await this.#forcedDecode(request.promptIds, continuation, signal));
        forwardTokens += request.promptIds.length + continuation.length - 1;
      }
      return { logprobs, method: this.info.scoringMethod, forwardTokens };
    });
  }

  async dispose(): Promise<void> {
    await this.#exclusive(async () => {
      this.processor.disarm();
      await this.engine.unload();
    });
    this.#disposed = true;
  }

  /**
   * log p(c_t | prompt, c_<t) for every t: the prompt's last logits predict c_0; feeding c_{t-1}
   * yields the logits that predict c_t. The last token is never fed (nothing is scored from it).
   */
  async #forcedDecode(promptIds: readonly number[], continuation: readonly number[], signal?: CancelSignal): Promise<number[]> {
    await this.#call(() => this.engine.resetChat());
    // Armed after the reset, which calls the processor's resetState().
    this.processor.armScore(continuation);
    try {
      // Plain arrays: WebLLM treats anything that is not Array.isArray (e.g. Int32Array) as an image.
      this.#expectForced(await this.#call(() => this.engine.forwardTokensAndSample(Array.from(promptIds), true)), continuation[0]);
      for (let t = 1; t < continuation.length; t++) {
        throwIfCancelled(signal);
        this.#expectForced(await this.#call(() => this.engine.forwardTokensAndSample([continuation[t - 1] as number], false)), continuation[t]);
      }
      const recorded = this.processor.disarm();
      if (recorded.kind !== 'score' || recorded.logprobs.length !== continuation.length || recorded.overrun > 0) {
        throw new AppError('internal', `The scoring LogitProcessor recorded ${recorded.kind === 'score' ? recorded.logprobs.length : 0} log-probs for ${continuation.length} tokens: WebLLM did not call it once per step.`);
      }
      return recorded.logprobs;
    } finally {
      this.processor.disarm();
      // Chat requests reuse the KV cache when their history matches the stored conversation.
      // The opening reset already emptied that conversation; this one also empties the cache,
      // so no later request, whatever WebLLM's reuse rule, starts from scoring tokens.
      await this.#call(() => this.engine.resetChat());
    }
  }

  #expectForced(sampled: number, target: number | undefined): void {
    if (sampled !== target) {
      throw new AppError('internal', `WebLLM sampled token ${sampled} where the scoring LogitProcessor forced ${target}: the processor is not attached to ${this.entry.modelId}.`);
    }
  }

  async #call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw classifyWebLlmError(error, this.context);
    }
  }

  #exclusive<T>(run: () => Promise<T>): Promise<T> {
    if (this.#disposed) return Promise.reject(new AppError('not-loaded', `${this.entry.label} was unloaded: load it again.`));
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => {});
    return result;
  }
}

function toWebLlmMessage(message: ChatMessage): ChatCompletionMessageParam {
  switch (message.role) {
    case 'system':
      return { role: 'system', content: message.content };
    case 'user':
      return { role: 'user', content: message.content };
    case 'assistant':
      return { role: 'assistant', content: message.content };
  }
}

function finishReason(reason: string | null, signal: CancelSignal | undefined): FinishReason {
  if (reason === 'abort' || (reason === null && signal?.aborted)) return 'aborted';
  if (reason === 'stop' || reason === 'tool_calls') return 'eos';
  return 'length';
}

/** Zephyr entries use the core's exact Zephyr template; others the model's own Jinja template. */
function chatTemplateInfo(entry: WebLlmCatalogEntry, tokenizer: PreTrainedTokenizer): ChatTemplateInfo {
  if (entry.chatTemplate === 'zephyr') return { name: 'zephyr' };
  const source: unknown = tokenizer.chat_template;
  if (typeof source !== 'string') return { name: entry.chatTemplate };
  return { name: 'model', source, bosToken: tokenizer.bos_token ?? undefined, eosToken: tokenizer.eos_token ?? undefined };
}

// ---------------------------------------------------------------------------------------------
// Cache helpers

export interface CacheHelperOptions {
  baseUrl?: string;
  /** Defaults to WebLLM's own helpers. */
  cache?: WebLlmCacheFns;
}

/** Whether WebLLM holds the entry's weights (tensor-cache.json and every shard) in `cacheBackend`. */
export async function isModelCached(entry: WebLlmCatalogEntry, cacheBackend: WebLlmCacheBackend = 'cache', options: CacheHelperOptions = {}): Promise<boolean> {
  if (needsUrls(entry)) return false;
  const appConfig = buildAppConfig(entry, { cacheBackend, ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}) });
  const cache = options.cache ?? browserCacheFns(cacheBackend);
  try {
    return await cache.hasModelInCache(entry.modelId, appConfig);
  } catch (error) {
    throw classifyWebLlmError(error, { model: entry.label });
  }
}

/** Deletes the entry's weights, tokenizer, library and config from WebLLM's cache (the "clear and retry" fix). */
export async function deleteCachedModel(entry: WebLlmCatalogEntry, cacheBackend: WebLlmCacheBackend = 'cache', options: CacheHelperOptions = {}): Promise<void> {
  if (needsUrls(entry)) return;
  const baseUrl = options.baseUrl ?? defaultBaseUrl();
  const appConfig = buildAppConfig(entry, { cacheBackend, ...(baseUrl ? { baseUrl } : {}) });
  const cache = options.cache ?? browserCacheFns(cacheBackend);
  try {
    await cache.deleteModelAllInfoInCache(entry.modelId, appConfig);
    await cache.deleteFile(`${weightsBaseUrl(entry.modelUrl as string, baseUrl)}tokenizer_config.json`, 'webllm/model');
  } catch (error) {
    throw classifyWebLlmError(error, { model: entry.label });
  }
}

/**
 * The worker protocol's cache calls: the same options as `createWebLlmEngine` (entry or model id,
 * custom URLs, backend). The returned shape is the protocol's `CacheStatus`.
 */
export async function cacheStatus(input: WebLlmEngineOptions, deps: Partial<Pick<WebLlmDeps, 'cache' | 'loadCatalog'>> = {}): Promise<{ cached: boolean }> {
  const { entry, options, baseUrl } = await resolveForCache(input, deps);
  return { cached: await isModelCached(entry, options.cacheBackend, { ...(baseUrl ? { baseUrl } : {}), ...(deps.cache ? { cache: deps.cache } : {}) }) };
}

export async function deleteCache(input: WebLlmEngineOptions, deps: Partial<Pick<WebLlmDeps, 'cache' | 'loadCatalog'>> = {}): Promise<void> {
  const { entry, options, baseUrl } = await resolveForCache(input, deps);
  await deleteCachedModel(entry, options.cacheBackend, { ...(baseUrl ? { baseUrl } : {}), ...(deps.cache ? { cache: deps.cache } : {}) });
}

async function resolveForCache(input: WebLlmEngineOptions, deps: Partial<Pick<WebLlmDeps, 'loadCatalog'>>) {
  const options = parseOptions(input);
  const baseUrl = options.baseUrl ?? defaultBaseUrl();
  const entry = await resolveEntry(options, { loadCatalog: deps.loadCatalog ?? fetchCatalog }, baseUrl);
  return { entry, options, baseUrl };
}

// ---------------------------------------------------------------------------------------------
// Browser defaults (WebLLM is imported lazily: its bundle is several MB)

function browserDeps(cacheBackend: WebLlmCacheBackend): WebLlmDeps {
  const scope = globalThis as { navigator?: { gpu?: GpuProbe; storage?: StorageProbe } };
  return {
    createEngine: async (config) => new (await import('@mlc-ai/web-llm')).MLCEngine(config),
    loadCatalog: fetchCatalog,
    cache: browserCacheFns(cacheBackend),
    fetchFile: (url, cacheScope) => fetchPreferringCache(url, cacheScope, cacheBackend),
    gpu: scope.navigator?.gpu,
    storage: scope.navigator?.storage,
  };
}

async function fetchCatalog(url: string): Promise<ModelCatalog> {
  const response = await fetch(url);
  if (!response.ok) throw new AppError('model-files-missing', `The model catalog ${url} could not be loaded (HTTP ${response.status}).`);
  return parseCatalog(await response.text());
}

function browserCacheFns(cacheBackend: WebLlmCacheBackend): WebLlmCacheFns {
  return {
    hasModelInCache: async (modelId, appConfig) => (await import('@mlc-ai/web-llm')).hasModelInCache(modelId, appConfig),
    deleteModelAllInfoInCache: async (modelId, appConfig) => (await import('@mlc-ai/web-llm')).deleteModelAllInfoInCache(modelId, appConfig),
    deleteFile: async (url, cacheScope) => {
      const caches = (globalThis as { caches?: CacheStorage }).caches;
      if (cacheBackend === 'cache' && caches) await (await caches.open(cacheScope)).delete(url);
    },
  };
}

/**
 * With the Cache API backend WebLLM has already stored mlc-chat-config.json and tokenizer.json
 * under their URLs, so they are read from there (no second download, works offline).
 * tokenizer_config.json, which WebLLM never fetches, is stored beside them on first use.
 */
async function fetchPreferringCache(url: string, scope: WebLlmCacheScope, cacheBackend: WebLlmCacheBackend): Promise<Response> {
  const caches = (globalThis as { caches?: CacheStorage }).caches;
  if (cacheBackend !== 'cache' || !caches) return fetch(url);
  const cache = await caches.open(scope);
  const hit = await cache.match(url);
  if (hit) return hit;
  const response = await fetch(url);
  if (response.ok) await cache.put(url, response.clone());
  return response;
}
