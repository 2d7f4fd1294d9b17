/**
 * An OpenAI-compatible HTTP server (node:http) over one local Engine: what `serve` runs, and what
 * the OpenAI engine's tests talk to.
 *
 * Routes: `GET /v1/models`, `GET /health`, `POST /v1/chat/completions` (JSON or SSE streaming,
 * `n` by repeated sampling with seeds seed, seed+1, …), `POST /v1/completions` (prompt as text or
 * token ids, one or a batch; `echo` + `logprobs` and vLLM's `prompt_logprobs` for teacher-forced
 * prompt log-probs, the first token's being null), `POST /tokenize` (also under /v1; vLLM's
 * shape). Every engine call goes through one queue, because the engine is a single model (and
 * its sampler's seed is process-global): requests are answered in arrival order.
 *
 * What this server cannot do, and says so with a 400: generating from a raw prompt on
 * `/v1/completions` (max_tokens > 0) unless a PromptContinuer is given (`serve` passes the engine's
 * optional `generateFromIds`); `top_logprobs` (the engine scores given tokens only, so
 * they come back null); `stop`, tools and chat `logprobs`.
 *
 * Failures handled: malformed JSON, schema violations, unknown models and unsupported
 * parameters → 400/404 with an OpenAI-style `{error: {message, type, param, code}}` body; context
 * overflow → 400; a client that disconnects cancels its generation (and its queued work); an
 * engine failure → 500 (or an error event once a stream has started).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import http from 'node:http';
import { resolve } from 'node:path';
import { AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';
import pLimit from 'p-limit';
import { z } from 'zod';
import type { CancelSignal } from '../../src/core/cancel.ts';
import type { ChatMessage } from '../../src/core/chat.ts';
import { templateFromInfo } from '../../src/core/chatTemplate.ts';
import type { Engine, FinishReason, GenerateOptionsInput, TokenListener } from '../../src/core/engine.ts';
import { AppError } from '../../src/core/errors.ts';

/** Upper bound on `n`, so one request cannot queue unbounded work. */
export const MAX_CHOICES = 64;
const DEFAULT_CHAT_MAX_TOKENS = 256;
/** OpenAI's default for the legacy completions endpoint. */
const DEFAULT_COMPLETION_MAX_TOKENS = 16;
const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Request schemas

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

export const CompletionRequest = z.object({
  model: z.string(),
  prompt: z.union([z.string(), z.array(z.string()).min(1), TokenIds, z.array(TokenIds).min(1)]),
  max_tokens: z.number().int().nonnegative().nullish(),
  echo: z.boolean().nullish(),
  logprobs: z.number().int().min(0).max(20).nullish(),
  prompt_logprobs: z.number().int().min(0).max(20).nullish(),
  suffix: z.string().nullish(),
  ...Sampling,
});
export type CompletionRequest = z.infer<typeof CompletionRequest>;

export const TokenizeRequest = z.union([
  z.object({ model: z.string().optional(), prompt: z.string(), add_special_tokens: z.boolean().default(true) }),
  z.object({
    model: z.string().optional(),
    messages: z.array(ChatCompletionMessage).min(1),
    add_generation_prompt: z.boolean().default(true),
    add_special_tokens: z.boolean().default(false),
  }),
]);
export type TokenizeRequest = z.infer<typeof TokenizeRequest>;

// ---------------------------------------------------------------------------------------------
// Options

/** Decoding the engine does not offer: ids → text and ids → vocabulary pieces. */
export interface ServerTokenizer {
  decode(ids: readonly number[]): string;
  tokenStrings(ids: readonly number[]): string[];
}

/**
 * Optional: generation that continues raw token ids (no chat template), which `/v1/completions`
 * needs for max_tokens > 0. The Transformers.js engine does not offer it yet.
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
  /** One line per request (method, path, status, milliseconds). */
  log?: (line: string) => void;
}

/** The tokenizer of a model folder (or hub id) for decoding; the weights are not loaded again. */
export async function loadServerTokenizer(model: string): Promise<ServerTokenizer> {
  const folder = resolve(model);
  const isFolder = existsSync(folder) && statSync(folder).isDirectory();
  const tokenizer: PreTrainedTokenizer = await AutoTokenizer.from_pretrained(isFolder ? folder : model, { local_files_only: isFolder });
  let pieces: string[] | undefined;
  return {
    decode: (ids) => (ids.length === 0 ? '' : tokenizer.decode([...ids], { skip_special_tokens: false })),
    tokenStrings(ids) {
      if (!pieces) {
        pieces = [];
        for (const [piece, id] of tokenizer.get_vocab()) pieces[id] = piece;
      }
      const table = pieces;
      return ids.map((id) => table[id] ?? tokenizer.decode([id]));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Errors

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

function fromZod(error: z.ZodError): HttpError {
  const issue = error.issues[0];
  const param = issue && issue.path.length > 0 ? issue.path.join('.') : null;
  return new HttpError(400, issue ? `${param ?? 'body'}: ${issue.message}` : 'Invalid request body.', param);
}

function fromEngine(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof AppError && (error.code === 'context-exceeded' || error.code === 'invalid-input')) {
    return new HttpError(400, error.message, null, 'invalid_request_error', error.code === 'context-exceeded' ? 'context_length_exceeded' : null);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new HttpError(500, `The engine failed: ${message}`);
}

// ---------------------------------------------------------------------------------------------
// The server

export function createOpenAiServer(engine: Engine, options: OpenAiServerOptions): http.Server {
  const handler = new OpenAiHandler(engine, options);
  return http.createServer((req, res) => {
    void handler.handle(req, res);
  });
}

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

function usage(prompt: number, completion: number): Usage {
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function finish(reason: FinishReason): 'stop' | 'length' {
  return reason === 'length' ? 'length' : 'stop';
}

/** Per-request cancellation: the client went away. */
function disconnectSignal(res: http.ServerResponse): AbortController {
  const controller = new AbortController();
  // 'close' before the response finished means the client left (or the socket broke).
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller;
}

class OpenAiHandler {
  /** One engine, one request at a time. */
  readonly #queue = pLimit(1);
  readonly #created = Math.floor(Date.now() / 1000);

  constructor(
    private readonly engine: Engine,
    private readonly options: OpenAiServerOptions,
  ) {}

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
    try {
      await this.#route(req, res, path);
    } catch (error) {
      const httpError = fromEngine(error);
      if (!res.headersSent) sendJson(res, httpError.status, httpError.body());
      else if (!res.writableEnded && !res.destroyed) {
        // A stream already started: report the error as a last event, as OpenAI does.
        res.write(`data: ${JSON.stringify(httpError.body())}\n\n`);
        res.end();
      }
    } finally {
      this.options.log?.(`${req.method} ${path} ${res.statusCode} ${Math.round(performance.now() - started)}ms`);
    }
  }

  async #route(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    const routes: Record<string, { method: string; run: () => Promise<void> }> = {
      '/v1/models': { method: 'GET', run: async () => sendJson(res, 200, this.#models()) },
      '/health': { method: 'GET', run: async () => sendJson(res, 200, { status: 'ok' }) },
      '/v1/chat/completions': { method: 'POST', run: async () => this.#chat(ChatCompletionRequest.parse(await readJson(req, this.#maxBody)), res) },
      '/v1/completions': { method: 'POST', run: async () => this.#completions(CompletionRequest.parse(await readJson(req, this.#maxBody)), res) },
      '/tokenize': { method: 'POST', run: async () => sendJson(res, 200, await this.#tokenize(TokenizeRequest.parse(await readJson(req, this.#maxBody)))) },
      '/v1/tokenize': { method: 'POST', run: async () => sendJson(res, 200, await this.#tokenize(TokenizeRequest.parse(await readJson(req, this.#maxBody)))) },
    };
    const route = routes[path];
    if (!route) throw new HttpError(404, `No route ${req.method} ${path}.`);
    if (req.method !== route.method) throw new HttpError(405, `${path} takes ${route.method}, not ${req.method}.`, null, 'invalid_request_error');
    try {
      await route.run();
    } catch (error) {
      throw error instanceof z.ZodError ? fromZod(error) : error;
    }
  }

  get #maxBody(): number {
    return this.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  }

  #models() {
    return {
      object: 'list',
      data: [{ id: this.options.modelName, object: 'model', created: this.#created, owned_by: 'wikipersona', max_model_len: this.engine.info.contextWindow }],
    };
  }

  #checkModel(model: string | undefined): void {
    if (model !== undefined && model !== this.options.modelName) {
      throw new HttpError(404, `The model "${model}" does not exist: this server serves "${this.options.modelName}".`, 'model', 'not_found_error', 'model_not_found');
    }
  }

  async #tokenize(request: TokenizeRequest) {
    this.#checkModel(request.model);
    let ids: number[];
    if ('prompt' in request) {
      ids = await this.engine.tokenize(request.prompt);
    } else {
      const template = templateFromInfo(this.engine.info.chatTemplate);
      ids = await this.engine.tokenize(template.render(toChatMessages(request.messages), { addGenerationPrompt: request.add_generation_prompt }));
    }
    if (request.add_special_tokens) ids = this.#withBos(ids);
    return { count: ids.length, max_model_len: this.engine.info.contextWindow, tokens: ids };
  }

  #withBos(ids: number[]): number[] {
    const bos = this.engine.info.bosTokenId;
    return ids[0] === bos ? ids : [bos, ...ids];
  }

  async #chat(request: ChatCompletionRequest, res: http.ServerResponse): Promise<void> {
    this.#checkModel(request.model);
    rejectUnsupported(request);
    if (request.logprobs) throw new HttpError(400, 'logprobs on chat completions is not supported by this server: score with /v1/completions (echo or prompt_logprobs).', 'logprobs');
    if (request.tools && request.tools.length > 0) throw new HttpError(400, 'tools are not supported by this server.', 'tools');
    const messages = toChatMessages(request.messages);
    const n = request.n ?? 1;
    const generateOptions = (index: number): GenerateOptionsInput => ({
      maxNewTokens: request.max_completion_tokens ?? request.max_tokens ?? this.options.defaultMaxTokens ?? DEFAULT_CHAT_MAX_TOKENS,
      temperature: request.temperature ?? 1,
      topP: request.top_p ?? 1,
      topK: request.top_k !== null && request.top_k !== undefined && request.top_k > 0 ? request.top_k : 0,
      ...(request.seed === null || request.seed === undefined ? {} : { seed: request.seed + index }),
    });
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const model = this.options.modelName;
    const controller = disconnectSignal(res);

    if (request.stream) {
      const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
        writeEvent(res, { id, object: 'chat.completion.chunk', created, model, choices, ...extra });
      await this.#queue(async () => {
        let promptTokens = 0;
        let completionTokens = 0;
        for (let index = 0; index < n && !controller.signal.aborted; index++) {
          let started = false;
          const start = () => {
            if (!started) chunk([{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
            started = true;
          };
          const result = await this.engine.generate(
            messages,
            generateOptions(index),
            (text) => {
              start();
              chunk([{ index, delta: { content: text }, logprobs: null, finish_reason: null }]);
            },
            controller.signal,
          );
          start();
          chunk([{ index, delta: {}, logprobs: null, finish_reason: finish(result.finishReason) }]);
          promptTokens = result.promptTokenCount;
          completionTokens += result.tokenIds.length;
        }
        if (request.stream_options?.include_usage) chunk([], { usage: usage(promptTokens, completionTokens) });
        if (!res.writableEnded && !res.destroyed) res.end('data: [DONE]\n\n');
      });
      return;
    }

    const results = await this.#queue(async () => {
      const out = [];
      for (let index = 0; index < n && !controller.signal.aborted; index++) {
        out.push(await this.engine.generate(messages, generateOptions(index), undefined, controller.signal));
      }
      return out;
    });
    if (controller.signal.aborted) return;
    sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: results.map((result, index) => ({
        index,
        message: { role: 'assistant', content: result.text },
        logprobs: null,
        finish_reason: finish(result.finishReason),
      })),
      usage: usage(results[0]?.promptTokenCount ?? 0, results.reduce((sum, result) => sum + result.tokenIds.length, 0)),
    });
  }

  async #completions(request: CompletionRequest, res: http.ServerResponse): Promise<void> {
    this.#checkModel(request.model);
    rejectUnsupported(request);
    if (request.stream) throw new HttpError(400, 'stream is not supported on /v1/completions by this server: use /v1/chat/completions to stream.', 'stream');
    if (request.suffix) throw new HttpError(400, 'suffix is not supported.', 'suffix');
    const maxTokens = request.max_tokens ?? DEFAULT_COMPLETION_MAX_TOKENS;
    const echo = request.echo ?? false;
    if (maxTokens === 0 && !echo) throw new HttpError(400, 'max_tokens 0 needs echo: true (the prompt is all that is returned).', 'max_tokens');
    const continuer = this.options.continuer;
    if (maxTokens > 0 && !continuer) {
      throw new HttpError(
        400,
        'This server does not generate from raw prompts: use /v1/chat/completions to generate, or max_tokens 0 with echo (and logprobs or prompt_logprobs) to score a prompt.',
        'max_tokens',
      );
    }

    const prompts = await this.#promptIds(request.prompt);
    const contextWindow = this.engine.info.contextWindow;
    for (const ids of prompts) {
      if (ids.length + maxTokens > contextWindow) {
        throw new HttpError(
          400,
          `This model's maximum context length is ${contextWindow} tokens, but ${ids.length + maxTokens} were requested (${ids.length} in the prompt, ${maxTokens} for the completion).`,
          'prompt',
          'invalid_request_error',
          'context_length_exceeded',
        );
      }
    }
    const texts = typeof request.prompt === 'string' ? [request.prompt] : request.prompt.every((p) => typeof p === 'string') ? (request.prompt as string[]) : undefined;
    const wantPromptScores = (echo && request.logprobs !== null && request.logprobs !== undefined) || (request.prompt_logprobs !== null && request.prompt_logprobs !== undefined);
    const n = request.n ?? 1;
    const controller = disconnectSignal(res);
    const tokenizer = this.options.tokenizer;

    const choices = await this.#queue(async () => {
      const out: Record<string, unknown>[] = [];
      let completionTokens = 0;
      for (const [promptIndex, ids] of prompts.entries()) {
        if (controller.signal.aborted) break;
        // Teacher-forced log-probs of every prompt position after the first (which has no context).
        const promptScores = wantPromptScores && ids.length > 1
          ? ((await this.engine.score({ promptIds: ids.slice(0, 1), continuations: [ids.slice(1)] }, controller.signal)).logprobs[0] as number[])
          : [];
        const promptPieces = tokenizer.tokenStrings(ids);
        for (let j = 0; j < n; j++) {
          let generated: { tokenIds: number[]; text: string; finishReason: FinishReason } = { tokenIds: [], text: '', finishReason: 'length' };
          let generatedScores: number[] = [];
          if (maxTokens > 0 && continuer) {
            generated = await continuer.continueIds(
              ids,
              {
                maxNewTokens: maxTokens,
                temperature: request.temperature ?? 1,
                topP: request.top_p ?? 1,
                topK: request.top_k !== null && request.top_k !== undefined && request.top_k > 0 ? request.top_k : 0,
                ...(request.seed === null || request.seed === undefined ? {} : { seed: request.seed + j }),
              },
              undefined,
              controller.signal,
            );
            if (request.logprobs !== null && request.logprobs !== undefined && generated.tokenIds.length > 0) {
              generatedScores = (await this.engine.score({ promptIds: ids, continuations: [generated.tokenIds] }, controller.signal)).logprobs[0] as number[];
            }
          }
          completionTokens += generated.tokenIds.length;
          const echoed = echo ? (texts?.[promptIndex] ?? tokenizer.decode(ids)) : '';
          const choice: Record<string, unknown> = {
            index: promptIndex * n + j,
            text: echoed + generated.text,
            logprobs:
              request.logprobs === null || request.logprobs === undefined
                ? null
                : {
                    tokens: [...(echo ? promptPieces : []), ...tokenizer.tokenStrings(generated.tokenIds)],
                    token_logprobs: [...(echo ? [null, ...promptScores] : []), ...generatedScores],
                    // The engine scores given tokens only: the alternatives are unknown.
                    top_logprobs: null,
                  },
            finish_reason: maxTokens === 0 ? 'length' : finish(generated.finishReason),
          };
          if (request.prompt_logprobs !== null && request.prompt_logprobs !== undefined) {
            choice.prompt_logprobs = [
              null,
              ...promptScores.map((logprob, k) => ({ [String(ids[k + 1])]: { logprob, rank: null, decoded_token: promptPieces[k + 1] } })),
            ];
          }
          out.push(choice);
        }
      }
      return { out, completionTokens };
    });
    if (controller.signal.aborted) return;
    const promptTokens = prompts.reduce((sum, ids) => sum + ids.length, 0) * n;
    sendJson(res, 200, {
      id: `cmpl-${randomUUID()}`,
      object: 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: this.options.modelName,
      choices: choices.out,
      usage: usage(promptTokens, choices.completionTokens),
    });
  }

  /** Every prompt as token ids; text is tokenized with BOS first, as the engine does for chat. */
  async #promptIds(prompt: CompletionRequest['prompt']): Promise<number[][]> {
    if (typeof prompt === 'string') return [this.#withBos(await this.engine.tokenize(prompt))];
    if (prompt.every((item): item is string => typeof item === 'string')) {
      return Promise.all(prompt.map(async (text) => this.#withBos(await this.engine.tokenize(text))));
    }
    if (prompt.every((item): item is number => typeof item === 'number')) return [prompt];
    return prompt as number[][];
  }
}

function rejectUnsupported(request: { stop?: string | string[] | null | undefined }): void {
  const stop = request.stop;
  if (stop !== null && stop !== undefined && (typeof stop === 'string' ? stop !== '' : stop.length > 0)) {
    throw new HttpError(400, 'stop sequences are not supported by this server.', 'stop');
  }
}

function toChatMessages(messages: readonly ChatCompletionMessage[]): ChatMessage[] {
  return messages.map((message) => ({
    // OpenAI's newer name for the system role.
    role: message.role === 'developer' ? 'system' : message.role,
    content: typeof message.content === 'string' ? message.content : message.content.map((part) => part.text).join(''),
  }));
}

async function readJson(req: http.IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new HttpError(413, `The request body exceeds ${maxBytes} bytes.`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'The body is not valid JSON: send a JSON object with Content-Type: application/json.');
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function writeEvent(res: http.ServerResponse, data: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
  res.write(`data: ${JSON.stringify(data)}\n\n`);
}
