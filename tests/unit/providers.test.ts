import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { parseBuildConfig } from '../../src/core/dataset/config.ts';
import { acceptsTopK, type ChatRequest } from '../../src/core/providers.ts';
import { createRoles } from '../../scripts/lib/dataset/roles.ts';
import { createReporter } from '../../scripts/lib/reporter.ts';
import { chatRequestBody, createHttpRewardProvider, createOpenAiChatProvider } from '../../scripts/lib/providers.ts';
import { openRequestCache, type RequestCache } from '../../scripts/lib/requestCache.ts';
import { ProviderError, parseRetryAfter } from '../../scripts/lib/resilientCall.ts';
import { chatCompletionBody, reply, startScriptedOpenAiServer, type ScriptedServer } from '../../scripts/fixtures/scriptedOpenAiServer.ts';

const CHAT = '/v1/chat/completions';
const KEY_ENV = 'WIKIPERSONA_TEST_PROVIDER_KEY';
const SECRET = 'sk-test-very-secret-0123456789';
/** Backoff so short that any wait of a second or more can only come from Retry-After. */
const FAST = { backoffMs: 1, maxBackoffMs: 5 };

let server: ScriptedServer | undefined;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'providers-'));
  process.env[KEY_ENV] = SECRET;
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  delete process.env[KEY_ENV];
  await rm(dir, { recursive: true, force: true });
});

function ask(content: string, extra: Partial<ChatRequest> = {}): ChatRequest {
  return { messages: [{ role: 'user', content }], temperature: 0, maxTokens: 16, ...extra };
}

describe('Retry-After parsing', () => {
  it('reads delta-seconds and HTTP dates, and ignores garbage', () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('0.5', now)).toBe(500);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:07 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('OpenAI chat provider: retries', () => {
  it('honours Retry-After in seconds: the retry is not sent before the header says', async () => {
    server = await startScriptedOpenAiServer({
      [CHAT]: (_body, call) => (call === 0 ? reply({ status: 429, headers: { 'Retry-After': '1' }, body: { error: { message: 'slow down' } } }) : chatCompletionBody(['ok'])),
    });
    const retries: string[] = [];
    const provider = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'm', maxRetries: 3, ...FAST, onRetry: (line) => retries.push(line) });
    const response = await provider.chat(ask('Hi'));
    expect(response.texts).toEqual(['ok']);
    const [first, second] = server.requests;
    // Lower bound only (timer granularity ≤ 2 ms): with a 1–5 ms backoff, only the header explains ≥ 1 s.
    expect((second?.receivedAt ?? 0) - (first?.respondedAt ?? Infinity)).toBeGreaterThanOrEqual(998);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatch(/HTTP 429 \(slow down\); retry 1\/3 in 1\.\d s/);
    expect(provider.stats()).toMatchObject({ calls: 1, requests: 2, retries: 1, failures: 0 });
  });

  it('honours Retry-After as an HTTP date', async () => {
    // On a whole second, so the header's one-second resolution loses nothing.
    const until = Math.ceil((Date.now() + 1500) / 1000) * 1000;
    server = await startScriptedOpenAiServer({
      [CHAT]: (_body, call) => (call === 0 ? reply({ status: 429, headers: { 'Retry-After': new Date(until).toUTCString() } }) : chatCompletionBody(['ok'])),
    });
    const provider = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'm', maxRetries: 2, ...FAST });
    await provider.chat(ask('Hi'));
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]?.receivedAtEpochMs).toBeGreaterThanOrEqual(until - 2);
  });

  it('pauses every role on the endpoint while a 429 Retry-After runs', async () => {
    server = await startScriptedOpenAiServer({
      [CHAT]: (_body, call) => (call === 0 ? reply({ status: 429, headers: { 'Retry-After': '1' } }) : chatCompletionBody(['ok'])),
    });
    const scripted = server;
    let judgeBackingOff = false;
    const judge = createOpenAiChatProvider({ baseUrl: scripted.baseUrl, model: 'judge', maxRetries: 2, ...FAST, onRetry: () => (judgeBackingOff = true) });
    const generator = createOpenAiChatProvider({ baseUrl: scripted.baseUrl, model: 'generator', maxRetries: 2, ...FAST });
    const first = judge.chat(ask('one'));
    // Once the judge has taken its 429, another role's call must wait for the same Retry-After.
    await expect.poll(() => judgeBackingOff).toBe(true);
    const pausedAt = scripted.requests[0]?.respondedAt as number;
    await Promise.all([first, generator.chat(ask('two'))]);
    const generatorRequest = scripted.requests.find((request) => (request.body as { model: string }).model === 'generator');
    expect(generatorRequest?.receivedAt ?? 0).toBeGreaterThanOrEqual(pausedAt + 998);
  });

  it('retries 500s, dropped connections and unreadable bodies, then succeeds', async () => {
    server = await startScriptedOpenAiServer({
      [CHAT]: (_body, call) =>
        [
          reply({ status: 500, body: { error: { message: 'boom' } } }),
          reply({ destroy: true }),
          reply({ raw: '{"choices": [trunc' }),
          reply({ status: 503, raw: '<html>Service Unavailable</html>' }),
        ][call] ?? chatCompletionBody(['finally']),
    });
    const provider = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'm', maxRetries: 5, ...FAST });
    const response = await provider.chat(ask('Hi'));
    expect(response).toEqual({ texts: ['finally'], usage: { promptTokens: 10, completionTokens: 5 }, cached: false });
    expect(server.countFor(CHAT)).toBe(5);
    expect(provider.stats()).toMatchObject({ calls: 1, requests: 5, retries: 4 });
  });

  it('stops after the retries with the status and what to do, having made exactly 1 + maxRetries requests', async () => {
    server = await startScriptedOpenAiServer({ [CHAT]: () => reply({ status: 503, body: { error: { message: 'overloaded' } } }) });
    const provider = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'm', maxRetries: 2, ...FAST });
    const error = await provider.chat(ask('Hi')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ status: 503, attempts: 3 });
    expect((error as Error).message).toMatch(/failed 3 times, last with HTTP 503 \(overloaded\): the service is failing or unreachable: check it and re-run \(finished results are kept/);
    expect(server.countFor(CHAT)).toBe(3);
    expect(provider.stats()).toMatchObject({ calls: 0, failures: 1, requests: 3, retries: 2 });
  });

  it('stops a persistent 429 as a quota problem, and a too-long Retry-After at once', async () => {
    server = await startScriptedOpenAiServer({
      [CHAT]: (body) =>
        (body as { model: string }).model === 'patient'
          ? reply({ status: 429, headers: { 'Retry-After': '0' } })
          : reply({ status: 429, headers: { 'Retry-After': '3600' } }),
    });
    const patient = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'patient', maxRetries: 1, ...FAST });
    await expect(patient.chat(ask('Hi'))).rejects.toMatchObject({ code: 'quota-exceeded', message: expect.stringMatching(/lower the concurrency, or wait and re-run/) });
    const hasty = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'hasty', maxRetries: 5, maxRetryAfterMs: 60_000, ...FAST });
    await expect(hasty.chat(ask('Hi'))).rejects.toMatchObject({ code: 'quota-exceeded', message: expect.stringMatching(/asking to wait 3600 s .*re-run later/) });
    expect(server.requests.filter((request) => (request.body as { model: string }).model === 'hasty')).toHaveLength(1);
  });

  it('does not retry a 400, and says which variable holds the key on a 401', async () => {
    server = await startScriptedOpenAiServer({
      [CHAT]: (body) =>
        (body as { model: string }).model === 'bad'
          ? reply({ status: 400, body: { error: { message: 'messages: too long' } } })
          : reply({ status: 401, body: { error: { message: 'bad key' } } }),
    });
    const bad = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'bad', maxRetries: 5, ...FAST });
    await expect(bad.chat(ask('Hi'))).rejects.toMatchObject({ code: 'invalid-input', status: 400, message: expect.stringMatching(/HTTP 400 \(messages: too long\): the request was refused/) });
    const locked = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'locked', apiKeyEnv: KEY_ENV, maxRetries: 5, ...FAST });
    await expect(locked.chat(ask('Hi'))).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringContaining(`check the API key in the environment variable ${KEY_ENV}`) });
    expect(server.countFor(CHAT)).toBe(2);
  });

  it('stops on a response of the wrong shape without retrying', async () => {
    server = await startScriptedOpenAiServer({ [CHAT]: () => ({ hello: 'world' }) });
    const provider = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'm', maxRetries: 5, ...FAST });
    await expect(provider.chat(ask('Hi'))).rejects.toMatchObject({ code: 'unsupported', message: expect.stringMatching(/does not speak the expected API/) });
    expect(server.countFor(CHAT)).toBe(1);
  });
});

describe('OpenAI chat provider: concurrency', () => {
  it('never has more requests in flight than the endpoint limit, shared by every role on the base URL', async () => {
    const limit = 3;
    // The first `limit` requests are held until `limit` have arrived, so the limit is reached for
    // sure; one more in flight would show up while they are held.
    let arrived = 0;
    let openGate: () => void = () => {};
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    server = await startScriptedOpenAiServer({
      [CHAT]: async (body) => {
        arrived++;
        if (arrived === limit) openGate();
        if (arrived <= limit) await Promise.race([gate, new Promise((resolve) => setTimeout(resolve, 5000))]);
        return reply({ delayMs: 10, body: chatCompletionBody([(body as { messages: { content: string }[] }).messages[0]?.content ?? '']) });
      },
    });
    const judge = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'judge', concurrency: limit });
    // A second role asking for more does not raise the endpoint's limit.
    const generator = createOpenAiChatProvider({ baseUrl: `${server.baseUrl}/`, model: 'generator', concurrency: 10 });
    const calls = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? judge : generator).chat(ask(`q${i}`)));
    const responses = await Promise.all(calls);
    expect(responses.map((response) => response.texts[0])).toEqual(Array.from({ length: 12 }, (_, i) => `q${i}`));
    expect(server.maxInFlight).toBe(limit);
    expect(server.countFor(CHAT)).toBe(12);
  });
});

describe('OpenAI chat provider: cache, usage and secrets', () => {
  it('answers a re-run from the cache with zero calls to the server', async () => {
    server = await startScriptedOpenAiServer({ [CHAT]: (body) => chatCompletionBody([`answer to ${(body as { messages: { content: string }[] }).messages[0]?.content}`]) });
    const path = join(dir, 'cache.sqlite');
    const requests = [ask('a'), ask('b'), ask('c', { seed: 4, temperature: 0.7 })];

    let cache: RequestCache = openRequestCache(path);
    const first = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'm', cache });
    const firstRun = await Promise.all(requests.map((request) => first.chat(request)));
    cache.close();
    expect(server.countFor(CHAT)).toBe(3);

    cache = openRequestCache(path);
    const rerun = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'm', cache });
    const secondRun = await Promise.all(requests.map((request) => rerun.chat(request)));
    expect(server.countFor(CHAT)).toBe(3);
    expect(secondRun.map((response) => response.texts)).toEqual(firstRun.map((response) => response.texts));
    expect(secondRun.every((response) => response.cached)).toBe(true);
    expect(rerun.stats()).toMatchObject({ calls: 0, requests: 0, cacheHits: 3, promptTokens: 0, estimatedCostUsd: null });
    // A different request is not a hit.
    await rerun.chat(ask('d'));
    expect(server.countFor(CHAT)).toBe(4);
    cache.close();
  });

  it('accounts tokens and estimated cost from the price table', async () => {
    server = await startScriptedOpenAiServer({ [CHAT]: () => chatCompletionBody(['x'], { prompt_tokens: 1000, completion_tokens: 200 }) });
    const provider = createOpenAiChatProvider({
      baseUrl: server.baseUrl,
      model: 'gpt-4-0613',
      pricing: { 'gpt-4-0613': { promptPerMillion: 30, completionPerMillion: 60 } },
    });
    await provider.chat(ask('a'));
    await provider.chat(ask('b'));
    const stats = provider.stats();
    expect(stats).toMatchObject({ calls: 2, promptTokens: 2000, completionTokens: 400, cacheHits: 0 });
    expect(stats.estimatedCostUsd).toBeCloseTo((2000 * 30 + 400 * 60) / 1e6, 12);
  });

  it('returns n completions, and refuses a server that ignores n', async () => {
    server = await startScriptedOpenAiServer({
      [CHAT]: (body) => {
        const { n, model } = body as { n: number; model: string };
        return chatCompletionBody(model === 'ignores-n' ? ['only one'] : Array.from({ length: n }, (_, i) => `sample ${i}`));
      },
    });
    const provider = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'm' });
    expect((await provider.chat(ask('Hi', { n: 3, temperature: 1 }))).texts).toEqual(['sample 0', 'sample 1', 'sample 2']);
    expect(server.requests[0]?.body).toMatchObject({ n: 3, temperature: 1, max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] });
    const ignoring = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'ignores-n' });
    await expect(ignoring.chat(ask('Hi', { n: 3 }))).rejects.toMatchObject({ code: 'unsupported', message: expect.stringMatching(/returned 1 completions for n = 3/) });
  });

  it('sends top_k to a server that takes it, and only when a request sets it', async () => {
    server = await startScriptedOpenAiServer({ [CHAT]: () => chatCompletionBody(['x']) });
    const warnings: string[] = [];
    const provider = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'zephyr', onWarning: (line) => warnings.push(line) });
    await provider.chat(ask('a', { temperature: 2, topP: 0.8, topK: 50 }));
    await provider.chat(ask('b'));
    expect(server.requests[0]?.body).toMatchObject({ temperature: 2, top_p: 0.8, top_k: 50 });
    expect(server.requests[1]?.body).not.toHaveProperty('top_k');
    expect(warnings).toEqual([]);
  });

  it('leaves top_k out for api.openai.com, which has none, and says so once', async () => {
    // The cache holds the answer to the body without top_k: a body with it would miss and try the network.
    const cache = openRequestCache(':memory:');
    const request = ask('a', { temperature: 2, topP: 0.8, topK: 50 });
    const { topK: _topK, ...withoutTopK } = request;
    cache.put('openai:gpt-4-0613', chatRequestBody('gpt-4-0613', withoutTopK), chatCompletionBody(['cached']));
    cache.put('openai:gpt-4-0613', chatRequestBody('gpt-4-0613', { ...withoutTopK, seed: 1 }), chatCompletionBody(['cached too']));
    const warnings: string[] = [];
    const provider = createOpenAiChatProvider({ baseUrl: 'https://api.openai.com/v1', model: 'gpt-4-0613', cache, onWarning: (line) => warnings.push(line) });
    expect((await provider.chat(request)).texts).toEqual(['cached']);
    expect((await provider.chat({ ...request, seed: 1 })).texts).toEqual(['cached too']);
    expect(warnings).toEqual(['https://api.openai.com/v1 has no top_k parameter: sampling there uses temperature and top_p only (top-k 50 is not applied).']);
    expect(acceptsTopK('https://API.openai.com/v1')).toBe(false);
    expect(acceptsTopK('https://my-deployment.openai.azure.com/openai')).toBe(false);
    expect(acceptsTopK('http://127.0.0.1:8000/v1')).toBe(true);
    cache.close();
  });

  it('sends the key from the named variable but never lets it into errors, retry logs or the cache', async () => {
    const echoKey = (request: { headers: Record<string, unknown> }) => `rejected ${String(request.headers.authorization)}`;
    server = await startScriptedOpenAiServer({
      [CHAT]: (body, call, request) => {
        const model = (body as { model: string }).model;
        if (model === 'fails') return reply({ status: 401, body: { error: { message: echoKey(request) } } });
        if (call === 0) return reply({ status: 500, body: { error: { message: echoKey(request) } } });
        return chatCompletionBody([`fine`]);
      },
    });
    const path = join(dir, 'cache.sqlite');
    const cache = openRequestCache(path);
    const logs: string[] = [];
    const provider = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'ok', apiKeyEnv: KEY_ENV, cache, ...FAST, onRetry: (line) => logs.push(line) });
    await provider.chat(ask('Hi'));
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toContain('rejected Bearer [redacted]');

    const failing = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'fails', apiKeyEnv: KEY_ENV, cache, ...FAST });
    const error = (await failing.chat(ask('Hi')).catch((e: unknown) => e)) as Error;
    expect(error.message).toContain('rejected Bearer [redacted]');
    expect(JSON.stringify(error)).not.toContain(SECRET);
    expect(`${error.message}${error.stack ?? ''}${logs.join('')}`).not.toContain(SECRET);

    cache.close();
    for (const file of await readdir(dir)) expect((await readFile(join(dir, file))).includes(SECRET)).toBe(false);
  });

  it('refuses to start when the named key variable is unset, naming it', () => {
    delete process.env[KEY_ENV];
    expect(() => createOpenAiChatProvider({ baseUrl: 'http://127.0.0.1:9/v1', model: 'm', apiKeyEnv: KEY_ENV })).toThrow(
      new RegExp(`environment variable ${KEY_ENV} is not set`),
    );
  });
});

describe('OpenAI chat provider: max_completion_tokens', () => {
  /** OpenAI's answer to `max_tokens` on a model that takes `max_completion_tokens` only (o-series, GPT-5). */
  const rejectsMaxTokens = (body: unknown) =>
    (body as Record<string, unknown>).max_tokens !== undefined
      ? reply({ status: 400, body: { error: { message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", type: 'invalid_request_error', param: 'max_tokens', code: 'unsupported_parameter' } } })
      : chatCompletionBody([`limit ${String((body as Record<string, unknown>).max_completion_tokens)}`]);

  it('auto: switches to max_completion_tokens when the model refuses max_tokens, and keeps it', async () => {
    server = await startScriptedOpenAiServer({ [CHAT]: rejectsMaxTokens });
    const cache = openRequestCache(join(dir, 'cache.sqlite'));
    const provider = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'o3-mini', cache, ...FAST });
    expect((await provider.chat(ask('a'))).texts).toEqual(['limit 16']);
    expect((await provider.chat(ask('b', { maxTokens: 32 }))).texts).toEqual(['limit 32']);
    const bodies = server.requests.map((request) => request.body as Record<string, unknown>);
    expect(bodies.map((body) => ('max_tokens' in body ? 'max_tokens' : 'max_completion_tokens'))).toEqual(['max_tokens', 'max_completion_tokens', 'max_completion_tokens']);
    expect(provider.stats()).toMatchObject({ calls: 2, requests: 3, retries: 0, failures: 0 });
    // The cache key is the request, not the wire name of its limit: a re-run is answered from the cache.
    const rerun = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'o3-mini', cache, maxTokensParameter: 'max_tokens' });
    expect((await rerun.chat(ask('a'))).cached).toBe(true);
    cache.close();
  });

  it('max_completion_tokens: sends it from the first request; max_tokens: fails with the server’s reason', async () => {
    server = await startScriptedOpenAiServer({ [CHAT]: rejectsMaxTokens });
    const modern = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'o3-mini', maxTokensParameter: 'max_completion_tokens' });
    expect((await modern.chat(ask('a'))).texts).toEqual(['limit 16']);
    expect(server.requests).toHaveLength(1);
    const legacy = createOpenAiChatProvider({ baseUrl: server.baseUrl, model: 'o3-mini', maxTokensParameter: 'max_tokens', ...FAST });
    await expect(legacy.chat(ask('a'))).rejects.toThrow(/HTTP 400.*Unsupported parameter: 'max_tokens' is not supported with this model/);
  });

  it('a build role configured with maxTokensParameter sends it', async () => {
    server = await startScriptedOpenAiServer({ [CHAT]: rejectsMaxTokens });
    const raw = JSON.parse(await readFile(new URL('../../examples/build-dataset/tiny.json', import.meta.url), 'utf8')) as { providers: Record<string, Record<string, unknown>> };
    raw.providers.judge = { ...raw.providers.judge, baseUrl: server.baseUrl, maxTokensParameter: 'max_completion_tokens' };
    const parsed = parseBuildConfig(raw);
    if (!parsed.ok) throw new Error(parsed.issues.join('\n'));
    const roles = createRoles(parsed.config, { configPath: fileURLToPath(new URL('../../examples/build-dataset/tiny.json', import.meta.url)), cachePath: join(dir, 'roles.sqlite'), reporter: createReporter('silent') });
    try {
      expect((await roles.judge.chat(ask('a'))).texts).toEqual(['limit 16']);
      expect(server.requests).toHaveLength(1);
      expect(server.requests[0]?.body).toMatchObject({ max_completion_tokens: 16 });
    } finally {
      await roles.close();
    }
  });
});

describe('HTTP reward provider', () => {
  const REWARD = '/reward';
  const items = Array.from({ length: 5 }, (_, i) => ({ question: `q${i}`, answer: 'a'.repeat(i + 1) }));

  it('posts batches of {items}, keeps the order, retries a 429 and reuses the cache', async () => {
    server = await startScriptedOpenAiServer({
      [REWARD]: (body, call) => {
        if (call === 0) return reply({ status: 429, headers: { 'Retry-After': '0' } });
        const batch = (body as { items: { answer: string }[] }).items;
        return { rewards: batch.map((item) => item.answer.length / 10) };
      },
    });
    const cache = openRequestCache(join(dir, 'cache.sqlite'));
    const provider = createHttpRewardProvider({ url: `${server.url}${REWARD}`, batchSize: 2, concurrency: 1, cache, ...FAST });
    expect(await provider.score(items)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5]);
    expect(server.countFor(REWARD)).toBe(4);
    // The retried batch may land after the others: compare the batch sizes, not their order.
    expect(server.requests.map((request) => (request.body as { items: unknown[] }).items.length).sort()).toEqual([1, 2, 2, 2]);
    expect(provider.stats()).toMatchObject({ calls: 3, retries: 1 });

    const rerun = createHttpRewardProvider({ url: `${server.url}${REWARD}`, batchSize: 2, cache });
    expect(await rerun.score(items)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5]);
    expect(server.countFor(REWARD)).toBe(4);
    expect(rerun.stats().cacheHits).toBe(3);
    cache.close();
  });

  it('refuses a response with the wrong number of rewards or non-numbers, without retrying', async () => {
    server = await startScriptedOpenAiServer({
      [REWARD]: (body) => ((body as { items: unknown[] }).items.length === 1 ? { rewards: ['high'] } : { rewards: [1] }),
    });
    const provider = createHttpRewardProvider({ url: `${server.url}${REWARD}`, ...FAST });
    await expect(provider.score(items.slice(0, 2))).rejects.toMatchObject({ code: 'unsupported', message: expect.stringMatching(/1 rewards for 2 items/) });
    await expect(provider.score(items.slice(0, 1))).rejects.toMatchObject({ code: 'unsupported' });
    expect(server.countFor(REWARD)).toBe(2);
  });

  it('retries a refused connection and then stops, saying the service is unreachable', async () => {
    // A port nothing listens on: start a server, note its URL, close it.
    const gone = await startScriptedOpenAiServer({});
    const url = `${gone.url}${REWARD}`;
    await gone.close();
    const provider = createHttpRewardProvider({ url, maxRetries: 2, ...FAST });
    await expect(provider.score(items.slice(0, 1))).rejects.toMatchObject({ code: 'unavailable', attempts: 3, message: expect.stringMatching(/failed 3 times, last with network error .*unreachable/) });
  });
});
