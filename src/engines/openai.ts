/**
 * OpenAI-compatible HTTP engine, through the `openai` SDK: a vLLM server, `npm run cli -- serve`,
 * or a hosted API.
 *
 * Owns: streaming chat generation (seed, temperature, top_p, max_tokens; cancellation via the
 * signal), teacher-forced scoring of token ids through the completions endpoint, and tokenization
 * through a server's `/tokenize`. Scoring uses one of two server features, detected on the first
 * `score` (`scoring: 'auto'`) or forced:
 *  - `prompt_logprobs` (vLLM): `echo` with `max_tokens: 0` and `prompt_logprobs: 1`; each prompt
 *    position comes back keyed by token id, so the scored token is checked, not assumed;
 *  - `echo` (legacy completions): `echo: true, logprobs: 1, max_tokens: 0` (or 1 where a server
 *    refuses 0), reading `choices[i].logprobs.token_logprobs` at the continuation's positions.
 * All continuations of a request go in one call, as a batch of token-id prompts.
 *
 * The server applies its own chat template when generating; `info.chatTemplate` and the special
 * token ids are what the core uses to build scoring inputs, so they must describe the served
 * model: at creation the engine learns them from the server and checks the configured ones
 * against it (openaiServerFacts.ts), and warns when prefix caching is on.
 *
 * Failures handled: a server without prompt log-probs or `/tokenize` is refused with AppError
 * 'unsupported' saying what to use instead; a template or BOS/EOS that does not match the server
 * is refused naming both; an unreachable server, a rejected key, an unknown model, context
 * overflow and any server error once the scoring feature is known get one-line messages saying
 * what to fix. The API key is read from the environment variable named in the options, is never
 * stored in `info`, and is scrubbed from every error message. Every response read is zod-parsed.
 */
import { APIError, type OpenAI } from 'openai';
import { z } from 'zod';
import { throwIfCancelled, type CancelSignal } from '../core/cancel.ts';
import type { ChatMessage } from '../core/chat.ts';
import { templateFromInfo, type ChatTemplate } from '../core/chatTemplate.ts';
import {
  assertScoreFits,
  ChatTemplateInfo,
  GenerateOptions,
  ScoreRequest as ScoreRequestSchema,
  type Engine,
  type EngineInfo,
  type FinishReason,
  type GenerateOptionsInput,
  type GenerateResult,
  type ProgressListener,
  type ScoreRequest,
  type ScoreResult,
  type TokenListener,
} from '../core/engine.ts';
import { AppError } from '../core/errors.ts';
import { createOpenAiClient, oneLine, redact, resolveApiKey, serverMessage, serverRoot, toAppError } from './openaiClient.ts';
import { learnServerFacts, ZEPHYR_FACTS, type ServerFacts } from './openaiServerFacts.ts';

export const ScoringFeature = z.enum(['prompt_logprobs', 'echo']);
export type ScoringFeature = z.infer<typeof ScoringFeature>;

/** Used when neither the options nor the server's model list give a context window. */
export const FALLBACK_CONTEXT_WINDOW = 4096;

export const OpenAiEngineOptions = z.object({
  /** Up to and including the API version, e.g. `http://127.0.0.1:8000/v1`. */
  baseUrl: z.url(),
  model: z.string().min(1),
  /** NAME of the environment variable holding the API key; no key is sent when absent. */
  apiKeyEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
    .optional(),
  scoring: z.enum(['auto', ...ScoringFeature.options]).default('auto'),
  /**
   * The served model's chat template, for building scoring inputs. Absent: the server's
   * (/tokenizer_info), else Zephyr's; either way checked against the server's own rendering.
   */
  chatTemplate: ChatTemplateInfo.optional(),
  /** Absent: learned from the server's /tokenize; present: checked against it. */
  bosTokenId: z.number().int().nonnegative().optional(),
  eosTokenId: z.number().int().nonnegative().optional(),
  /** Overrides the server's `max_model_len`. */
  contextWindow: z.number().int().positive().optional(),
  timeoutMs: z.number().int().positive().default(600_000),
  /** The SDK's own retries (it honours Retry-After); batch jobs use the provider layer instead. */
  maxRetries: z.number().int().nonnegative().default(2),
  /** Check at creation that the server is up and serves the model, and learn its template and special tokens. */
  probe: z.boolean().default(true),
});
export type OpenAiEngineOptions = z.input<typeof OpenAiEngineOptions>;

// ---------------------------------------------------------------------------------------------
// Response schemas (only the fields read)

const ModelList = z.object({ data: z.array(z.object({ id: z.string(), max_model_len: z.number().int().positive().optional() })) });

const ChatChunk = z.object({
  choices: z.array(
    z.object({
      index: z.number().int().nonnegative(),
      delta: z.object({ content: z.string().nullish() }).nullish(),
      finish_reason: z.string().nullish(),
    }),
  ),
  usage: z.object({ prompt_tokens: z.number().int().nonnegative(), completion_tokens: z.number().int().nonnegative() }).nullish(),
});

const LogprobEntry = z.union([z.number(), z.object({ logprob: z.number() })]);

const PromptLogprobsResponse = z.object({
  choices: z.array(
    z.object({
      index: z.number().int().nonnegative(),
      prompt_logprobs: z.array(z.record(z.string(), LogprobEntry).nullable()),
    }),
  ),
});

const EchoResponse = z.object({
  choices: z.array(
    z.object({
      index: z.number().int().nonnegative(),
      logprobs: z.object({ token_logprobs: z.array(z.number().nullable()) }),
    }),
  ),
});

const TokenizeResponse = z.object({ tokens: z.array(z.number().int().nonnegative()) });

// ---------------------------------------------------------------------------------------------

/** `onWarning` hears what the user should know but that does not stop the engine (prefix caching on, say). */
export async function createOpenAiEngine(input: OpenAiEngineOptions, onProgress: ProgressListener = () => {}, onWarning: (message: string) => void = () => {}): Promise<Engine> {
  const options = OpenAiEngineOptions.parse(input);
  const apiKey = resolveApiKey(options.apiKeyEnv);
  const client = createOpenAiClient({ baseUrl: options.baseUrl, apiKey, timeoutMs: options.timeoutMs, maxRetries: options.maxRetries });
  const secrets = apiKey ? [apiKey] : [];
  onProgress({ stage: 'init', text: `Connecting to ${options.baseUrl}` });
  const served = options.probe ? await probeModel(client, options, secrets) : undefined;
  const contextWindow = options.contextWindow ?? served?.max_model_len ?? FALLBACK_CONTEXT_WINDOW;
  const configured = { chatTemplate: options.chatTemplate, bosTokenId: options.bosTokenId, eosTokenId: options.eosTokenId };
  const learned = options.probe
    ? await learnServerFacts({ client, root: serverRoot(options.baseUrl), model: options.model, toAppError: (error, what) => toAppError(error, what, options, secrets) }, configured)
    : undefined;
  const facts: ServerFacts = learned ?? {
    chatTemplate: options.chatTemplate ?? ZEPHYR_FACTS.chatTemplate,
    bosTokenId: options.bosTokenId ?? ZEPHYR_FACTS.bosTokenId,
    eosTokenId: options.eosTokenId ?? ZEPHYR_FACTS.eosTokenId,
    warnings: [],
  };
  for (const warning of facts.warnings) onWarning(redact(warning, secrets));
  onProgress({ stage: 'ready', fraction: 1, text: 'Ready' });
  return new OpenAiEngine(client, options, facts, contextWindow, secrets);
}

/** The model's entry in `/models`; undefined when the server has no model list. */
async function probeModel(
  client: OpenAI,
  options: z.output<typeof OpenAiEngineOptions>,
  secrets: readonly string[],
): Promise<z.infer<typeof ModelList>['data'][number] | undefined> {
  let list: z.infer<typeof ModelList>;
  try {
    list = ModelList.parse(await client.get('/models'));
  } catch (error) {
    // Some compatible servers have no model list: nothing to check then.
    if (error instanceof APIError && (error.status === 404 || error.status === 405)) return undefined;
    if (error instanceof z.ZodError) return undefined;
    throw toAppError(error, `GET ${options.baseUrl}/models`, options, secrets);
  }
  const entry = list.data.find((model) => model.id === options.model);
  if (!entry) {
    const served = list.data.map((model) => model.id).join(', ') || 'none';
    throw new AppError('model-mismatch', `${options.baseUrl} does not serve "${options.model}" (it serves: ${served}): pass one of those as the model.`);
  }
  return entry;
}

/** Thrown inside scoring when the server lacks a feature, so `auto` can try the next one. */
class FeatureMissing extends Error {
  /** Set when the server refused the request (an HTTP status), not when its answer lacked the data. */
  constructor(
    message: string,
    readonly status?: number,
    readonly serverMessage = '',
  ) {
    super(message);
  }
}

class OpenAiEngine implements Engine {
  readonly #template: ChatTemplate;
  readonly #controllers = new Set<AbortController>();
  #feature: ScoringFeature | undefined;
  /** Echo with max_tokens 0 first; 1 where the server insists on generating something. */
  #echoMaxTokens: 0 | 1 = 0;
  /** The scoring feature has answered at least once: later refusals are about their request. */
  #confirmed = false;
  /** Why tokenizing (and so scoring) is refused: no /tokenize, or a template that could not be checked. */
  #tokenizeRefusal: string | undefined;

  constructor(
    private readonly client: OpenAI,
    private readonly options: z.output<typeof OpenAiEngineOptions>,
    private readonly facts: ServerFacts,
    private readonly contextWindow: number,
    private readonly secrets: readonly string[],
  ) {
    this.#template = templateFromInfo(facts.chatTemplate);
    this.#feature = options.scoring === 'auto' ? undefined : options.scoring;
    this.#tokenizeRefusal = facts.scoringRefusal;
  }

  get info(): EngineInfo {
    return {
      backend: 'openai',
      model: this.options.model,
      device: `http ${new URL(this.options.baseUrl).host}`,
      contextWindow: this.contextWindow,
      bosTokenId: this.facts.bosTokenId,
      eosTokenId: this.facts.eosTokenId,
      chatTemplate: this.facts.chatTemplate,
      scoringMethod: this.#feature ? methodName(this.#feature) : 'openai (prompt_logprobs or echo, detected on first score)',
    };
  }

  async generate(
    messages: readonly ChatMessage[],
    optionsInput: GenerateOptionsInput,
    onToken: TokenListener = () => {},
    signal?: CancelSignal,
  ): Promise<GenerateResult> {
    throwIfCancelled(signal);
    const options = GenerateOptions.parse(optionsInput);
    const prompt = this.#template.render(messages, { addGenerationPrompt: true });
    const body: OpenAI.Chat.ChatCompletionCreateParamsStreaming & { top_k?: number } = {
      model: this.options.model,
      messages: messages.map(({ role, content }) => ({ role, content })),
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: options.maxNewTokens,
      temperature: options.temperature,
      top_p: options.topP,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      // Not an OpenAI parameter (hosted APIs reject unknown ones): sent only when asked for.
      ...(options.topK > 0 ? { top_k: options.topK } : {}),
    };
    let text = '';
    let finishReason: FinishReason = 'length';
    let promptTokenCount = 0;
    await this.#withAbort(signal, async (abortSignal) => {
      try {
        const stream = await this.client.chat.completions.create(body, { signal: abortSignal });
        for await (const raw of stream) {
          const chunk = ChatChunk.parse(raw);
          if (chunk.usage) promptTokenCount = chunk.usage.prompt_tokens;
          const choice = chunk.choices.find((c) => c.index === 0);
          const delta = choice?.delta?.content ?? '';
          if (delta) {
            text += delta;
            onToken(delta);
          }
          if (choice?.finish_reason) finishReason = choice.finish_reason === 'length' ? 'length' : 'eos';
        }
        // The SDK ends the stream quietly when it is aborted.
        if (abortSignal.aborted) finishReason = 'aborted';
      } catch (error) {
        // Cancelled mid-stream: like the local engines, return what arrived, marked aborted.
        if (abortSignal.aborted) {
          finishReason = 'aborted';
          return;
        }
        throw toAppError(error, `POST ${this.options.baseUrl}/chat/completions`, this.options, this.secrets);
      }
    });
    // The chat API returns text, not token ids; `prompt` is the configured template's rendering.
    return { text, tokenIds: [], promptTokenCount, finishReason, prompt };
  }

  async score(requestInput: ScoreRequest, signal?: CancelSignal): Promise<ScoreResult> {
    const request = ScoreRequestSchema.parse(requestInput);
    assertScoreFits(request, this.options.model, this.contextWindow);
    const forwardTokens = request.continuations.reduce((sum, c) => sum + request.promptIds.length + c.length, 0);
    const known = this.#feature;
    if (known) {
      try {
        const logprobs = await this.#scoreWith(known, request, signal);
        this.#confirmed = true;
        return { logprobs, method: methodName(known), forwardTokens };
      } catch (error) {
        throw error instanceof FeatureMissing ? this.#failure(known, error) : error;
      }
    }
    const reasons: string[] = [];
    for (const feature of ScoringFeature.options) {
      try {
        const logprobs = await this.#scoreWith(feature, request, signal);
        this.#feature = feature;
        this.#confirmed = true;
        return { logprobs, method: methodName(feature), forwardTokens };
      } catch (error) {
        if (!(error instanceof FeatureMissing)) throw error;
        reasons.push(`${feature}: ${error.message}`);
      }
    }
    throw this.#refusal(reasons.join('; '));
  }

  async tokenize(text: string): Promise<number[]> {
    if (this.#tokenizeRefusal) throw new AppError('unsupported', this.#tokenizeRefusal);
    const url = `${serverRoot(this.options.baseUrl)}/tokenize`;
    let raw: unknown;
    try {
      raw = await this.client.post(url, { body: { model: this.options.model, prompt: text, add_special_tokens: false } });
    } catch (error) {
      if (error instanceof APIError && (error.status === 404 || error.status === 405)) {
        this.#tokenizeRefusal = `${url} does not exist (HTTP ${error.status}): tokenization, and so scoring, needs a vLLM server or \`npm run cli -- serve\`.`;
        throw new AppError('unsupported', this.#tokenizeRefusal);
      }
      throw toAppError(error, `POST ${url}`, this.options, this.secrets);
    }
    const parsed = TokenizeResponse.safeParse(raw);
    if (!parsed.success) throw new AppError('unsupported', `${url} answered without a token list: tokenization needs a vLLM server or \`npm run cli -- serve\`.`);
    return parsed.data.tokens;
  }

  async dispose(): Promise<void> {
    // The SDK holds no connection of its own; stop whatever is still running.
    for (const controller of this.#controllers) controller.abort();
    this.#controllers.clear();
  }

  #refusal(detail: string): AppError {
    return new AppError(
      'unsupported',
      redact(
        `${this.options.baseUrl} (model ${this.options.model}) does not return prompt log-probs: use a vLLM server or \`npm run cli -- serve\`${detail ? ` (${detail})` : ''}.`,
        this.secrets,
      ),
    );
  }

  /**
   * A known feature failed. Once it has worked, a refusal is about this request (too long, a bad
   * token) and a missing field is a broken answer; a forced feature that never worked is refused
   * as the auto-detection refuses.
   */
  #failure(feature: ScoringFeature, error: FeatureMissing): AppError {
    if (error.status !== undefined && (this.#confirmed || error.status === 400 || error.status === 422)) {
      const what = `POST ${this.options.baseUrl}/completions (scoring with ${feature})`;
      const detail = error.serverMessage ? `: ${oneLine(error.serverMessage)}` : '';
      if (/context length|too long|maximum.*(length|tokens)/i.test(error.serverMessage)) {
        return new AppError('context-exceeded', redact(`${what} was refused (HTTP ${error.status})${detail}. Shorten the prefix or the answers, or set truncation limits.`, this.secrets));
      }
      return new AppError('invalid-input', redact(`${what} was refused (HTTP ${error.status})${detail}.`, this.secrets));
    }
    if (this.#confirmed) return new AppError('unsupported', redact(`${this.options.baseUrl} answered a scoring request without what it returned before (${feature}: ${oneLine(error.message)}): check the server.`, this.secrets));
    return this.#refusal(`${feature}: ${error.message}`);
  }

  /** Scores with one feature; FeatureMissing when the server shows it lacks it. */
  async #scoreWith(feature: ScoringFeature, request: ScoreRequest, signal?: CancelSignal): Promise<number[][]> {
    const sequences = request.continuations.map((continuation) => [...request.promptIds, ...continuation]);
    return feature === 'prompt_logprobs' ? this.#scorePromptLogprobs(sequences, request, signal) : this.#scoreEcho(sequences, request, signal);
  }

  async #scorePromptLogprobs(sequences: number[][], request: ScoreRequest, signal?: CancelSignal): Promise<number[][]> {
    const body = { model: this.options.model, prompt: sequences, echo: true, max_tokens: 0, temperature: 0, prompt_logprobs: 1 };
    const parsed = PromptLogprobsResponse.safeParse(await this.#completions(body, signal));
    if (!parsed.success) throw new FeatureMissing('no prompt_logprobs in the response');
    const choices = byIndex(parsed.data.choices, sequences.length);
    return request.continuations.map((continuation, i) => {
      const positions = (choices[i] as (typeof choices)[number]).prompt_logprobs;
      if (positions.length < (sequences[i] as number[]).length) throw new FeatureMissing(`prompt_logprobs has ${positions.length} positions for ${(sequences[i] as number[]).length} tokens`);
      return continuation.map((token, t) => {
        const entry = positions[request.promptIds.length + t]?.[String(token)];
        if (entry === undefined) throw new FeatureMissing(`prompt_logprobs lacks the prompt token ${token} at position ${request.promptIds.length + t}`);
        return typeof entry === 'number' ? entry : entry.logprob;
      });
    });
  }

  async #scoreEcho(sequences: number[][], request: ScoreRequest, signal?: CancelSignal): Promise<number[][]> {
    const body = (maxTokens: 0 | 1) => ({ model: this.options.model, prompt: sequences, echo: true, logprobs: 1, max_tokens: maxTokens, temperature: 0 });
    let raw: unknown;
    try {
      raw = await this.#completions(body(this.#echoMaxTokens), signal);
    } catch (error) {
      if (!(error instanceof FeatureMissing) || this.#echoMaxTokens === 1 || this.#confirmed) throw error;
      // Some servers refuse max_tokens 0; with 1 the generated token is simply ignored.
      raw = await this.#completions(body(1), signal);
      this.#echoMaxTokens = 1;
    }
    const parsed = EchoResponse.safeParse(raw);
    if (!parsed.success) throw new FeatureMissing('no logprobs.token_logprobs in the response');
    const choices = byIndex(parsed.data.choices, sequences.length);
    return request.continuations.map((continuation, i) => {
      const values = (choices[i] as (typeof choices)[number]).logprobs.token_logprobs;
      // Echo returns the prompt's positions first; fewer means the server did not echo.
      if (values.length < (sequences[i] as number[]).length) throw new FeatureMissing(`token_logprobs has ${values.length} entries for ${(sequences[i] as number[]).length} prompt tokens`);
      return continuation.map((_, t) => {
        const value = values[request.promptIds.length + t];
        if (typeof value !== 'number') throw new FeatureMissing(`token_logprobs is null at position ${request.promptIds.length + t}`);
        return value;
      });
    });
  }

  /** POST /completions; a 4xx that is not about credentials or rate means the feature is missing. */
  async #completions(body: Record<string, unknown>, signal?: CancelSignal): Promise<unknown> {
    return this.#withAbort(signal, async (abortSignal) => {
      try {
        return await this.client.post<unknown>('/completions', { body, signal: abortSignal });
      } catch (error) {
        if (error instanceof APIError && typeof error.status === 'number' && [400, 404, 405, 422, 501].includes(error.status)) {
          const message = serverMessage(error);
          throw new FeatureMissing(redact(`HTTP ${error.status}${message ? `: ${oneLine(message)}` : ''}`, this.secrets), error.status, message);
        }
        throw toAppError(error, `POST ${this.options.baseUrl}/completions`, this.options, this.secrets);
      }
    });
  }

  /** Runs `work` with an AbortSignal tied to the caller's signal and to `dispose`. */
  async #withAbort<T>(signal: CancelSignal | undefined, work: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#controllers.add(controller);
    try {
      return await work(controller.signal);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#controllers.delete(controller);
    }
  }
}

function methodName(feature: ScoringFeature): string {
  return feature === 'prompt_logprobs' ? 'openai-prompt-logprobs' : 'openai-echo';
}

/** Choices ordered by index, one per prompt. */
function byIndex<T extends { index: number }>(choices: readonly T[], count: number): T[] {
  const ordered = [...choices].sort((a, b) => a.index - b.index);
  if (ordered.length !== count || ordered.some((choice, i) => choice.index !== i)) {
    throw new FeatureMissing(`expected ${count} choices (one per prompt), got ${choices.length}`);
  }
  return ordered;
}
