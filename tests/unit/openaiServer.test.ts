import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zephyrTemplate } from '../../src/core/chatTemplate.ts';
import type { Engine } from '../../src/core/engine.ts';
import { createTransformersEngine } from '../../src/engines/transformers.ts';
import { createOpenAiServer, loadServerTokenizer, type PromptContinuer, type ServerTokenizer } from '../../scripts/lib/openaiServer.ts';
import { loadReferenceLlama } from '../support/llamaReference.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';

let engine: Engine;
let tokenizer: ServerTokenizer;
let server: Server;
let base: string;
/** The same engine behind a server that can also continue raw prompts (a greedy float64 reference). */
let withContinuer: Server;
let baseWithContinuer: string;
/** What the continuer generated last, to check the server's answer against. */
let lastContinuation: number[] = [];

async function listen(instance: Server): Promise<string> {
  await new Promise<void>((resolve) => instance.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(instance.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  const dir = await ensureTinyModel();
  engine = await createTransformersEngine({ model: dir, device: 'cpu' });
  tokenizer = await loadServerTokenizer(dir);
  const reference = await loadReferenceLlama(dir);
  const continuer: PromptContinuer = {
    async continueIds(promptIds, options) {
      if ((options.temperature ?? 1) !== 0) throw new Error('the reference continuer is greedy only');
      const maxNewTokens = options.maxNewTokens ?? 16;
      const tokenIds = reference.greedyContinuation([...promptIds], maxNewTokens);
      lastContinuation = tokenIds;
      return { tokenIds, text: tokenizer.decode(tokenIds.filter((id) => id !== 2)), finishReason: tokenIds.at(-1) === 2 ? 'eos' : 'length' };
    },
  };
  server = createOpenAiServer(engine, { modelName: 'tiny', tokenizer });
  base = await listen(server);
  withContinuer = createOpenAiServer(engine, { modelName: 'tiny', tokenizer, continuer });
  baseWithContinuer = await listen(withContinuer);
});

afterAll(async () => {
  for (const instance of [server, withContinuer]) {
    instance?.close();
    instance?.closeAllConnections();
  }
  await engine?.dispose();
});

async function post(path: string, body: unknown, root = base): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${root}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

const messages = [{ role: 'user' as const, content: 'Tell me about the sea.' }];

describe('OpenAI-compatible server: routes', () => {
  it('lists the served model with its context window', async () => {
    const response = await fetch(`${base}/v1/models`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ object: 'list', data: [{ id: 'tiny', object: 'model', max_model_len: 2048 }] });
  });

  it('answers a chat completion exactly as the engine generates, with usage', async () => {
    const local = await engine.generate(messages, { maxNewTokens: 10, temperature: 0 });
    const { status, json } = await post('/v1/chat/completions', { model: 'tiny', messages, max_tokens: 10, temperature: 0 });
    expect(status).toBe(200);
    expect(json).toMatchObject({
      object: 'chat.completion',
      model: 'tiny',
      choices: [{ index: 0, message: { role: 'assistant', content: local.text }, finish_reason: local.finishReason === 'eos' ? 'stop' : 'length' }],
      usage: { prompt_tokens: local.promptTokenCount, completion_tokens: local.tokenIds.length, total_tokens: local.promptTokenCount + local.tokenIds.length },
    });
    expect(json.id).toMatch(/^chatcmpl-/);
  });

  it('samples n choices with seeds seed, seed+1, …', async () => {
    const options = { maxNewTokens: 8, temperature: 1, topP: 0.9 };
    const expected = [];
    for (const seed of [5, 6, 7]) expected.push((await engine.generate(messages, { ...options, seed })).text);
    const { json } = await post('/v1/chat/completions', { model: 'tiny', messages, max_tokens: 8, temperature: 1, top_p: 0.9, seed: 5, n: 3 });
    const choices = json.choices as { index: number; message: { content: string } }[];
    expect(choices.map((choice) => choice.index)).toEqual([0, 1, 2]);
    expect(choices.map((choice) => choice.message.content)).toEqual(expected);
    expect(new Set(expected).size).toBeGreaterThan(1);
  });

  it('streams server-sent events: a role chunk, content deltas, a finish chunk, usage, then [DONE]', async () => {
    const plain = await post('/v1/chat/completions', { model: 'tiny', messages, max_tokens: 12, temperature: 0 });
    const response = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', messages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true } }),
    });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const text = await response.text();
    // Every event is exactly `data: <payload>` followed by a blank line.
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const events = text.split('\n\n').filter(Boolean);
    expect(events.every((event) => event.startsWith('data: ') && !event.includes('\n'))).toBe(true);
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event.slice('data: '.length)) as { object: string; choices: { delta: { role?: string; content?: string }; finish_reason: string | null }[]; usage?: unknown });
    expect(chunks.every((chunk) => chunk.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
    const content = chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta.content ?? '')).join('');
    const plainChoice = (plain.json.choices as { message: { content: string }; finish_reason: string }[])[0];
    expect(content).toBe(plainChoice?.message.content);
    const finishes = chunks.flatMap((chunk) => chunk.choices.filter((choice) => choice.finish_reason !== null));
    expect(finishes.map((choice) => choice.finish_reason)).toEqual([plainChoice?.finish_reason]);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: plain.json.usage as object });
  });

  it('tokenizes like the engine, adding BOS by default, and chats through the template', async () => {
    const ids = await engine.tokenize('Hello there');
    expect((await post('/tokenize', { model: 'tiny', prompt: 'Hello there', add_special_tokens: false })).json).toEqual({ count: ids.length, max_model_len: 2048, tokens: ids });
    expect((await post('/v1/tokenize', { prompt: 'Hello there' })).json.tokens).toEqual([1, ...ids]);
    const chatIds = await engine.tokenize(zephyrTemplate.render(messages, { addGenerationPrompt: true }));
    expect((await post('/tokenize', { messages })).json.tokens).toEqual(chatIds);
  });

  it('keeps serving after a streaming client disconnects mid-answer', async () => {
    const controller = new AbortController();
    const response = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', messages, max_tokens: 400, temperature: 1, seed: 1, stream: true }),
      signal: controller.signal,
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    controller.abort();
    const { status, json } = await post('/v1/chat/completions', { model: 'tiny', messages, max_tokens: 3, temperature: 0 });
    expect(status).toBe(200);
    expect((json.choices as unknown[]).length).toBe(1);
  });
});

describe('OpenAI-compatible server: errors', () => {
  const cases: [string, string, unknown, number, Record<string, unknown>][] = [
    ['malformed JSON', '/v1/chat/completions', '{"model": "tiny", "messages": [', 400, { type: 'invalid_request_error', message: expect.stringMatching(/not valid JSON/) }],
    ['no messages', '/v1/chat/completions', { model: 'tiny' }, 400, { param: 'messages' }],
    ['temperature out of range', '/v1/chat/completions', { model: 'tiny', messages, temperature: 3 }, 400, { param: 'temperature' }],
    ['a bad role', '/v1/chat/completions', { model: 'tiny', messages: [{ role: 'robot', content: 'x' }] }, 400, { param: 'messages.0.role' }],
    ['an unknown model', '/v1/chat/completions', { model: 'gpt-9', messages }, 404, { type: 'not_found_error', code: 'model_not_found', param: 'model' }],
    ['stop sequences', '/v1/chat/completions', { model: 'tiny', messages, stop: ['\n'] }, 400, { param: 'stop' }],
    ['max_tokens 0 without echo', '/v1/completions', { model: 'tiny', prompt: 'Hi', max_tokens: 0 }, 400, { param: 'max_tokens', message: expect.stringMatching(/needs echo: true/) }],
    ['raw-prompt generation without a continuer', '/v1/completions', { model: 'tiny', prompt: 'Hi', max_tokens: 5 }, 400, { param: 'max_tokens', message: expect.stringMatching(/use \/v1\/chat\/completions to generate/) }],
    ['a mixed prompt array', '/v1/completions', { model: 'tiny', prompt: [1, 'a'], echo: true, max_tokens: 0 }, 400, { param: 'prompt' }],
    ['a prompt beyond the context window', '/v1/completions', { model: 'tiny', prompt: Array.from({ length: 2049 }, () => 5), echo: true, logprobs: 0, max_tokens: 0 }, 400, { code: 'context_length_exceeded' }],
    ['an unknown route', '/v1/embeddings', { model: 'tiny', input: 'x' }, 404, { type: 'not_found_error' }],
  ];
  it.each(cases)('answers %s with %s → an OpenAI-style error', async (_name, path, body, status, error) => {
    const response = await post(path, body);
    expect(response.status).toBe(status);
    const answered = response.json.error as Record<string, unknown>;
    // Exactly OpenAI's four fields, param and code null when they do not apply.
    expect(Object.keys(response.json)).toEqual(['error']);
    expect(Object.keys(answered).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(typeof answered.message).toBe('string');
    expect(answered).toMatchObject(error);
  });

  it('answers a wrong method with 405', async () => {
    const response = await fetch(`${base}/v1/chat/completions`);
    expect(response.status).toBe(405);
    expect(await response.json()).toMatchObject({ error: { message: expect.stringMatching(/takes POST, not GET/) } });
  });
});

describe('OpenAI-compatible server: prompt log-probs', () => {
  const question = 'What should I cook tonight?';

  async function promptIds(): Promise<number[]> {
    return [1, ...(await engine.tokenize(zephyrTemplate.render([{ role: 'user', content: question }, { role: 'assistant', content: 'A curry.' }], { addGenerationPrompt: false })))];
  }

  it('echoes token-id prompts with teacher-forced log-probs, the first one null', async () => {
    const ids = await promptIds();
    const expected = (await engine.score({ promptIds: ids.slice(0, 1), continuations: [ids.slice(1)] })).logprobs[0] as number[];
    const { status, json } = await post('/v1/completions', { model: 'tiny', prompt: ids, echo: true, logprobs: 1, max_tokens: 0 });
    expect(status).toBe(200);
    const choice = (json.choices as { index: number; text: string; finish_reason: string; logprobs: { tokens: string[]; token_logprobs: (number | null)[]; top_logprobs: null } }[])[0];
    expect(choice?.logprobs.token_logprobs[0]).toBeNull();
    expect(choice?.logprobs.token_logprobs.slice(1)).toEqual(expected);
    expect(choice?.logprobs.tokens).toEqual(tokenizer.tokenStrings(ids));
    expect(choice?.logprobs.tokens[0]).toBe('<s>');
    expect(choice?.text).toBe(tokenizer.decode(ids));
    expect(choice?.finish_reason).toBe('length');
    expect(json.usage).toEqual({ prompt_tokens: ids.length, completion_tokens: 0, total_tokens: ids.length });
  });

  it('gives vLLM-style prompt_logprobs keyed by token id, and scores a batch of prompts', async () => {
    const ids = await promptIds();
    const other = ids.slice(0, 7);
    const { json } = await post('/v1/completions', { model: 'tiny', prompt: [ids, other], echo: true, max_tokens: 0, prompt_logprobs: 1 });
    const choices = json.choices as { index: number; logprobs: unknown; prompt_logprobs: (Record<string, { logprob: number; decoded_token: string }> | null)[] }[];
    expect(choices.map((choice) => choice.index)).toEqual([0, 1]);
    expect(choices[0]?.logprobs).toBeNull();
    const expected = (await engine.score({ promptIds: ids.slice(0, 1), continuations: [ids.slice(1), other.slice(1)] })).logprobs;
    choices.forEach((choice, i) => {
      const sequence = i === 0 ? ids : other;
      expect(choice.prompt_logprobs).toHaveLength(sequence.length);
      expect(choice.prompt_logprobs[0]).toBeNull();
      const values = choice.prompt_logprobs.slice(1).map((entry, k) => entry?.[String(sequence[k + 1])]?.logprob);
      expect(values).toEqual(expected[i]);
    });
  });

  it('tokenizes a text prompt with BOS first and echoes the text itself', async () => {
    const ids = [1, ...(await engine.tokenize(question))];
    const { json } = await post('/v1/completions', { model: 'tiny', prompt: question, echo: true, logprobs: 0, max_tokens: 0 });
    const choice = (json.choices as { text: string; logprobs: { token_logprobs: (number | null)[] } }[])[0];
    expect(choice?.text).toBe(question);
    expect(choice?.logprobs.token_logprobs).toHaveLength(ids.length);
    expect((json.usage as { prompt_tokens: number }).prompt_tokens).toBe(ids.length);
  });

  it('with a continuer, generates from a raw prompt after the echo, scoring the new tokens too', async () => {
    const ids = await promptIds();
    const { status, json } = await post('/v1/completions', { model: 'tiny', prompt: ids, echo: true, logprobs: 1, max_tokens: 4, temperature: 0 }, baseWithContinuer);
    expect(status).toBe(200);
    const choice = (json.choices as { text: string; logprobs: { tokens: string[]; token_logprobs: (number | null)[] } }[])[0];
    const generated = lastContinuation;
    expect(generated.length).toBeGreaterThan(0);
    expect(json.usage).toMatchObject({ prompt_tokens: ids.length, completion_tokens: generated.length });
    expect(choice?.logprobs.tokens).toEqual(tokenizer.tokenStrings([...ids, ...generated]));
    expect(choice?.text).toBe(tokenizer.decode(ids) + tokenizer.decode(generated.filter((id) => id !== 2)));
    // The generated tokens' log-probs are teacher-forced given the prompt.
    const expected = (await engine.score({ promptIds: ids, continuations: [generated] })).logprobs[0];
    expect(choice?.logprobs.token_logprobs.slice(ids.length)).toEqual(expected);
  });
});
