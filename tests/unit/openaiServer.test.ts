import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zephyrTemplate } from '../../src/core/chatTemplate.ts';
import type { Engine } from '../../src/core/engine.ts';
import { createTransformersEngine } from '../../src/engines/transformers.ts';
import { createOpenAiServer } from '../../scripts/lib/openaiServer.ts';
import type { PromptContinuer } from '../../scripts/lib/openaiServerProtocol.ts';
import { loadServerTokenizer, type ServerTokenizer } from '../../scripts/lib/serverTokenizer.ts';
import { loadReferenceLlama } from '../support/llamaReference.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';
import {
  assertVllmCompletionLogprobs,
  assertVllmPromptLogprobs,
  CompletionResponse,
  TokenizeResponse,
  type CompletionLogProbs,
  type PromptLogprobs,
} from '../support/vllmProtocol.ts';

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

  it('tokenizes at the root as vLLM does: BOS by default, token_strs on request, the chat template for messages', async () => {
    const ids = await engine.tokenize('Hello there');
    const plain = await post('/tokenize', { model: 'tiny', prompt: 'Hello there', add_special_tokens: false });
    expect(TokenizeResponse.parse(plain.json)).toEqual({ count: ids.length, max_model_len: 2048, tokens: ids, token_strs: null });
    const withBos = TokenizeResponse.parse((await post('/tokenize', { prompt: 'Hello there', return_token_strs: true })).json);
    expect(withBos.tokens).toEqual([1, ...ids]);
    // The vocabulary pieces, as convert_ids_to_tokens gives them.
    expect(withBos.token_strs).toEqual(['<s>', '▁Hello', '▁there']);
    const chatIds = await engine.tokenize(zephyrTemplate.render(messages, { addGenerationPrompt: true }));
    expect((await post('/tokenize', { messages })).json.tokens).toEqual(chatIds);
    expect((await post('/tokenize', { messages, add_special_tokens: true })).json.tokens).toEqual([1, ...chatIds]);
    expect((await post('/tokenize', { messages, add_generation_prompt: false })).json.tokens).toEqual(await engine.tokenize(zephyrTemplate.render(messages, { addGenerationPrompt: false })));
    // vLLM serves /tokenize beside /v1, not under it.
    expect((await post('/v1/tokenize', { prompt: 'Hello there' })).status).toBe(404);
    expect((await post('/detokenize', { tokens: withBos.tokens })).json).toEqual({ prompt: tokenizer.decode(withBos.tokens) });
  });

  it('reports the tokenizer config and its chat template on /tokenizer_info', async () => {
    const response = await fetch(`${base}/tokenizer_info`);
    expect(await response.json()).toMatchObject({ tokenizer_class: 'LlamaTokenizer', bos_token: '<s>', eos_token: '</s>', chat_template: engine.info.chatTemplate.source });
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

describe('OpenAI-compatible server: prompt log-probs in vLLM\'s shapes', () => {
  const question = 'What should I cook tonight?';

  async function promptIds(): Promise<number[]> {
    return [1, ...(await engine.tokenize(zephyrTemplate.render([{ role: 'user', content: question }, { role: 'assistant', content: 'A curry.' }], { addGenerationPrompt: false })))];
  }

  /** Teacher-forced log-probs of positions 1.. of `ids`. */
  async function expectedScores(ids: number[]): Promise<number[]> {
    return (await engine.score({ promptIds: ids.slice(0, 1), continuations: [ids.slice(1)] })).logprobs[0] as number[];
  }

  it('echoes token-id prompts: tokens as vLLM decodes them, log-probs with the first null, top_logprobs and text_offset', async () => {
    const ids = await promptIds();
    const { status, json } = await post('/v1/completions', { model: 'tiny', prompt: ids, echo: true, logprobs: 2, max_tokens: 0 });
    expect(status).toBe(200);
    const response = CompletionResponse.parse(json);
    const choice = response.choices[0] as CompletionResponse['choices'][number];
    const logprobs = choice.logprobs as CompletionLogProbs;
    assertVllmCompletionLogprobs(logprobs, ids.length);
    expect(logprobs.token_logprobs[0]).toBeNull();
    expect(logprobs.top_logprobs[0]).toBeNull();
    expect(logprobs.token_logprobs.slice(1)).toEqual(await expectedScores(ids));
    // Position 0 is decode(id); the others are the entries' decoded tokens (decode([id]) per token).
    expect(logprobs.tokens).toEqual(ids.map((id) => tokenizer.decode([id])));
    expect(logprobs.tokens.slice(0, 3)).toEqual(['<s>', '<', '|']);
    // Each top_logprobs entry: the actual token, then the top 2 (the actual one once), keyed by text.
    logprobs.top_logprobs.slice(1).forEach((top, p) => {
      const entries = Object.entries(top ?? {});
      expect(entries.length).toBeGreaterThanOrEqual(2);
      expect(entries.length).toBeLessThanOrEqual(3);
      expect(top?.[logprobs.tokens[p + 1] as string]).toBe(logprobs.token_logprobs[p + 1]);
    });
    // In echo mode vLLM also returns the prompt's dictionaries, with `logprobs` alternatives.
    assertVllmPromptLogprobs(choice.prompt_logprobs as PromptLogprobs, ids, 2);
    expect(choice.text).toBe(tokenizer.decode(ids));
    expect(choice.finish_reason).toBe('length');
    expect(choice.stop_reason).toBeNull();
    expect(response.usage).toEqual({ prompt_tokens: ids.length, completion_tokens: 0, total_tokens: ids.length, prompt_tokens_details: null });
  });

  it('gives prompt_logprobs as vLLM does: the actual token with its real rank, then the top k with ranks 1..k', async () => {
    const ids = await promptIds();
    const other = ids.slice(0, 7);
    const { json } = await post('/v1/completions', { model: 'tiny', prompt: [ids, other], echo: true, max_tokens: 0, prompt_logprobs: 3 });
    const response = CompletionResponse.parse(json);
    expect(response.choices.map((choice) => choice.index)).toEqual([0, 1]);
    expect(response.choices[0]?.logprobs).toBeNull();
    const expected = (await engine.score({ promptIds: ids.slice(0, 1), continuations: [ids.slice(1), other.slice(1)] })).logprobs;
    response.choices.forEach((choice, i) => {
      const sequence = i === 0 ? ids : other;
      const positions = choice.prompt_logprobs as PromptLogprobs;
      assertVllmPromptLogprobs(positions, sequence, 3);
      expect(positions.slice(1).map((entry, k) => entry?.[String(sequence[k + 1])]?.logprob)).toEqual(expected[i]);
    });
    // The random model often prefers another token: the position then lists a better top-1.
    const positions = response.choices[0]?.prompt_logprobs as PromptLogprobs;
    const outranked = positions.slice(1).filter((entry, k) => (entry?.[String(ids[k + 1])]?.rank ?? 0) > 1);
    expect(outranked.length).toBeGreaterThan(0);
    for (const entry of outranked) {
      const top1 = Object.values(entry ?? {}).find((value) => value.rank === 1);
      expect(top1?.logprob).toBeGreaterThan(Math.max(...Object.values(entry ?? {}).filter((value) => value.rank !== 1).map((value) => value.logprob)));
    }
    // prompt_logprobs 0: the actual token alone.
    const alone = CompletionResponse.parse((await post('/v1/completions', { model: 'tiny', prompt: other, echo: true, max_tokens: 0, prompt_logprobs: 0 })).json);
    assertVllmPromptLogprobs(alone.choices[0]?.prompt_logprobs as PromptLogprobs, other, 0);
  });

  it('tokenizes a text prompt with the tokenizer\'s BOS unless add_special_tokens is false, and echoes the text itself', async () => {
    const ids = [1, ...(await engine.tokenize(question))];
    const { json } = await post('/v1/completions', { model: 'tiny', prompt: question, echo: true, logprobs: 0, max_tokens: 0 });
    const response = CompletionResponse.parse(json);
    expect(response.choices[0]?.text).toBe(question);
    expect(response.choices[0]?.logprobs?.token_logprobs).toHaveLength(ids.length);
    expect(response.usage.prompt_tokens).toBe(ids.length);
    const bare = CompletionResponse.parse((await post('/v1/completions', { model: 'tiny', prompt: question, echo: true, logprobs: 0, max_tokens: 0, add_special_tokens: false })).json);
    expect(bare.usage.prompt_tokens).toBe(ids.length - 1);
  });

  it('refuses a token id outside the vocabulary with a 400, as it refuses negative ids', async () => {
    for (const id of [32000, 10 ** 9]) {
      const response = await post('/v1/completions', { model: 'tiny', prompt: [1, id, 5], echo: true, logprobs: 0, max_tokens: 0 });
      expect(response.status).toBe(400);
      expect(response.json.error).toMatchObject({ type: 'invalid_request_error', param: 'prompt', message: expect.stringMatching(new RegExp(`Token id ${id} is out of vocabulary \\(ids 0–31999\\)`)) });
    }
    expect((await post('/v1/completions', { model: 'tiny', prompt: [1, -3], echo: true, logprobs: 0, max_tokens: 0 })).status).toBe(400);
  });

  it('with a continuer, generates from a raw prompt after the echo, the new tokens ranked too', async () => {
    const ids = await promptIds();
    const { status, json } = await post('/v1/completions', { model: 'tiny', prompt: ids, echo: true, logprobs: 1, max_tokens: 4, temperature: 0 }, baseWithContinuer);
    expect(status).toBe(200);
    const choice = CompletionResponse.parse(json).choices[0] as CompletionResponse['choices'][number];
    const generated = lastContinuation;
    expect(generated.length).toBeGreaterThan(0);
    expect(json.usage).toMatchObject({ prompt_tokens: ids.length, completion_tokens: generated.length });
    const logprobs = choice.logprobs as CompletionLogProbs;
    assertVllmCompletionLogprobs(logprobs, ids.length + generated.length);
    expect(logprobs.tokens).toEqual([...ids, ...generated].map((id) => tokenizer.decode([id])));
    expect(choice.text).toBe(tokenizer.decode(ids) + tokenizer.decode(generated.filter((id) => id !== 2)));
    // The generated tokens' log-probs are teacher-forced given the prompt; greedy means rank 1.
    const expected = (await engine.score({ promptIds: ids, continuations: [generated] })).logprobs[0];
    expect(logprobs.token_logprobs.slice(ids.length)).toEqual(expected);
    logprobs.top_logprobs.slice(ids.length).forEach((top) => expect(Object.keys(top ?? {})).toHaveLength(1));
  });
});
