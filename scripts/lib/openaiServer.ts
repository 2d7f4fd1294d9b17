/**
 * An OpenAI-compatible HTTP server (node:http) over one local Engine, answering in vLLM's exact
 * shapes: what `serve` runs, and what the OpenAI engine's tests talk to.
 *
 * Routes: `GET /v1/models`, `GET /health`, `GET /tokenizer_info` (vLLM's, with the chat template),
 * `POST /v1/chat/completions` (JSON or SSE streaming, `n` by repeated sampling with seeds seed,
 * seed+1, …), `POST /v1/completions` (prompt as text or token ids, one or a batch; `echo` +
 * `logprobs` and `prompt_logprobs` with ranks and top-k, completionsRoute.ts), `POST /tokenize`
 * and `POST /detokenize` (at the root only, as vLLM serves them). Every engine call goes through
 * one queue, because the engine is a single model (and its sampler's seed is process-global):
 * requests are answered in arrival order. Prompts are tokenized before they join the queue, long ones on a worker thread
 * (serverTokenizer.ts), and a prompt that cannot fit the context window is refused from its length
 * in characters before any tokenizing, so one huge request never stalls the others.
 *
 * What this server cannot do, and says so with a 400: generating from a raw prompt on
 * `/v1/completions` (max_tokens > 0) unless a PromptContinuer is given (`serve` passes the engine's
 * optional `generateFromIds`); `stop`, tools and chat `logprobs`.
 *
 * Failures handled: malformed JSON, schema violations, unknown models, token ids outside the
 * vocabulary and unsupported parameters → 400/404 with an OpenAI-style body; context overflow →
 * 400; a client that disconnects cancels its generation (and its queued work) and is logged as a
 * disconnect; an engine failure → 500 (or an error event once a stream has started).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import pLimit from 'p-limit';
import { z } from 'zod';
import type { ChatMessage } from '../../src/core/chat.ts';
import { templateFromInfo } from '../../src/core/chatTemplate.ts';
import type { Engine, TokenListener } from '../../src/core/engine.ts';
import { completions } from './completionsRoute.ts';
import {
  ChatCompletionRequest,
  CompletionRequest,
  contextLengthError,
  DetokenizeRequest,
  finish,
  fromEngine,
  fromZod,
  HttpError,
  rejectUnsupported,
  samplingOptions,
  sendJson,
  TokenizeRequest,
  usage,
  type ChatCompletionMessage,
  type OpenAiServerOptions,
  type ServerContext,
} from './openaiServerProtocol.ts';

const DEFAULT_CHAT_MAX_TOKENS = 256;
const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
/**
 * A text of n UTF-16 units holds at least n / (longest piece × this) tokens: a code point takes at
 * most 2 units, and Unicode normalization merges at most 3 code points into one (Hangul jamo).
 */
const UNITS_PER_PIECE_CHARACTER = 6;

export function createOpenAiServer(engine: Engine, options: OpenAiServerOptions): http.Server {
  const handler = new OpenAiHandler(engine, options);
  return http.createServer((req, res) => {
    void handler.handle(req, res);
  });
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

class OpenAiHandler implements ServerContext {
  readonly queue = pLimit(1);
  readonly #created = Math.floor(Date.now() / 1000);

  constructor(
    readonly engine: Engine,
    readonly options: OpenAiServerOptions,
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
      // A response that never finished went to a client that left: its status was never sent.
      const outcome = res.writableFinished ? String(res.statusCode) : 'client disconnected';
      this.options.log?.(`${req.method} ${path} ${outcome} ${Math.round(performance.now() - started)}ms`);
    }
  }

  async #route(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    const body = async () => readJson(req, this.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
    const routes: Record<string, { method: string; run: () => Promise<void> }> = {
      '/v1/models': { method: 'GET', run: async () => sendJson(res, 200, this.#models()) },
      '/health': { method: 'GET', run: async () => sendJson(res, 200, { status: 'ok' }) },
      '/tokenizer_info': { method: 'GET', run: async () => sendJson(res, 200, this.#tokenizerInfo()) },
      '/v1/chat/completions': { method: 'POST', run: async () => this.#chat(ChatCompletionRequest.parse(await body()), res) },
      '/v1/completions': { method: 'POST', run: async () => completions(this, CompletionRequest.parse(await body()), res) },
      '/tokenize': { method: 'POST', run: async () => sendJson(res, 200, await this.#tokenize(TokenizeRequest.parse(await body()))) },
      '/detokenize': { method: 'POST', run: async () => sendJson(res, 200, this.#detokenize(DetokenizeRequest.parse(await body()))) },
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

  checkModel(model: string | null | undefined): void {
    if (model !== undefined && model !== null && model !== this.options.modelName) {
      throw new HttpError(404, `The model "${model}" does not exist: this server serves "${this.options.modelName}".`, 'model', 'not_found_error', 'model_not_found');
    }
  }

  assertMayFit(text: string): void {
    const contextWindow = this.engine.info.contextWindow;
    const atLeast = Math.ceil(text.length / (this.options.tokenizer.maxPieceLength * UNITS_PER_PIECE_CHARACTER));
    if (atLeast > contextWindow) throw contextLengthError(contextWindow, `a text of ${text.length} characters has at least ${atLeast} tokens`);
  }

  assertInVocabulary(ids: readonly number[]): void {
    const vocabSize = this.options.tokenizer.vocabSize;
    const outside = ids.find((id) => id >= vocabSize);
    if (outside !== undefined) throw new HttpError(400, `Token id ${outside} is out of vocabulary (ids 0–${vocabSize - 1}).`, 'prompt');
  }

  disconnectSignal(res: http.ServerResponse): AbortController {
    return disconnectSignal(res);
  }

  #models() {
    return {
      object: 'list',
      data: [{ id: this.options.modelName, object: 'model', created: this.#created, owned_by: 'wikipersona', root: this.options.modelName, parent: null, max_model_len: this.engine.info.contextWindow }],
    };
  }

  /** vLLM's TokenizerInfoResponse: the tokenizer config, its class and the chat template the server applies. */
  #tokenizerInfo() {
    const template = this.engine.info.chatTemplate;
    const config = this.options.tokenizer.config;
    return {
      ...config,
      tokenizer_class: typeof config.tokenizer_class === 'string' ? config.tokenizer_class : 'PreTrainedTokenizerFast',
      ...(template.source === undefined ? {} : { chat_template: template.source }),
    };
  }

  /** The prompt text of messages, rendered with the engine's own template. */
  #render(messages: readonly ChatCompletionMessage[], addGenerationPrompt: boolean): string {
    return templateFromInfo(this.engine.info.chatTemplate).render(toChatMessages(messages), { addGenerationPrompt });
  }

  async #tokenize(request: TokenizeRequest) {
    this.checkModel(request.model);
    const text = 'prompt' in request ? request.prompt : this.#render(request.messages, request.add_generation_prompt);
    this.assertMayFit(text);
    const ids = await this.options.tokenizer.encode(text, { addSpecialTokens: request.add_special_tokens });
    const contextWindow = this.engine.info.contextWindow;
    if (ids.length > contextWindow) throw contextLengthError(contextWindow, `the input has ${ids.length} tokens`);
    return { count: ids.length, max_model_len: contextWindow, tokens: ids, token_strs: request.return_token_strs ? this.options.tokenizer.tokenStrings(ids) : null };
  }

  #detokenize(request: DetokenizeRequest) {
    this.checkModel(request.model);
    this.assertInVocabulary(request.tokens);
    return { prompt: this.options.tokenizer.decode(request.tokens) };
  }

  /** Chat prompt ids exactly as the engine's `generate` makes them: rendered, tokenized, BOS first. */
  async #chatPromptIds(messages: readonly ChatCompletionMessage[]): Promise<number[]> {
    const prompt = this.#render(messages, true);
    this.assertMayFit(prompt);
    const ids = await this.options.tokenizer.encode(prompt, { addSpecialTokens: false });
    const bos = this.engine.info.bosTokenId;
    const withBos = ids[0] === bos ? ids : [bos, ...ids];
    const contextWindow = this.engine.info.contextWindow;
    if (withBos.length >= contextWindow) throw contextLengthError(contextWindow, `the messages have ${withBos.length} tokens, leaving none for the answer`);
    return withBos;
  }

  async #chat(request: ChatCompletionRequest, res: http.ServerResponse): Promise<void> {
    this.checkModel(request.model);
    rejectUnsupported(request);
    if (request.logprobs) throw new HttpError(400, 'logprobs on chat completions is not supported by this server: score with /v1/completions (echo or prompt_logprobs).', 'logprobs');
    if (request.tools && request.tools.length > 0) throw new HttpError(400, 'tools are not supported by this server.', 'tools');
    const messages = toChatMessages(request.messages);
    const continuer = this.options.continuer;
    // Tokenized here, off the engine's queue; without a continuer the engine tokenizes itself.
    const promptIds = continuer ? await this.#chatPromptIds(request.messages) : undefined;
    const n = request.n ?? 1;
    const maxNewTokens = request.max_completion_tokens ?? request.max_tokens ?? this.options.defaultMaxTokens ?? DEFAULT_CHAT_MAX_TOKENS;
    const controller = disconnectSignal(res);
    const generate = async (index: number, onToken?: TokenListener) => {
      const options = samplingOptions(request, maxNewTokens, index);
      if (continuer && promptIds) return { ...(await continuer.continueIds(promptIds, options, onToken, controller.signal)), promptTokenCount: promptIds.length };
      return this.engine.generate(messages, options, onToken, controller.signal);
    };
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const model = this.options.modelName;

    if (request.stream) {
      const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
        writeEvent(res, { id, object: 'chat.completion.chunk', created, model, choices, ...extra });
      await this.queue(async () => {
        let promptTokens = 0;
        let completionTokens = 0;
        for (let index = 0; index < n && !controller.signal.aborted; index++) {
          let started = false;
          const start = () => {
            if (!started) chunk([{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
            started = true;
          };
          const result = await generate(index, (text) => {
            start();
            chunk([{ index, delta: { content: text }, logprobs: null, finish_reason: null }]);
          });
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

    const results = await this.queue(async () => {
      const out = [];
      for (let index = 0; index < n && !controller.signal.aborted; index++) out.push(await generate(index));
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

function writeEvent(res: http.ServerResponse, data: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
  res.write(`data: ${JSON.stringify(data)}\n\n`);
}
