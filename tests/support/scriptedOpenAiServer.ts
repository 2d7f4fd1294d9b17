/**
 * A scripted OpenAI-compatible server on 127.0.0.1 for tests of HTTP clients (the OpenAI engine,
 * the providers, and later the dataset builder and the evaluation judge).
 *
 * Each route has a handler `(body, callIndex, request) → response`: a plain value is sent as a
 * 200 JSON body; `reply({...})` scripts anything else (status, headers such as Retry-After,
 * latency, a raw malformed body, an SSE stream, a dropped connection). The server records every
 * request (headers, parsed body, arrival and response times), counts requests per route and per
 * distinct request key (path + canonical body), and tracks how many were in flight at once.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { canonicalJson } from '../../scripts/lib/requestCache.ts';

export interface ReplySpec {
  status?: number;
  headers?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent verbatim instead of `body` (malformed JSON, HTML error pages…). */
  raw?: string;
  /** Sent as server-sent events, each `data: <json>`, then `data: [DONE]`. */
  sse?: unknown[];
  /** Wait before answering (the request counts as in flight meanwhile). */
  delayMs?: number;
  /** Drop the connection without answering (a network error for the client). */
  destroy?: boolean;
}

/** A scripted response other than a plain 200 JSON body. */
export class ScriptedReply {
  constructor(readonly spec: ReplySpec) {}
}

export function reply(spec: ReplySpec): ScriptedReply {
  return new ScriptedReply(spec);
}

export interface ScriptedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  /** Parsed JSON, or undefined when the body is empty or not JSON. */
  body: unknown;
  /** Order of arrival across all routes, from 0. */
  index: number;
  /** Order of arrival on this route, from 0 (the handler's `callIndex`). */
  routeIndex: number;
  /** path + canonical body: equal for equal requests whatever their key order. */
  key: string;
  /** performance.now() at arrival. */
  receivedAt: number;
  /** Date.now() at arrival, to compare with HTTP dates. */
  receivedAtEpochMs: number;
  /** performance.now() when the response was finished (or the connection dropped); undefined while in flight. */
  respondedAt?: number;
  status?: number;
}

export type ScriptedHandler = (body: unknown, callIndex: number, request: ScriptedRequest) => unknown;

export interface ScriptedServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `http://127.0.0.1:<port>/v1` */
  readonly baseUrl: string;
  readonly requests: readonly ScriptedRequest[];
  /** Requests that reached a path. */
  countFor(path: string): number;
  /** Requests with this exact path and (canonical) body. */
  countForKey(path: string, body: unknown): number;
  /** Most requests in flight at once so far. */
  readonly maxInFlight: number;
  close(): Promise<void>;
}

export function requestKeyOf(path: string, body: unknown): string {
  return `${path} ${canonicalJson(body ?? null)}`;
}

/** Starts the server on a free port of 127.0.0.1; unknown paths answer 404 with an OpenAI-style error. */
export async function startScriptedOpenAiServer(routes: Record<string, ScriptedHandler>): Promise<ScriptedServer> {
  const requests: ScriptedRequest[] = [];
  const perRoute = new Map<string, number>();
  const perKey = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;

  const server = http.createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = rawBody ? (JSON.parse(rawBody) as unknown) : undefined;
      } catch {
        body = undefined;
      }
      const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
      const routeIndex = perRoute.get(path) ?? 0;
      perRoute.set(path, routeIndex + 1);
      const key = requestKeyOf(path, body);
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
      const request: ScriptedRequest = { method: req.method ?? 'GET', path, headers: req.headers, rawBody, body, index: requests.length, routeIndex, key, receivedAt: performance.now(), receivedAtEpochMs: Date.now() };
      requests.push(request);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const done = (status: number) => {
        inFlight--;
        request.status = status;
        request.respondedAt = performance.now();
      };

      const handler = routes[path];
      let spec: ReplySpec;
      try {
        const result: unknown = handler
          ? await handler(body, routeIndex, request)
          : reply({ status: 404, body: { error: { message: `No scripted route for ${path}`, type: 'not_found_error', param: null, code: null } } });
        spec = result instanceof ScriptedReply ? result.spec : { body: result };
      } catch (error) {
        spec = { status: 500, body: { error: { message: `Scripted handler threw: ${String(error)}`, type: 'server_error', param: null, code: null } } };
      }
      if (spec.delayMs) await delay(spec.delayMs);
      if (spec.destroy) {
        done(0);
        req.socket.destroy();
        return;
      }
      const status = spec.status ?? 200;
      if (spec.sse) {
        res.writeHead(status, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', ...spec.headers });
        for (const event of spec.sse) res.write(`data: ${JSON.stringify(event)}\n\n`);
        res.end('data: [DONE]\n\n');
      } else {
        const text = spec.raw ?? JSON.stringify(spec.body ?? null);
        res.writeHead(status, { 'Content-Type': 'application/json', ...spec.headers });
        res.end(text);
      }
      done(status);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseUrl: `${url}/v1`,
    requests,
    countFor: (path) => perRoute.get(path) ?? 0,
    countForKey: (path, body) => perKey.get(requestKeyOf(path, body)) ?? 0,
    get maxInFlight() {
      return maxInFlight;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A chat completion body with one choice per text. */
export function chatCompletionBody(texts: readonly string[], usage = { prompt_tokens: 10, completion_tokens: 5 }): Record<string, unknown> {
  return {
    id: 'chatcmpl-scripted',
    object: 'chat.completion',
    created: 0,
    model: 'scripted',
    choices: texts.map((content, index) => ({ index, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null })),
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  };
}

/** The model list a server answers on GET /v1/models. */
export function modelListBody(ids: readonly string[], maxModelLen?: number): Record<string, unknown> {
  return { object: 'list', data: ids.map((id) => ({ id, object: 'model', created: 0, owned_by: 'scripted', ...(maxModelLen ? { max_model_len: maxModelLen } : {}) })) };
}
