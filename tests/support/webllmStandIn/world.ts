/**
 * A stand-in for the part of WebLLM 0.2.86 that src/engines/webllm/ uses, backed by the tiny
 * Llama through onnxruntime-node, so the SAME adapter code runs in tests (no GPU, no network,
 * no compiled model library here).
 *
 * What it reproduces, read from the 0.2.86 bundle (lib/index.js) and
 * ../shared/reference/webllm-notes.md:
 * - `new MLCEngine(config)`: `appConfig`, `initProgressCallback`, `logitProcessorRegistry` (read
 *   once, at `reload`), `reload(modelId, chatOpts)` with `{...mlc-chat-config.json,
 *   ...record.overrides, ...chatOpts}`, the model URL cleaned as WebLLM does (`resolve/main/`
 *   appended; a relative URL throws), missing `model_lib`, `required_features`, progress texts
 *   in WebLLM's formats, shards cached whole (an interrupted download resumes with the missing
 *   shards), `DeviceLostError` at the end of a reload that ran out of memory, `unload`.
 * - `forwardTokensAndSample(ids, isPrefill)`: chunks by `prefill_chunk_size`, keeps the KV cache
 *   across calls, hands a fresh copy of the last position's RAW logits to
 *   `processLogits`, samples from what it returns with the chat config's defaults, calls
 *   `processSampledToken`, does not check the context window, does not touch the conversation.
 *   A non-Array input fails (WebLLM would treat it as image data).
 * - `resetChat()`: clears the KV cache, the conversation and calls `resetState()`; a no-op when
 *   nothing is loaded.
 * - `chat.completions.create({stream: true, …})`: WebLLM's prompt (conversation template rendered
 *   piece by piece, each piece tokenized on its own, `system_prefix_token_ids` first), the
 *   multi-round KV reuse when the history equals the stored conversation, the context-window
 *   check (`ContextWindowSizeExceededError`), penalties and top-p sampling seeded by `seed`,
 *   stop tokens / stop strings / max_tokens / window → finish reasons, `interruptGenerate()`
 *   (the flag is cleared when a stream starts and checked before every decode step), chunks held
 *   back while the text ends in an incomplete UTF-8 sequence, the final chunk with the reason.
 * - `hasModelInCache` / `deleteModelAllInfoInCache` over the simulated shard cache, and the
 *   `ModelNotLoadedError` a call gets after the device was lost (the engine unloads itself).
 *
 * - The in-thread engine's private `loadedModelIdToPipeline` and the pipeline internals the
 *   one-pass path uses (./tvm.ts), unless `library.exposePipelines` is false; the library's
 *   capabilities (batch_prefill, max_batch_size, kv_state_popn) are options, and one-pass logits
 *   can be perturbed to show the run-time check failing.
 * - WebLLM's own bookkeeping check: `filledKVCacheLength` must equal the KV cache's length before
 *   every forward of its own, so code that pops tokens without keeping it in step fails here.
 *
 * Errors are thrown as Error objects whose `name` is WebLLM's class name and whose message is
 * WebLLM's text, as the in-thread MLCEngine throws them. Runs in Node (../webllmStandIn.ts, onnxruntime-node)
 * and in a browser worker (onnxruntime-web): everything platform-specific comes in a `StandInBackend`.
 */
import { PreTrainedTokenizer } from '@huggingface/transformers';
import type { AppConfig, MLCEngineConfig } from '@mlc-ai/web-llm';
import type { GpuProbe, WebLlmCacheFns, WebLlmCacheScope } from '../../../src/engines/webllm/index.ts';
import { tinyDims, type OrtLike, type OrtSession, type TinyDims } from './kvSequence.ts';
import { StandInEngine } from './engine.ts';
import { cleanModelUrl, findRecord } from './errors.ts';
import type { LibraryOptions } from './tvm.ts';

/**
 * MLC's `tinyllama_v1_0` conversation template (mlc-llm conversation_template/tinyllama.py) as
 * mlc-chat-config.json serializes it: note the default system message and no prefix ids (no BOS).
 */
export const TINYLLAMA_V1_CONV_TEMPLATE = {
  name: 'tinyllama_v1_0',
  system_template: '<|system|>\n{system_message}</s>',
  system_message: 'You are a helpful chatbot.',
  system_prefix_token_ids: null,
  add_role_after_system_message: true,
  roles: { user: '<|user|>', assistant: '<|assistant|>' },
  role_templates: {},
  messages: [],
  seps: ['</s>'],
  role_content_sep: '\n',
  role_empty_sep: '\n',
  stop_str: ['</s>'],
  stop_token_ids: [2],
  function_string: '',
  use_function_calling: false,
};

export interface StandInOptions {
  /** The weights URL the catalog entry points at; the stand-in serves the folder's files under it. */
  modelUrl: string;
  /** Baked into a real model library; WebLLM's `_cs1k` libraries use 1024. */
  prefillChunkSize?: number;
  /** Features of the simulated WebGPU device. */
  gpuFeatures?: string[];
  /** How many parameter shards the simulated download has. */
  shards?: number;
  /** Sampling defaults of the served mlc-chat-config.json (the adapter must override the penalties). */
  repetitionPenalty?: number;
  /** What the model library and runtime offer the one-pass path; `exposePipelines: false` hides the internals. */
  library?: Partial<LibraryOptions> & { exposePipelines?: boolean };
  /** WebLLM's `modelVersion` as the stand-in reports it. */
  modelVersion?: string;
}

/** Everything platform-specific: onnxruntime (node or web), the tiny model's session and files. */
export interface StandInBackend {
  ort: OrtLike;
  session: OrtSession;
  tokenizer: PreTrainedTokenizer;
  dims: TinyDims;
  /** Size of the model's weights, for the simulated download. */
  modelBytes: number;
  /** A file of the tiny model folder as text (tokenizer.json, tokenizer_config.json). */
  readModelFile(name: string): Promise<string>;
}

export const DEFAULT_LIBRARY: LibraryOptions & { exposePipelines: boolean } = {
  exposePipelines: true,
  batchPrefill: true,
  maxBatchSize: 80,
  popn: true,
  sequenceLength: true,
  perturbOnePass: 0,
  stalePop: false,
  failBatchPrefillAfter: undefined,
};

/**
 * A world over the tiny model's folder: `readModelFile` reads its JSON files (config, tokenizer),
 * `session` runs its ONNX graph on the platform's onnxruntime (Node's or the browser's).
 */
export async function standInFromModelFiles(platform: Omit<StandInBackend, 'tokenizer' | 'dims'>, options: StandInOptions): Promise<WebLlmStandIn> {
  const json = async (name: string) => JSON.parse(await platform.readModelFile(name)) as Record<string, unknown>;
  const [config, tokenizerJson, tokenizerConfig] = await Promise.all([json('config.json'), json('tokenizer.json'), json('tokenizer_config.json')]);
  // tokenizers-cpp, which WebLLM uses, reads tokenizer.json as Hugging Face tokenizers does.
  return new WebLlmStandIn({ ...platform, tokenizer: new PreTrainedTokenizer(tokenizerJson, tokenizerConfig), dims: tinyDims(config) }, options);
}

/** The world the stand-in engines share: model files, the simulated cache, the GPU, injected faults. */
export class WebLlmStandIn {
  readonly engines: StandInEngine[] = [];
  /** Every file read through `fetchFile`. */
  readonly fetched: string[] = [];
  /** Shards downloaded by each reload, in order. */
  readonly downloads: number[][] = [];
  readonly deletedFiles: string[] = [];
  readonly chatConfigJson: Record<string, unknown>;
  readonly weightsBase: string;
  readonly prefillChunkSize: number;
  readonly gpuFeatures: Set<string>;
  readonly shardCount: number;
  readonly #cachedShards = new Set<number>();
  #reloadFailure: { error: Error; atShard: number | undefined } | undefined;

  readonly library: LibraryOptions & { exposePipelines: boolean };
  readonly modelVersion: string;
  readonly tokenizer: PreTrainedTokenizer;
  readonly dims: TinyDims;
  readonly shardBytes: number;

  constructor(
    readonly backend: StandInBackend,
    readonly options: StandInOptions,
  ) {
    this.tokenizer = backend.tokenizer;
    this.dims = backend.dims;
    this.shardBytes = Math.ceil(backend.modelBytes / (options.shards ?? 4));
    this.library = { ...DEFAULT_LIBRARY, ...options.library };
    this.modelVersion = options.modelVersion ?? 'v0_2_86/base';
    this.weightsBase = cleanModelUrl(options.modelUrl);
    this.prefillChunkSize = options.prefillChunkSize ?? 1024;
    this.gpuFeatures = new Set(options.gpuFeatures ?? []);
    this.shardCount = options.shards ?? 4;
    this.chatConfigJson = {
      model_type: 'llama',
      quantization: 'q0f32',
      vocab_size: this.dims.vocab,
      context_window_size: 2048,
      sliding_window_size: -1,
      prefill_chunk_size: this.prefillChunkSize,
      attention_sink_size: -1,
      tensor_parallel_shards: 1,
      temperature: 0.7,
      top_p: 0.95,
      repetition_penalty: options.repetitionPenalty ?? 1.1,
      frequency_penalty: 0,
      presence_penalty: 0,
      bos_token_id: 1,
      eos_token_id: 2,
      pad_token_id: 0,
      conv_template: TINYLLAMA_V1_CONV_TEMPLATE,
      tokenizer_files: ['tokenizer.json', 'tokenizer_config.json'],
      version: '0.1.0',
    };
  }

  /** The adapter's dependencies on this world (pass `storage` and the rest as needed). */
  get deps() {
    return { createEngine: this.createEngine, cache: this.cache, fetchFile: this.fetchFile, gpu: this.gpu, webLlmModelVersion: async () => this.modelVersion };
  }

  /** `new MLCEngine(config)`. */
  readonly createEngine = (config: MLCEngineConfig): StandInEngine => {
    const engine = new StandInEngine(this, config);
    this.engines.push(engine);
    return engine;
  };

  /** Serves the weights folder's JSON files under the weights URL, as a static host would. */
  readonly fetchFile = async (url: string, _scope: WebLlmCacheScope): Promise<Response> => {
    this.fetched.push(url);
    const files: Record<string, () => Promise<string>> = {
      'mlc-chat-config.json': async () => JSON.stringify(this.chatConfigJson),
      'tokenizer.json': () => this.backend.readModelFile('tokenizer.json'),
      'tokenizer_config.json': () => this.backend.readModelFile('tokenizer_config.json'),
    };
    const name = url.startsWith(this.weightsBase) ? url.slice(this.weightsBase.length) : undefined;
    const read = name === undefined ? undefined : files[name];
    if (!read) return new Response('Not Found', { status: 404, statusText: 'Not Found' });
    return new Response(await read(), { status: 200, headers: { 'content-type': 'application/json' } });
  };

  /** WebLLM's module-level cache helpers over the simulated shard cache. */
  readonly cache: WebLlmCacheFns = {
    hasModelInCache: async (modelId: string, appConfig?: AppConfig) => {
      const record = findRecord(modelId, appConfig);
      return cleanModelUrl(record.model) === this.weightsBase && this.#cachedShards.size === this.shardCount;
    },
    deleteModelAllInfoInCache: async (modelId: string, appConfig?: AppConfig) => {
      findRecord(modelId, appConfig);
      this.#cachedShards.clear();
    },
    deleteFile: async (url: string) => {
      this.deletedFiles.push(url);
    },
  };

  /** The simulated `navigator.gpu`. */
  readonly gpu: GpuProbe = {
    requestAdapter: async () => ({ features: { has: (feature: string) => this.gpuFeatures.has(feature) } }),
  };

  /** Makes the next reload fail with `error`: while downloading shard `atShard`, or at its end when omitted. */
  failNextReload(error: Error, atShard?: number): void {
    this.#reloadFailure = { error, atShard };
  }

  /** The GPU device is lost after loading: like WebLLM, every engine logs it and unloads itself. */
  loseDevice(): void {
    for (const engine of this.engines) engine.deviceLost();
  }

  get cachedShards(): number[] {
    return [...this.#cachedShards].sort((a, b) => a - b);
  }

  /** Runs the simulated download of one reload; throws the injected failure at its shard. */
  downloadShards(report: (text: string, progress: number) => void): void {
    const failure = this.#reloadFailure;
    const total = this.shardBytes * this.shardCount;
    const downloaded: number[] = [];
    report('Start to fetch params', 0);
    if (this.#cachedShards.size < this.shardCount) {
      let fetched = 0;
      for (let shard = 0; shard < this.shardCount; shard++) {
        if (!this.#cachedShards.has(shard)) {
          if (failure && failure.atShard === shard) {
            this.#reloadFailure = undefined;
            this.downloads.push(downloaded);
            throw failure.error;
          }
          // Stored only once complete, as Cache.add does.
          this.#cachedShards.add(shard);
          downloaded.push(shard);
        }
        fetched += this.shardBytes;
        report(
          `Fetching param cache[${shard + 1}/${this.shardCount}]: ${Math.ceil(fetched / (1024 * 1024))}MB fetched. ${Math.floor((fetched * 100) / total)}% completed, 0 secs elapsed. It can take a while when we first visit this page to populate the cache. Later refreshes will become faster.`,
          fetched / total,
        );
      }
    }
    this.downloads.push(downloaded);
    let loaded = 0;
    for (let shard = 0; shard < this.shardCount; shard++) {
      loaded += this.shardBytes;
      report(`Loading model from cache[${shard + 1}/${this.shardCount}]: ${Math.ceil(loaded / (1024 * 1024))}MB loaded. ${Math.floor((loaded * 100) / total)}% completed, 0 secs elapsed.`, loaded / total);
    }
  }

  /** The failure injected for the end of the next reload, if any (consumed). */
  takeEndOfReloadFailure(): Error | undefined {
    const failure = this.#reloadFailure;
    if (!failure || failure.atShard !== undefined) return undefined;
    this.#reloadFailure = undefined;
    return failure.error;
  }
}
