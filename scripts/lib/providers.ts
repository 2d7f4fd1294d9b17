/**
 * The roles a dataset build or an evaluation calls (src/core/providers.ts) made real and
 * resilient: an OpenAI-compatible chat provider, a local chat provider over an Engine, an HTTP
 * reward provider, and local Transformers.js embedder and reward providers (loaded lazily from
 * localModelProviders.ts so importing this module does not start ONNX Runtime).
 *
 * Owns: the request cache lookup before any call (a re-run of a finished build makes no network
 * call), retries/backoff/Retry-After and the per-endpoint concurrency limit (resilientCall.ts),
 * usage counts (scripts/lib/usage.ts: calls, retries, tokens, cache hits, estimated cost from a price table).
 *
 * Failures handled: see resilientCall.ts for HTTP; responses of the wrong shape (zod) stop with
 * "not the expected API"; a server that ignores `n` is caught (fewer choices than asked); `top_k`
 * goes only to servers that take it (`acceptsTopK`: not api.openai.com), and the run is told once
 * when a request's top-k is left out; the API
 * key comes from the environment variable named in the options, is scrubbed from every message
 * and never reaches the cache (the cache key covers the request body only).
 */
import { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import pLimit from 'p-limit';
import { z } from 'zod';
import type { CancelSignal } from '../../src/core/cancel.ts';
import type { Engine } from '../../src/core/engine.ts';
import { AppError, isAbortError } from '../../src/core/errors.ts';
import { acceptsTopK, type ChatProvider, type ChatRequest, type ChatResponse, type EmbeddingProvider, type RewardProvider } from '../../src/core/providers.ts';
import { createOpenAiClient, resolveApiKey, serverMessage } from '../../src/engines/openaiClient.ts';
import type { RequestCache } from './requestCache.ts';
import { UsageCounter } from './usage.ts';
import {
  DEFAULT_RETRY_POLICY,
  endpointFor,
  parseRetryAfter,
  resilientCall,
  type AttemptFailure,
  type ResilientCallOptions,
  type RetryPolicy,
} from './resilientCall.ts';

// ---------------------------------------------------------------------------------------------
// Usage

/** USD per million tokens. */
export const ModelPrice = z.object({ promptPerMillion: z.number().nonnegative(), completionPerMillion: z.number().nonnegative() });
export type ModelPrice = z.infer<typeof ModelPrice>;
/** Model name → price, as given in the run's config. */
export const PriceTable = z.record(z.string(), ModelPrice);
export type PriceTable = z.infer<typeof PriceTable>;

export interface ProviderStats {
  /** Calls answered by the service (successful requests). */
  calls: number;
  /** HTTP requests sent, retries included. */
  requests: number;
  retries: number;
  /** Calls that stopped with an error after their retries. */
  failures: number;
  cacheHits: number;
  promptTokens: number;
  completionTokens: number;
  /** From the price table; null when the model has no price there. */
  estimatedCostUsd: number | null;
}

export interface WithStats {
  stats(): ProviderStats;
}

/** The provider's counts as callers read them. */
function providerStats(usage: UsageCounter): ProviderStats {
  const { calls, requests, retries, failures, cacheHits, promptTokens, completionTokens } = usage;
  return { calls, requests, retries, failures, cacheHits, promptTokens, completionTokens, estimatedCostUsd: usage.costUsd() ?? null };
}

/** Shared options of the HTTP providers. */
const HttpProviderOptions = z.object({
  apiKeyEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
    .optional(),
  /** Requests in flight to this endpoint, across every role that uses it. */
  concurrency: z.number().int().positive().default(4),
  maxRetries: z.number().int().nonnegative().default(DEFAULT_RETRY_POLICY.maxRetries),
  /** First backoff delay in ms (doubled per retry, with jitter). */
  backoffMs: z.number().int().nonnegative().default(DEFAULT_RETRY_POLICY.baseDelayMs),
  maxBackoffMs: z.number().int().positive().default(DEFAULT_RETRY_POLICY.maxDelayMs),
  /** A longer Retry-After stops the run instead of waiting. */
  maxRetryAfterMs: z.number().int().positive().default(DEFAULT_RETRY_POLICY.maxRetryAfterMs),
  timeoutMs: z.number().int().positive().default(600_000),
});

interface SideOptions {
  cache?: RequestCache;
  /** One secret-free line per retry (e.g. a Reporter's warn). */
  onRetry?: (message: string) => void;
  /** Said once per provider: a request setting it cannot honour (a top-k the server has no field for). */
  onWarning?: (message: string) => void;
}

function retryPolicy(options: z.output<typeof HttpProviderOptions>): RetryPolicy {
  return { maxRetries: options.maxRetries, baseDelayMs: options.backoffMs, maxDelayMs: options.maxBackoffMs, maxRetryAfterMs: options.maxRetryAfterMs };
}

function authHint(apiKeyEnv: string | undefined): string {
  return apiKeyEnv ? `check the API key in the environment variable ${apiKeyEnv}` : 'the server wants an API key: set apiKeyEnv to the name of the variable holding it';
}

/** What every resilientCall of one HTTP provider shares: its endpoint and policy, the key to scrub, the request and retry counts. */
function httpCallOptions(
  options: z.output<typeof HttpProviderOptions>,
  url: string,
  what: string,
  apiKey: string | undefined,
  usage: UsageCounter,
  side: SideOptions,
): (signal?: CancelSignal) => ResilientCallOptions {
  const shared: ResilientCallOptions = {
    endpoint: endpointFor(url, options.concurrency),
    policy: retryPolicy(options),
    what,
    authHint: authHint(options.apiKeyEnv),
    secrets: apiKey ? [apiKey] : [],
    onAttempt: () => usage.requests++,
    onRetry: (message) => {
      usage.retries++;
      side.onRetry?.(message);
    },
  };
  return (signal) => (signal ? { ...shared, signal } : shared);
}

// ---------------------------------------------------------------------------------------------
// OpenAI-compatible chat

/**
 * How a request names its length limit: newer OpenAI models (the o-series, GPT-5) reject
 * `max_tokens` and take `max_completion_tokens`; older models and most compatible servers take
 * `max_tokens`. `auto` sends `max_tokens` and switches for good when the server refuses it.
 */
export const MaxTokensParameter = z.enum(['auto', 'max_tokens', 'max_completion_tokens']);
export type MaxTokensParameter = z.infer<typeof MaxTokensParameter>;

export const OpenAiChatProviderOptions = HttpProviderOptions.extend({
  baseUrl: z.url(),
  model: z.string().min(1),
  pricing: PriceTable.optional(),
  maxTokensParameter: MaxTokensParameter.default('auto'),
});
export type OpenAiChatProviderOptions = z.input<typeof OpenAiChatProviderOptions> & SideOptions;

const ChatCompletionResponse = z.object({
  choices: z
    .array(
      z.object({
        index: z.number().int().nonnegative(),
        message: z.object({ content: z.string().nullable() }),
        finish_reason: z.string().nullish(),
      }),
    )
    .min(1),
  usage: z.object({ prompt_tokens: z.number().int().nonnegative(), completion_tokens: z.number().int().nonnegative() }).nullish(),
});
type ChatCompletionResponse = z.infer<typeof ChatCompletionResponse>;

/** The wire body for a request: what is sent, and what the cache key covers. */
export function chatRequestBody(model: string, request: ChatRequest): Record<string, unknown> {
  return {
    model,
    messages: request.messages.map(({ role, content }) => ({ role, content })),
    n: request.n ?? 1,
    temperature: request.temperature,
    top_p: request.topP,
    // vLLM's extra sampling field; absent unless asked for, so other requests keep their cache keys.
    ...(request.topK ? { top_k: request.topK } : {}),
    max_tokens: request.maxTokens,
    seed: request.seed,
  };
}

/** The wire body: the cache-key body with its length limit under the name the model takes. */
function withMaxTokensParameter(body: Record<string, unknown>, parameter: 'max_tokens' | 'max_completion_tokens'): Record<string, unknown> {
  if (parameter === 'max_tokens' || body.max_tokens === undefined) return body;
  const { max_tokens: limit, ...rest } = body;
  return { ...rest, max_completion_tokens: limit };
}

/** OpenAI's answer to `max_tokens` on a model that takes `max_completion_tokens` only. */
function refusesMaxTokens(error: unknown): boolean {
  if (!(error instanceof APIError) || error.status !== 400) return false;
  return error.param === 'max_tokens' || /max_completion_tokens/.test(serverMessage(error));
}

export function createOpenAiChatProvider(input: OpenAiChatProviderOptions): ChatProvider & WithStats {
  const options = OpenAiChatProviderOptions.parse(input);
  let maxTokensParameter: 'max_tokens' | 'max_completion_tokens' = options.maxTokensParameter === 'auto' ? 'max_tokens' : options.maxTokensParameter;
  const apiKey = resolveApiKey(options.apiKeyEnv);
  // Retries are ours (shared endpoint pause, stats); the SDK makes a single attempt.
  const client = createOpenAiClient({ baseUrl: options.baseUrl, apiKey, timeoutMs: options.timeoutMs, maxRetries: 0 });
  const usage = new UsageCounter(options.pricing?.[options.model]);
  const id = `openai:${options.model}`;
  const what = `POST ${options.baseUrl.replace(/\/+$/, '')}/chat/completions (${options.model})`;
  const callOptions = httpCallOptions(options, options.baseUrl, what, apiKey, usage, input);
  const sendsTopK = acceptsTopK(options.baseUrl);
  let toldTopK = false;
  /** The request as this server can take it: without top-k where the API has none (said once). */
  const supported = (request: ChatRequest): ChatRequest => {
    if (sendsTopK || !request.topK) return request;
    if (!toldTopK) {
      toldTopK = true;
      input.onWarning?.(`${options.baseUrl} has no top_k parameter: sampling there uses temperature and top_p only (top-k ${request.topK} is not applied).`);
    }
    const { topK: _topK, ...rest } = request;
    return rest;
  };

  const toResponse = (response: ChatCompletionResponse, n: number, cached: boolean): ChatResponse => {
    const choices = [...response.choices].sort((a, b) => a.index - b.index);
    if (choices.length < n) {
      throw new AppError('unsupported', `${what} returned ${choices.length} completions for n = ${n}: the server ignores \`n\`; ask for one at a time.`);
    }
    const texts = choices.map((choice) => {
      if (choice.message.content === null) throw new AppError('unsupported', `${what} returned no text (finish_reason ${choice.finish_reason ?? 'none'}).`);
      return choice.message.content;
    });
    return { texts, usage: { promptTokens: response.usage?.prompt_tokens ?? 0, completionTokens: response.usage?.completion_tokens ?? 0 }, cached };
  };

  return {
    id,
    stats: () => providerStats(usage),
    async chat(request: ChatRequest, signal?: CancelSignal): Promise<ChatResponse> {
      const body = chatRequestBody(options.model, supported(request));
      const n = request.n ?? 1;
      const hit = input.cache?.get(id, body);
      if (hit !== undefined) {
        const parsed = ChatCompletionResponse.safeParse(hit);
        // A row that no longer parses is treated as absent and overwritten below.
        if (parsed.success) {
          usage.cacheHits++;
          return toResponse(parsed.data, n, true);
        }
      }
      try {
        const raw = await resilientCall(
          callOptions(signal),
          async (abortSignal) => {
            let response: unknown;
            try {
              response = await client.post('/chat/completions', { body: withMaxTokensParameter(body, maxTokensParameter), signal: abortSignal });
            } catch (error) {
              if (options.maxTokensParameter !== 'auto' || maxTokensParameter !== 'max_tokens' || !refusesMaxTokens(error)) throw error;
              // This model takes max_completion_tokens only: resend, and use it from now on.
              maxTokensParameter = 'max_completion_tokens';
              usage.requests++;
              response = await client.post('/chat/completions', { body: withMaxTokensParameter(body, maxTokensParameter), signal: abortSignal });
            }
            ChatCompletionResponse.parse(response);
            return response;
          },
          classifyOpenAiError,
        );
        const parsed = ChatCompletionResponse.parse(raw);
        const result = toResponse(parsed, n, false);
        usage.answered(result.usage);
        // Stored as received (validated), so later readers can use fields this one ignores.
        input.cache?.put(id, body, raw);
        return result;
      } catch (error) {
        if (!isAbortError(error)) usage.failures++;
        throw error;
      }
    },
  };
}

/** What an OpenAI SDK failure means for the retry loop. */
export function classifyOpenAiError(error: unknown): AttemptFailure {
  if (error instanceof APIUserAbortError || isAbortError(error)) return { kind: 'aborted' };
  // Includes timeouts (APIConnectionTimeoutError).
  if (error instanceof APIConnectionError) return { kind: 'network', message: error.message };
  if (error instanceof APIError && typeof error.status === 'number') {
    const headers = error.headers;
    const retryAfterMs = retryAfterFrom(headers?.get('retry-after-ms') ?? null, headers?.get('retry-after') ?? null);
    return { kind: 'http', status: error.status, message: serverMessage(error), ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  }
  if (error instanceof SyntaxError) return { kind: 'malformed', message: error.message };
  if (error instanceof z.ZodError) return { kind: 'invalid-response', message: z.prettifyError(error).split('\n')[0] ?? 'unexpected shape' };
  return { kind: 'invalid-response', message: error instanceof Error ? error.message : String(error) };
}

/** `retry-after-ms` (OpenAI's, milliseconds) wins over the standard `Retry-After`. */
function retryAfterFrom(milliseconds: string | null, standard: string | null): number | undefined {
  if (milliseconds !== null && /^\d+(\.\d+)?$/.test(milliseconds.trim())) return Math.round(Number(milliseconds));
  return parseRetryAfter(standard);
}

// ---------------------------------------------------------------------------------------------
// Local chat over an Engine

export interface LocalChatProviderOptions {
  cache?: RequestCache;
  /** Used when a request has no maxTokens. */
  defaultMaxTokens?: number;
}

/**
 * n completions by repeated generation with seeds seed, seed+1, … (seed defaults to 0, so a run
 * is reproducible). Calls are serialised: the engine is one model and its sampler seed is global.
 */
export function createLocalChatProvider(engine: Engine, options: LocalChatProviderOptions = {}): ChatProvider & WithStats {
  const queue = pLimit(1);
  const usage = new UsageCounter(undefined);
  const id = `local:${engine.info.model}`;
  const Cached = z.object({ texts: z.array(z.string()), usage: z.object({ promptTokens: z.number(), completionTokens: z.number() }) });
  return {
    id,
    stats: () => providerStats(usage),
    async chat(request, signal) {
      const key = chatRequestBody(engine.info.model, request);
      const hit = Cached.safeParse(options.cache?.get(id, key));
      if (hit.success) {
        usage.cacheHits++;
        return { ...hit.data, cached: true };
      }
      const n = request.n ?? 1;
      const baseSeed = request.seed ?? 0;
      const result = await queue(async () => {
        const texts: string[] = [];
        let promptTokens = 0;
        let completionTokens = 0;
        for (let i = 0; i < n; i++) {
          const generated = await engine.generate(
            request.messages,
            {
              maxNewTokens: request.maxTokens ?? options.defaultMaxTokens ?? 256,
              temperature: request.temperature ?? 1,
              topP: request.topP ?? 1,
              topK: request.topK ?? 0,
              seed: baseSeed + i,
            },
            undefined,
            signal,
          );
          if (generated.finishReason === 'aborted') throw new AppError('aborted', 'Cancelled.');
          texts.push(generated.text);
          // As OpenAI counts: the prompt once, every completion's tokens.
          promptTokens = generated.promptTokenCount;
          completionTokens += generated.tokenIds.length;
        }
        return { texts, usage: { promptTokens, completionTokens } };
      });
      usage.answered(result.usage);
      options.cache?.put(id, key, result);
      return { ...result, cached: false };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP reward model

export const HttpRewardProviderOptions = HttpProviderOptions.extend({
  /** POST target: `{items: [{question, answer}]}` → `{rewards: number[]}`. */
  url: z.url(),
  /** Items per request. */
  batchSize: z.number().int().positive().default(16),
  /** Recorded in provenance and part of the cache key; defaults to the URL. */
  id: z.string().min(1).optional(),
});
export type HttpRewardProviderOptions = z.input<typeof HttpRewardProviderOptions> & SideOptions;

export const RewardResponse = z.object({ rewards: z.array(z.number().finite()) });

export function createHttpRewardProvider(input: HttpRewardProviderOptions): RewardProvider & WithStats {
  const options = HttpRewardProviderOptions.parse(input);
  const apiKey = resolveApiKey(options.apiKeyEnv);
  const usage = new UsageCounter(undefined);
  const id = options.id ?? `reward:${options.url}`;
  const what = `POST ${options.url}`;
  const callOptions = httpCallOptions(options, options.url, what, apiKey, usage, input);

  const scoreBatch = async (items: { question: string; answer: string }[], signal?: CancelSignal): Promise<number[]> => {
    const body = { items };
    const hit = RewardResponse.safeParse(input.cache?.get(id, body));
    if (hit.success && hit.data.rewards.length === items.length) {
      usage.cacheHits++;
      return hit.data.rewards;
    }
    try {
      const rewards = await resilientCall(
        callOptions(signal),
        async (abortSignal) => {
          const response = await fetch(options.url, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}) },
            body: JSON.stringify(body),
            signal: AbortSignal.any([abortSignal, AbortSignal.timeout(options.timeoutMs)]),
          });
          const text = await response.text();
          if (!response.ok) throw new HttpStatusError(response.status, text, response.headers);
          const parsed = RewardResponse.parse(JSON.parse(text));
          if (parsed.rewards.length !== items.length) throw new ResponseShapeError(`${parsed.rewards.length} rewards for ${items.length} items`);
          return parsed.rewards;
        },
        classifyFetchError,
      );
      usage.answered();
      input.cache?.put(id, body, { rewards });
      return rewards;
    } catch (error) {
      if (!isAbortError(error)) usage.failures++;
      throw error;
    }
  };

  return {
    id,
    stats: () => providerStats(usage),
    async score(items, signal) {
      const batches: { question: string; answer: string }[][] = [];
      for (let start = 0; start < items.length; start += options.batchSize) {
        batches.push(items.slice(start, start + options.batchSize).map(({ question, answer }) => ({ question, answer })));
      }
      // Batches run in parallel up to the endpoint's limit.
      const results = await Promise.all(batches.map((batch) => scoreBatch(batch, signal)));
      return results.flat();
    },
  };
}

/** A response that parsed but cannot be right (e.g. a count mismatch): not worth retrying. */
class ResponseShapeError extends Error {}

class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly headers: Headers,
  ) {
    super(`HTTP ${status}`);
  }
}

function classifyFetchError(error: unknown): AttemptFailure {
  if (error instanceof HttpStatusError) {
    let message = '';
    try {
      const parsed = z.object({ error: z.union([z.string(), z.object({ message: z.string() })]) }).safeParse(JSON.parse(error.body));
      if (parsed.success) message = typeof parsed.data.error === 'string' ? parsed.data.error : parsed.data.error.message;
    } catch {
      message = error.body.slice(0, 200);
    }
    const retryAfterMs = retryAfterFrom(error.headers.get('retry-after-ms'), error.headers.get('retry-after'));
    return { kind: 'http', status: error.status, message, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  }
  if (error instanceof SyntaxError) return { kind: 'malformed', message: error.message };
  if (error instanceof z.ZodError) return { kind: 'invalid-response', message: z.prettifyError(error).split('\n')[0] ?? 'unexpected shape' };
  if (error instanceof ResponseShapeError) return { kind: 'invalid-response', message: error.message };
  // Our own cancellation; AbortSignal.timeout raises a TimeoutError instead, handled as a network failure below.
  if (isAbortError(error)) return { kind: 'aborted' };
  // fetch's "TypeError: fetch failed" (refused, reset, DNS) and our timeout.
  const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return { kind: 'network', message: `${error instanceof Error ? error.message : String(error)}${cause}` };
}

// ---------------------------------------------------------------------------------------------
// Local Transformers.js models

export interface LocalModelProviderOptions {
  /** Texts per forward pass. */
  batchSize?: number;
  device?: 'cpu' | 'cuda';
  dtype?: 'fp32' | 'fp16' | 'q8' | 'q4';
}

/** Sentence embeddings: mean pooling over the attention mask, L2-normalised. */
export async function createLocalEmbeddingProvider(
  modelDir: string,
  options: LocalModelProviderOptions = {},
): Promise<EmbeddingProvider & { dispose(): Promise<void> }> {
  const { loadLocalEmbedder } = await import('./localModelProviders.ts');
  return loadLocalEmbedder(modelDir, options);
}

/** A reward model's raw scalar logit per (question, answer). */
export async function createLocalRewardProvider(
  modelDir: string,
  options: LocalModelProviderOptions = {},
): Promise<RewardProvider & { dispose(): Promise<void> }> {
  const { loadLocalRewardModel } = await import('./localModelProviders.ts');
  return loadLocalRewardModel(modelDir, options);
}
