/**
 * The stand-in's `MLCEngine` (StandInEngine) and its loaded model (Pipeline): what WebLLM's engine
 * does with the model (see world.ts for the list), over the world's shared files, cache and GPU.
 */
import type {
  AppConfig,
  ChatCompletionChunk,
  ChatCompletionRequestStreaming,
  ChatOptions,
  InitProgressCallback,
  LogitProcessor,
  MLCEngineConfig,
} from '@mlc-ai/web-llm';
import type { WebLlmEngineSurface } from '../../../src/engines/webllm/index.ts';
import { KvSequence } from './kvSequence.ts';
import { cleanModelUrl, findRecord, modelNotLoaded, webllmError } from './errors.ts';
import { internalFields } from './tvm.ts';
import type { WebLlmStandIn } from './world.ts';

type Role = 'user' | 'assistant';
/** WebLLM's conversation: messages as (role, role string, content | undefined for a reply header). */
interface Conversation {
  system: string | undefined;
  messages: [Role, string, string | undefined][];
}

interface ConvConfig {
  system_template: string;
  system_message: string;
  roles: Record<Role, string>;
  seps: string[];
  role_content_sep?: string;
  role_empty_sep?: string;
  stop_str: string[];
  stop_token_ids: number[];
  system_prefix_token_ids?: number[] | null;
  add_role_after_system_message?: boolean;
  render_empty_system_message?: boolean;
}

interface ChatConfig {
  conv_template: ConvConfig;
  conv_config?: Partial<ConvConfig>;
  context_window_size: number;
  sliding_window_size: number;
  temperature: number;
  top_p: number;
  repetition_penalty: number;
  frequency_penalty: number;
  presence_penalty: number;
}

/**
 * One loaded model: WebLLM's LLMChatPipeline state. When the world exposes internals, the
 * pipeline also carries the private fields the one-pass path uses (./tvm.ts) over the same KV
 * sequence, as the real pipeline object does.
 */
class Pipeline {
  /** WebLLM's own count of the tokens in the KV cache. */
  filledKVCacheLength = 0;
  conversation: Conversation = { system: undefined, messages: [] };
  finishReason: 'stop' | 'length' | 'abort' | undefined;
  stopped = false;
  outputIds: number[] = [];
  outputMessage = '';
  appeared = new Map<number, number>();
  random: () => number = seededRandom(Date.now());
  readonly conv: ConvConfig;

  constructor(
    readonly modelId: string,
    readonly config: ChatConfig,
    readonly processor: LogitProcessor | undefined,
    readonly sequence: KvSequence,
  ) {
    this.conv = { ...config.conv_template, ...config.conv_config };
  }

  resetChat(): void {
    this.conversation = { system: undefined, messages: [] };
    this.finishReason = undefined;
    this.sequence.clear();
    this.filledKVCacheLength = 0;
    this.processor?.resetState();
  }
}

export class StandInEngine implements WebLlmEngineSurface {
  readonly appConfig: AppConfig;
  readonly #progress: InitProgressCallback | undefined;
  readonly #registry: Map<string, LogitProcessor> | undefined;
  #pipeline: Pipeline | undefined;
  #interrupt = false;
  #lock: Promise<void> = Promise.resolve();
  /** MLCEngine's private map, which the one-pass path reaches into (absent when the world hides internals). */
  readonly loadedModelIdToPipeline: Map<string, Pipeline> | undefined;
  /** Model calls run, one-pass and forced alike (each is one sequential GPU step on a real GPU). */
  readonly #counters = { forwardCalls: 0, batchPrefillCalls: 0 };
  lastPromptIds: number[] = [];
  lastPromptText = '';
  unloadCalls = 0;
  deviceWasLost = false;

  readonly chat = {
    completions: {
      create: (request: ChatCompletionRequestStreaming): Promise<AsyncIterable<ChatCompletionChunk>> => this.#chatCompletion(request),
    },
  };

  constructor(
    private readonly world: WebLlmStandIn,
    config: MLCEngineConfig,
  ) {
    // No appConfig means WebLLM's prebuilt list, which the stand-in cannot serve.
    this.appConfig = config.appConfig ?? { model_list: [] };
    this.#progress = config.initProgressCallback;
    this.#registry = config.logitProcessorRegistry;
    this.loadedModelIdToPipeline = world.library.exposePipelines ? new Map() : undefined;
  }

  get loaded(): boolean {
    return this.#pipeline !== undefined;
  }

  /** Tokens currently held in the KV cache. */
  get kvTokens(): number {
    return this.#pipeline?.sequence.length ?? 0;
  }

  get forwardCalls(): number {
    return this.#counters.forwardCalls;
  }

  /** The loaded pipeline's bookkeeping, for tests: WebLLM's count and the cache's real length. */
  get pipelineState(): { filledKVCacheLength: number; kvLength: number } | undefined {
    const pipeline = this.#pipeline;
    return pipeline && { filledKVCacheLength: pipeline.filledKVCacheLength, kvLength: pipeline.sequence.length };
  }

  async reload(modelId: string, chatOpts?: ChatOptions): Promise<void> {
    await this.unload();
    const record = findRecord(modelId, this.appConfig);
    const modelUrl = cleanModelUrl(record.model);
    const chatConfig = { ...this.world.chatConfigJson, ...record.overrides, ...chatOpts } as unknown as ChatConfig;
    if (record.model_lib === undefined || record.model_lib === '') {
      throw webllmError(
        'MissingModelError',
        `Missing \`model_lib\` for the model with ID "${modelId}". Please ensure that \`model_lib\` is provided in \`model_list\` for each model. This URL is essential for downloading the WASM library necessary to run the model.`,
      );
    }
    if (modelUrl !== this.world.weightsBase) throw new TypeError("Failed to execute 'add' on 'Cache': Request failed");
    for (const feature of record.required_features ?? []) {
      if (!this.world.gpuFeatures.has(feature)) {
        if (feature === 'shader-f16') {
          throw webllmError(
            'ShaderF16SupportError',
            'This model requires WebGPU extension shader-f16, which is not enabled in this browser. You can try to launch Chrome Canary in command line with flag "--enable-dawn-features=allow_unsafe_apis".',
          );
        }
        throw webllmError('FeatureSupportError', `This model requires feature ${feature}, which is not yet supported by this browser.`);
      }
    }
    const report = (text: string, progress: number) => this.#progress?.({ progress, timeElapsed: 0, text });
    this.world.downloadShards(report);
    report('Loading GPU shader modules[1/2]: 50% completed, 0 secs elapsed.', 0.5);
    report('Loading GPU shader modules[2/2]: 100% completed, 0 secs elapsed.', 1);
    // WebLLM reads the processor once, here.
    const processor = this.#registry?.get(modelId);
    const endFailure = this.world.takeEndOfReloadFailure();
    if (endFailure) {
      // Out of memory: the device-lost handler has already unloaded; reload throws at its end.
      throw endFailure;
    }
    const sequence = new KvSequence(this.world.backend.ort, this.world.backend.session, this.world.dims, this.world.prefillChunkSize, chatConfig.context_window_size);
    const pipeline = new Pipeline(modelId, chatConfig, processor, sequence);
    if (this.loadedModelIdToPipeline) {
      Object.assign(pipeline, internalFields(sequence, this.world.library, this.#counters));
      this.loadedModelIdToPipeline.set(modelId, pipeline);
    }
    this.#pipeline = pipeline;
    report('Finish loading on WebGPU - stand-in (onnxruntime-node CPU)', 1);
  }

  async unload(): Promise<void> {
    this.unloadCalls++;
    this.#pipeline = undefined;
    this.loadedModelIdToPipeline?.clear();
  }

  deviceLost(): void {
    if (!this.#pipeline) return;
    this.deviceWasLost = true;
    this.#pipeline = undefined;
    this.loadedModelIdToPipeline?.clear();
  }

  async resetChat(_keepStats = false, _modelId?: string): Promise<void> {
    // WebLLM swallows ModelNotLoadedError here: resetting nothing is a no-op.
    this.#pipeline?.resetChat();
  }

  async interruptGenerate(): Promise<void> {
    this.#interrupt = true;
  }

  async forwardTokensAndSample(inputIds: number[], _isPrefill: boolean, _modelId?: string): Promise<number> {
    const pipeline = this.#require('forwardTokensAndSample');
    if (!Array.isArray(inputIds)) throw new TypeError('inputData is not an Array: WebLLM 0.2.86 treats it as image data and fails.');
    let logits: Float32Array | undefined;
    for (let start = 0; start < inputIds.length; start += this.world.prefillChunkSize) {
      logits = await this.#forward(pipeline, inputIds.slice(start, start + this.world.prefillChunkSize));
    }
    if (!logits) throw new Error('inputIds must not be empty');
    // No generation config: the chat config's defaults. Only the sampler state is committed.
    const token = this.#sample(pipeline, logits, undefined);
    pipeline.processor?.processSampledToken(token);
    return token;
  }

  #require(requestName: string): Pipeline {
    if (!this.#pipeline) throw modelNotLoaded(requestName);
    return this.#pipeline;
  }

  /** One model forward (WebLLM's embedAndForward); the logits of the last position only, as its prefill/decode kernels keep. */
  async #forward(pipeline: Pipeline, ids: number[]): Promise<Float32Array> {
    // WebLLM's own check around every forward (it throws "Internal Error: filledKVCacheLength
    // does not match expected value."): code that pops tokens must keep the count in step.
    if (pipeline.filledKVCacheLength !== pipeline.sequence.length) {
      throw new Error(`Internal Error: filledKVCacheLength (${pipeline.filledKVCacheLength}) does not match the KV cache (${pipeline.sequence.length}).`);
    }
    this.#counters.forwardCalls++;
    const [logits] = await pipeline.sequence.forward(ids, 1);
    pipeline.filledKVCacheLength += ids.length;
    return logits as Float32Array;
  }

  /** WebLLM's sampleTokenFromLogits: processor (on a fresh copy), penalties, temperature, top-p. */
  #sample(pipeline: Pipeline, raw: Float32Array, request: ChatCompletionRequestStreaming | undefined): number {
    let logits: Float32Array = Float32Array.from(raw);
    if (pipeline.processor) logits = pipeline.processor.processLogits(logits);
    const config = pipeline.config;
    const temperature = Math.max(1e-6, request?.temperature ?? config.temperature);
    const topP = Math.max(request?.top_p ?? config.top_p, 1e-5);
    const repetition = request?.repetition_penalty ?? config.repetition_penalty;
    const frequency = request?.frequency_penalty ?? config.frequency_penalty;
    const presence = request?.presence_penalty ?? config.presence_penalty;
    for (const [token, count] of pipeline.appeared) {
      let value = logits[token] as number;
      value = value > 0 ? value / repetition : value * repetition;
      logits[token] = value - frequency * count - presence;
    }
    let max = -Infinity;
    for (const value of logits) if (value > max) max = value;
    const probs = Float64Array.from(logits, (value) => Math.exp((value - max) / temperature));
    let total = 0;
    for (const p of probs) total += p;
    // Nucleus: the most probable tokens until their mass reaches top_p (all of them at top_p = 1,
    // where sorting 32k entries per token is skipped).
    let order: ArrayLike<number> = { length: probs.length };
    let kept = probs.length;
    let mass = total;
    if (topP < 1) {
      const sorted = Array.from(probs.keys()).sort((a, b) => (probs[b] as number) - (probs[a] as number));
      order = sorted;
      mass = 0;
      kept = 0;
      while (kept < sorted.length && mass < topP * total) mass += probs[sorted[kept++] as number] as number;
    }
    const at = (i: number) => (topP < 1 ? (order[i] as number) : i);
    let u = pipeline.random() * mass;
    let last = 0;
    for (let i = 0; i < kept; i++) {
      const token = at(i);
      const p = probs[token] as number;
      if (p > 0) last = token;
      if (u < p) return token;
      u -= p;
    }
    return last;
  }

  async #chatCompletion(request: ChatCompletionRequestStreaming): Promise<AsyncIterable<ChatCompletionChunk>> {
    const pipeline = this.#require('ChatCompletionRequest');
    if (request.stream !== true) throw new Error('stand-in: only streaming chat completions are modelled');
    if ((request.n ?? 1) > 1) throw webllmError('StreamingCountError', 'When streaming, `n` cannot be > 1.');
    return this.#generate(request, pipeline);
  }

  async *#generate(request: ChatCompletionRequestStreaming, pipeline: Pipeline): AsyncGenerator<ChatCompletionChunk> {
    let release = () => {};
    const previous = this.#lock;
    this.#lock = new Promise((resolve) => (release = resolve));
    await previous;
    let prefilled = false;
    try {
      if (request.seed !== undefined && request.seed !== null) pipeline.random = seededRandom(request.seed);
      this.#interrupt = false;
      const id = `chatcmpl-standin-${this.forwardCalls}`;
      const chunk = (content: string | undefined, finish: ChatCompletionChunk['choices'][number]['finish_reason']): ChatCompletionChunk => ({
        id,
        object: 'chat.completion.chunk',
        created: 0,
        model: pipeline.modelId,
        choices: [{ index: 0, delta: content === undefined ? {} : { content, role: 'assistant' }, finish_reason: finish, logprobs: null }],
      });
      let sent = 0;
      const delta = (): ChatCompletionChunk | undefined => {
        // WebLLM holds a chunk back while the text ends in an incomplete UTF-8 sequence.
        const trailing = /\uFFFD*$/.exec(pipeline.outputMessage)?.[0].length ?? 0;
        if (trailing % 4 !== 0) return undefined;
        const text = pipeline.outputMessage.slice(sent);
        sent = pipeline.outputMessage.length;
        return chunk(text, null);
      };
      let token = await this.#prefill(request, pipeline);
      prefilled = true;
      const first = delta();
      if (first) yield first;
      while (!pipeline.stopped) {
        if (this.#interrupt) {
          this.#triggerStop(pipeline);
          break;
        }
        token = await this.#decode(request, pipeline, token);
        const next = delta();
        if (next) yield next;
      }
      yield chunk(undefined, pipeline.finishReason ?? null);
    } finally {
      if (prefilled && !pipeline.stopped) this.#triggerStop(pipeline);
      if (request.seed !== undefined && request.seed !== null) pipeline.random = seededRandom(Date.now());
      release();
    }
  }

  async #prefill(request: ChatCompletionRequestStreaming, pipeline: Pipeline): Promise<number> {
    const messages = request.messages;
    const last = messages.at(-1);
    if (!last || (last.role !== 'user' && last.role !== 'tool')) throw webllmError('MessageOrderError', 'The last message should be from the `user` or `tool`.');
    const history: Conversation = { system: undefined, messages: [] };
    messages.slice(0, -1).forEach((message, index) => {
      if (message.role === 'system') {
        if (index !== 0) throw webllmError('SystemMessageOrderError', 'System prompt should always be the first message in `messages`.');
        history.system = message.content;
      } else if (message.role === 'user' || message.role === 'assistant') {
        history.messages.push([message.role, pipeline.conv.roles[message.role], String(message.content)]);
      }
    });
    const previousFinish = pipeline.finishReason;
    if (previousFinish === 'abort' || previousFinish === 'length' || !sameConversation(pipeline.conversation, history) || history.messages.length === 0) {
      pipeline.resetChat();
      pipeline.conversation = history;
    }
    // A new round: appended user message and reply header.
    pipeline.conversation.messages.push(['user', pipeline.conv.roles.user, String(last.content)], ['assistant', pipeline.conv.roles.assistant, undefined]);
    pipeline.stopped = false;
    pipeline.finishReason = undefined;
    pipeline.outputIds = [];
    pipeline.outputMessage = '';
    pipeline.appeared = new Map();

    const fresh = pipeline.filledKVCacheLength === 0;
    const pieces = promptPieces(pipeline.conv, pipeline.conversation, fresh ? 0 : pipeline.conversation.messages.length - 2, fresh);
    const ids: number[] = fresh ? [...(pipeline.conv.system_prefix_token_ids ?? [])] : [];
    let promptTokens = 0;
    for (const piece of pieces) {
      const encoded = this.world.tokenizer.encode(piece, { add_special_tokens: false });
      promptTokens += encoded.length;
      ids.push(...encoded);
    }
    if (pipeline.config.sliding_window_size === -1 && promptTokens + pipeline.filledKVCacheLength > pipeline.config.context_window_size) {
      throw webllmError(
        'ContextWindowSizeExceededError',
        `Prompt tokens exceed context window size: number of prompt tokens: ${promptTokens}; context window size: ${pipeline.config.context_window_size}\nConsider shortening the prompt, or increase \`context_window_size\`, or using sliding window via \`sliding_window_size\`.`,
      );
    }
    this.lastPromptIds = ids;
    this.lastPromptText = pieces.join('');
    let logits: Float32Array | undefined;
    for (let start = 0; start < ids.length; start += this.world.prefillChunkSize) {
      logits = await this.#forward(pipeline, ids.slice(start, start + this.world.prefillChunkSize));
    }
    const token = this.#sample(pipeline, logits as Float32Array, request);
    this.#commit(pipeline, token, request);
    return token;
  }

  async #decode(request: ChatCompletionRequestStreaming, pipeline: Pipeline, previous: number): Promise<number> {
    const logits = await this.#forward(pipeline, [previous]);
    const token = this.#sample(pipeline, logits, request);
    this.#commit(pipeline, token, request);
    return token;
  }

  /** processSampledToken, then WebLLM's processNextToken stop rules. */
  #commit(pipeline: Pipeline, token: number, request: ChatCompletionRequestStreaming): void {
    pipeline.processor?.processSampledToken(token);
    if (pipeline.conv.stop_token_ids.includes(token)) {
      pipeline.stopped = true;
      pipeline.finishReason = 'stop';
    }
    if (!pipeline.stopped) {
      pipeline.outputIds.push(token);
      pipeline.appeared.set(token, (pipeline.appeared.get(token) ?? 0) + 1);
    }
    let message = this.world.tokenizer.decode(pipeline.outputIds, { skip_special_tokens: false });
    const stops = [...pipeline.conv.stop_str, ...(typeof request.stop === 'string' ? [request.stop] : (request.stop ?? []))];
    for (const stop of stops) {
      const at = message.lastIndexOf(stop);
      if (at !== -1) {
        message = message.slice(0, at);
        pipeline.stopped = true;
        pipeline.finishReason = 'stop';
        break;
      }
    }
    pipeline.outputMessage = message;
    if (pipeline.outputIds.length >= (request.max_tokens ?? Infinity)) {
      pipeline.stopped = true;
      pipeline.finishReason = 'length';
    }
    if (pipeline.filledKVCacheLength === pipeline.config.context_window_size) {
      pipeline.stopped = true;
      pipeline.finishReason = 'length';
    }
    if (pipeline.stopped) this.#finishReply(pipeline);
  }

  #triggerStop(pipeline: Pipeline): void {
    if (pipeline.stopped) return;
    pipeline.stopped = true;
    pipeline.finishReason = 'abort';
    this.#finishReply(pipeline);
  }

  #finishReply(pipeline: Pipeline): void {
    const last = pipeline.conversation.messages.at(-1);
    if (last && last[2] === undefined) last[2] = pipeline.outputMessage;
  }
}

function sameConversation(a: Conversation, b: Conversation): boolean {
  return a.system === b.system && a.messages.length === b.messages.length && a.messages.every((m, i) => m.every((part, j) => part === b.messages[i]?.[j]));
}

/** WebLLM's getPromptArray (from 0, with the system prompt) / getPromptArrayLastRound (from `start`, without). */
function promptPieces(conv: ConvConfig, conversation: Conversation, start: number, addSystem: boolean): string[] {
  const systemMessage = conversation.system ?? conv.system_message;
  const system = systemMessage === '' && conv.render_empty_system_message === false ? '' : conv.system_template.replace('{system_message}', systemMessage);
  const pieces = addSystem && system !== '' ? [system] : [];
  const sep = (value: string | undefined) => (value || value === '' ? value : ': ');
  for (let i = start; i < conversation.messages.length; i++) {
    const [, roleName, content] = conversation.messages[i] as [Role, string, string | undefined];
    if (content === undefined) {
      pieces.push(roleName + sep(conv.role_empty_sep));
      continue;
    }
    const prefix = conv.add_role_after_system_message === false && system !== '' && i === 0 ? '' : roleName + sep(conv.role_content_sep);
    pieces.push(prefix + content + conv.seps[i % conv.seps.length]);
  }
  return pieces;
}

/** mulberry32: WebLLM seeds its sampler per request; any seeded generator models that. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

