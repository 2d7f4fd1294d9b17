/**
 * What `serve` accepts, how it answers and how it refuses: the request schemas of its routes
 * (vLLM's field names and defaults, from vllm/entrypoints/openai/completion/protocol.py and
 * serve/tokenize/protocol.py), the server's options and the context its route handlers share,
 * response helpers, and OpenAI-style errors (`{error: {message, type, param, code}}`).
 */
import type http from 'node:http';
import type { LimitFunction } from 'p-limit';
import { z } from 'zod';
import type { CancelSignal } from '../../src/core/cancel.ts';
import type { Engine, FinishReason, GenerateOptionsInput, TokenListener } from '../../src/core/engine.ts';
import { AppError } from '../../src/core/errors.ts';
import type { ServerTokenizer } from './serverTokenizer.ts';

/** Upper bound on `n`, so one request cannot queue unbounded work. */
export const MAX_CHOICES = 64;
/** vLLM's default `--max-logprobs`. */
export const MAX_LOGPROBS = 20;

const TextPart = z.object({ type: z.literal('text'), text: z.string() });

export const ChatCompletionMessage = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(TextPart)]),
});
export type ChatCompletionMessage = z.infer<typeof ChatCompletionMessage>;

const Sampling = {
  n: z.number().int().min(1).max(MAX_CHOICES).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  /** vLLM's extension; -1 or 0 = off. */
  top_k: z.number().int().min(-1).nullish(),
  seed: z.number().int().nullish(),
  stream: z.boolean().nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
};

export const ChatCompletionRequest = z.object({
  model: z.string(),
  messages: z.array(ChatCompletionMessage).min(1),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  logprobs: z.boolean().nullish(),
  tools: z.array(z.unknown()).nullish(),
  ...Sampling,
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

const TokenIds = z.array(z.number().int().nonnegative()).min(1);
const LogprobCount = z.number().int().min(0).max(MAX_LOGPROBS, `at most ${MAX_LOGPROBS} (vLLM's default --max-logprobs)`);

export const CompletionRequest = z.object({
  model: z.string(),
  prompt: z.union([z.string(), z.array(z.string()).min(1), TokenIds, z.array(TokenIds).min(1)]),
  max_tokens: z.number().int().nonnegative().nullish(),
  echo: z.boolean().nullish(),
  logprobs: LogprobCount.nullish(),
  prompt_logprobs: LogprobCount.nullish(),
  suffix: z.string().nullish(),
  /** For text prompts: the tokenizer adds its special tokens (BOS); token-id prompts are used as sent. */
  add_special_tokens: z.boolean().default(true),
  ...Sampling,
});
export type CompletionRequest = z.infer<typeof CompletionRequest>;

export const TokenizeCompletionRequest = z.object({
  model: z.string().nullish(),
  prompt: z.string(),
  add_special_tokens: z.boolean().default(true),
  return_token_strs: z.boolean().nullish(),
});

export const TokenizeChatRequest = z.object({
  model: z.string().nullish(),
  messages: z.array(ChatCompletionMessage).min(1),
  add_generation_prompt: z.boolean().default(true),
  continue_final_message: z.literal(false, 'continue_final_message is not supported by this server').default(false),
  /** The chat template usually writes BOS itself. */
  add_special_tokens: z.boolean().default(false),
  return_token_strs: z.boolean().nullish(),
  chat_template: z.null('chat_template is not supported by this server: it renders with the model’s own template').nullish(),
});

export const TokenizeRequest = z.union([TokenizeCompletionRequest, TokenizeChatRequest]);
export type TokenizeRequest = z.infer<typeof TokenizeRequest>;

export const DetokenizeRequest = z.object({ model: z.string().nullish(), tokens: z.array(z.number().int().nonnegative()) });
export type DetokenizeRequest = z.infer<typeof DetokenizeRequest>;

/** An error answered to the client as OpenAI does: status plus `{error: {message, type, param, code}}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly type = status === 404 ? 'not_found_error' : status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly code: string | null = null,
  ) {
    super(message);
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function contextLengthError(contextWindow: number, detail: string): HttpError {
  return new HttpError(400, `This model's maximum context length is ${contextWindow} tokens, but ${detail}.`, 'prompt', 'invalid_request_error', 'context_length_exceeded');
}

export function fromZod(error: z.ZodError): HttpError {
  const issue = error.issues[0];
  const param = issue && issue.path.length > 0 ? issue.path.join('.') : null;
  return new HttpError(400, issue ? `${param ?? 'body'}: ${issue.message}` : 'Invalid request body.', param);
}

export function fromEngine(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof AppError && (error.code === 'context-exceeded' || error.code === 'invalid-input')) {
    return new HttpError(400, error.message, null, 'invalid_request_error', error.code === 'context-exceeded' ? 'context_length_exceeded' : null);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new HttpError(500, `The engine failed: ${message}`);
}

/**
 * Optional: generation that continues raw token ids (no chat template), which `/v1/completions`
 * needs for max_tokens > 0 and chat uses to generate from the prompt it tokenized itself.
 */
export interface PromptContinuer {
  continueIds(
    promptIds: readonly number[],
    options: GenerateOptionsInput,
    onToken?: TokenListener,
    signal?: CancelSignal,
  ): Promise<{ tokenIds: number[]; text: string; finishReason: FinishReason }>;
}

export interface OpenAiServerOptions {
  /** The id clients pass as `model` and `/v1/models` lists. */
  modelName: string;
  tokenizer: ServerTokenizer;
  continuer?: PromptContinuer;
  defaultMaxTokens?: number;
  maxBodyBytes?: number;
  /** One line per request (method, path, status or "client disconnected", milliseconds). */
  log?: (line: string) => void;
}


interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: null;
}

export function usage(prompt: number, completion: number): Usage {
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: null };
}

export function finish(reason: FinishReason): 'stop' | 'length' {
  return reason === 'length' ? 'length' : 'stop';
}

/** The sampling options of a request, for choice `index` (seeds seed, seed+1, …). */
export function samplingOptions(
  request: { temperature?: number | null; top_p?: number | null; top_k?: number | null; seed?: number | null },
  maxNewTokens: number,
  index: number,
): GenerateOptionsInput {
  return {
    maxNewTokens,
    temperature: request.temperature ?? 1,
    topP: request.top_p ?? 1,
    topK: request.top_k !== null && request.top_k !== undefined && request.top_k > 0 ? request.top_k : 0,
    ...(request.seed === null || request.seed === undefined ? {} : { seed: request.seed + index }),
  };
}


/** What the route handlers share. */
export interface ServerContext {
  readonly engine: Engine;
  readonly options: OpenAiServerOptions;
  /** One engine, one request at a time. */
  readonly queue: LimitFunction;
  checkModel(model: string | null | undefined): void;
  /** 400 unless a text of this length may fit the context window (checked before tokenizing it). */
  assertMayFit(text: string): void;
  /** 400 for ids the tokenizer does not know (vLLM: "out of vocabulary"). */
  assertInVocabulary(ids: readonly number[]): void;
  disconnectSignal(res: http.ServerResponse): AbortController;
}


export function rejectUnsupported(request: { stop?: string | string[] | null | undefined }): void {
  const stop = request.stop;
  if (stop !== null && stop !== undefined && (typeof stop === 'string' ? stop !== '' : stop.length > 0)) {
    throw new HttpError(400, 'stop sequences are not supported by this server.', 'stop');
  }
}


export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

