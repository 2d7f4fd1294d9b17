/**
 * `serve` under abuse: a 15 MB chat request (under the 16 MiB body cap) is refused from its length
 * before anything is tokenized, with memory back near where it was; a long prompt that may fit is
 * tokenized off the event loop while other requests are answered; a client that leaves is logged
 * as a disconnect, not as a 200.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Engine } from '../../src/core/engine.ts';
import { createTransformersEngine } from '../../src/engines/transformers.ts';
import { createOpenAiServer } from '../../scripts/lib/openaiServer.ts';
import { loadServerTokenizer, WORKER_ENCODE_MIN_CHARS, type ServerTokenizer } from '../../scripts/lib/serverTokenizer.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';

let engine: Engine;
let tokenizer: ServerTokenizer;
let server: http.Server;
let base: string;
/** Lengths of the texts the server asked the tokenizer to encode. */
const encoded: number[] = [];
const logLines: string[] = [];

beforeAll(async () => {
  const dir = await ensureTinyModel();
  engine = await createTransformersEngine({ model: dir, device: 'cpu' });
  tokenizer = await loadServerTokenizer(dir);
  const counting: ServerTokenizer = {
    ...tokenizer,
    encode: (text, options) => {
      encoded.push(text.length);
      return tokenizer.encode(text, options);
    },
  };
  const generateFromIds = engine.generateFromIds?.bind(engine);
  server = createOpenAiServer(engine, { modelName: 'tiny', tokenizer: counting, ...(generateFromIds ? { continuer: { continueIds: generateFromIds } } : {}), log: (line) => logLines.push(line) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.close();
  server?.closeAllConnections();
  await tokenizer?.close();
  await engine?.dispose();
});

async function post(path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${base}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), ...(signal ? { signal } : {}) });
}

/** Heap in use after a full collection (gc exposed for this process on first use). */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}

const ASCII_WORDS = 'The quick brown fox jumps over the lazy dog while the owners sing about the weather. ';

/** Varied words, so the tokenizer does real work (a repeated character would merge into few pieces). */
function prose(length: number, words = 'The quick brown fox jumps over the lazy dog while naïve café owners sing about 日本語 and ünïcödé. '): string {
  return words.repeat(Math.ceil(length / words.length)).slice(0, length);
}

const messages = (content: string) => [{ role: 'user', content }];

describe('serve under a huge request', () => {
  it('refuses a 15 MB chat request from its length, tokenizing nothing, answering others meanwhile, with memory back near the baseline', async () => {
    const baseline = heapAfterGc();
    const before = encoded.length;
    const huge = post('/v1/chat/completions', { model: 'tiny', messages: messages(prose(15 * 1024 * 1024, ASCII_WORDS)), max_tokens: 4 });
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    const response = await huge;
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'context_length_exceeded', message: expect.stringMatching(/maximum context length is 2048 tokens, but a text of \d+ characters has at least \d+ tokens/) } });
    expect(encoded.length).toBe(before);
    // The body, its parse and the rendered prompt are garbage now (tokenizing it kept ~1 GB).
    expect(heapAfterGc() - baseline).toBeLessThan(64 * 1024 * 1024);
  });

  it('tokenizes a long prompt off the event loop: other requests are answered before it', async () => {
    // Long enough to go to the worker and take a while there, short enough to pass the length check.
    const long = prose(40_000);
    expect(long.length).toBeGreaterThan(WORKER_ENCODE_MIN_CHARS);
    const finished: string[] = [];
    const started = performance.now();
    const longRequest = post('/v1/chat/completions', { model: 'tiny', messages: messages(long), max_tokens: 2 }).then(async (response) => {
      finished.push('long');
      return response;
    });
    // Give the long request a head start so it is being tokenized when the others arrive.
    await vi.waitFor(() => expect(encoded.at(-1)).toBeGreaterThan(long.length), { timeout: 10_000, interval: 5 });
    const others = await Promise.all([
      fetch(`${base}/health`).then((response) => (finished.push('health'), response.status)),
      post('/tokenize', { prompt: 'Hello there' }).then((response) => (finished.push('tokenize'), response.status)),
    ]);
    const otherSeconds = (performance.now() - started) / 1000;
    const response = await longRequest;
    const longSeconds = (performance.now() - started) / 1000;
    expect(others).toEqual([200, 200]);
    // It has ~12,000 tokens: tokenized, then refused against the 2048-token window.
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'context_length_exceeded', message: expect.stringMatching(/the messages have \d+ tokens/) } });
    expect(finished.at(-1)).toBe('long');
    console.info(`other requests answered after ${otherSeconds.toFixed(2)} s; the long one after ${longSeconds.toFixed(2)} s`);
  });
});

describe('serve and a client that leaves', () => {
  it('logs a streaming client that disconnects as a disconnect, not as 200', async () => {
    const controller = new AbortController();
    const response = await post('/v1/chat/completions', { model: 'tiny', messages: messages('Tell me about the sea.'), max_tokens: 400, temperature: 1, seed: 1, stream: true }, controller.signal);
    await (response.body as ReadableStream<Uint8Array>).getReader().read();
    controller.abort();
    await vi.waitFor(() => expect(logLines.some((line) => /^POST \/v1\/chat\/completions client disconnected \d+ms$/.test(line))).toBe(true), { timeout: 30_000 });
  });

  it('logs a client that leaves before a non-streaming answer as a disconnect', async () => {
    const arrived = new Promise<void>((resolve) => server.once('request', () => resolve()));
    const controller = new AbortController();
    const pending = post('/v1/chat/completions', { model: 'tiny', messages: messages('Tell me about the sea.'), max_tokens: 200, temperature: 1, seed: 2 }, controller.signal).catch((error: unknown) => error);
    await arrived;
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    await vi.waitFor(() => expect(logLines.filter((line) => line.includes('client disconnected'))).toHaveLength(2), { timeout: 30_000 });
    // Finished requests still log their status.
    await post('/tokenize', { prompt: 'Hi' });
    await vi.waitFor(() => expect(logLines.at(-1)).toMatch(/^POST \/tokenize 200 \d+ms$/));
  });
});
