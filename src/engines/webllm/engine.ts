/**
 * A loaded WebLLM model as an Engine: streaming generation with cancellation (top-k through the
 * LogitProcessor, since WebLLM's API lacks it), scoring through the method `WebLlmScorer` chose
 * on this GPU, and tokenization with the model's own tokenizer.json. WebLLM's low-level calls
 * take no lock, so every call into the engine runs one at a time through one queue.
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { ChatCompletionMessageParam, ChatCompletionRequestStreaming } from '@mlc-ai/web-llm';
import { throwIfCancelled, type CancelSignal } from '../../core/cancel.ts';
import type { WebLlmCatalogEntry } from '../../core/catalog.ts';
import type { ChatMessage } from '../../core/chat.ts';
import type { ChatTemplateInfo, Engine, EngineInfo, FinishReason, GenerateOptionsInput, GenerateResult, ScoreRequest, ScoreResult, TokenListener } from '../../core/engine.ts';
import { assertScoreFits, GenerateOptions, ScoreRequest as ScoreRequestSchema } from '../../core/engine.ts';
import { AppError, assertFitsContext } from '../../core/errors.ts';
import { classifyWebLlmError, type ErrorContext } from './errors.ts';
import type { ModelFiles } from './modelFiles.ts';
import type { WebLlmEngineSurface } from './options.ts';
import { renderWebLlmPrompt, type RenderedPrompt } from './prompt.ts';
import type { ScoringComparison, WebLlmScorer } from './scoring.ts';
import type { ProcessorMode, TeacherForcingProcessor } from './teacherForcing.ts';

/** The Engine, plus what only WebLLM's own prompt building knows. */
export interface WebLlmEngine extends Engine {
  /** The ids WebLLM prefills for a fresh chat request: the prefix ids, then each prompt piece tokenized on its own. */
  promptTokenIds(messages: readonly ChatMessage[]): Promise<number[]>;
  /** Forced decoding against the fast scoring path on one request, timed and compared (undefined without a fast path). */
  compareScoringPaths(request: ScoreRequest, rounds: number): Promise<ScoringComparison | undefined>;
}


export class LoadedWebLlmEngine implements WebLlmEngine {
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
    private readonly scorer: WebLlmScorer,
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
      scoringMethod: scorer.plannedMethod,
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
    onToken: TokenListener = () => {},
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
            onToken(delta, this.processor.generatedCount);
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
    // Checked here: WebLLM's low-level calls do not check the window, and overflowing the KV
    // cache fails in the runtime with no useful message.
    assertScoreFits(request, this.entry.label, this.info.contextWindow);
    return this.#exclusive(async () => {
      throwIfCancelled(signal);
      const scored = await this.scorer.score(request.promptIds, request.continuations, signal);
      return { logprobs: scored.logprobs, method: scored.method, forwardTokens: scored.forwardTokens, ...(scored.check ? { check: scored.check } : {}) };
    });
  }

  async compareScoringPaths(requestInput: ScoreRequest, rounds: number): Promise<ScoringComparison | undefined> {
    const request = ScoreRequestSchema.parse(requestInput);
    assertScoreFits(request, this.entry.label, this.info.contextWindow);
    return this.#exclusive(() => this.scorer.compare(request.promptIds, request.continuations, rounds));
  }

  /** One forced step end to end before "ready": proves the LogitProcessor is attached. */
  async warmUp(): Promise<void> {
    await this.#exclusive(() => this.scorer.forced([this.info.bosTokenId], [[this.info.eosTokenId]]));
  }

  /** Unloads the model; a second call does nothing. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    await this.#exclusive(async () => {
      this.processor.disarm();
      await this.engine.unload();
    });
    this.#disposed = true;
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

