import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { zephyrTemplate } from '../../src/core/chatTemplate.ts';
import type { Engine, ScoreRequest } from '../../src/core/engine.ts';
import { scorePair } from '../../src/core/scorer.ts';
import { planScoring } from '../../src/core/scoringInput.ts';
import { createOpenAiEngine } from '../../src/engines/openai.ts';
import { createTransformersEngine } from '../../src/engines/transformers.ts';
import { createOpenAiServer } from '../../scripts/lib/openaiServer.ts';
import { loadServerTokenizer } from '../../scripts/lib/serverTokenizer.ts';
import { modelListBody, reply, startScriptedOpenAiServer, type ScriptedServer } from '../../scripts/fixtures/scriptedOpenAiServer.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';

const PAIRS = [
  { question: 'What should I cook tonight?', chosen: 'A light vegetable curry with rice and lentils.', rejected: 'Order a pizza.' },
  { question: 'Is coffee healthy?', chosen: 'In moderation, yes: it is linked to lower risk of some diseases.', rejected: 'No.' },
];
const messages = [{ role: 'user' as const, content: 'Tell me about the sea.' }];

let local: Engine;
let server: Server;
let baseUrl: string;
let remote: Engine;
let scripted: ScriptedServer | undefined;

beforeAll(async () => {
  const dir = await ensureTinyModel();
  local = await createTransformersEngine({ model: dir, device: 'cpu' });
  // As `serve` runs it: chat prompts tokenized by the server, generated from their ids.
  const generateFromIds = local.generateFromIds?.bind(local);
  server = createOpenAiServer(local, { modelName: 'tiny', tokenizer: await loadServerTokenizer(dir), ...(generateFromIds ? { continuer: { continueIds: generateFromIds } } : {}) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  remote = await createOpenAiEngine({ baseUrl, model: 'tiny' });
});

afterAll(async () => {
  await remote?.dispose();
  server?.close();
  server?.closeAllConnections();
  await local?.dispose();
});

afterEach(async () => {
  await scripted?.close();
  scripted = undefined;
});

async function scoreRequest(pair: (typeof PAIRS)[number]): Promise<ScoreRequest> {
  const plan = await planScoring((text) => remote.tokenize(text), pair.question, [pair.chosen, pair.rejected], {
    convention: 'authors',
    template: zephyrTemplate,
    special: { bos: 1, eos: 2 },
  });
  return { promptIds: plan.sharedPromptIds, continuations: plan.continuations };
}

function maxDifference(a: number[][], b: number[][]): number {
  expect(a.map((row) => row.length)).toEqual(b.map((row) => row.length));
  return Math.max(...a.flatMap((row, i) => row.map((value, t) => Math.abs(value - (b[i]?.[t] as number)))));
}

describe('OpenAI engine against `serve` on the tiny model', () => {
  it('reports the served model, its context window, and the template and special tokens learned from the server', () => {
    expect(remote.info).toMatchObject({ backend: 'openai', model: 'tiny', contextWindow: 2048, bosTokenId: 1, eosTokenId: 2 });
    expect(remote.info.chatTemplate).toEqual({ ...local.info.chatTemplate, name: 'tiny (from /tokenizer_info)' });
    expect(remote.info.device).toMatch(/^http 127\.0\.0\.1:\d+$/);
  });

  it('streams a greedy generation equal to the local engine, deltas adding up to the text', async () => {
    const deltas: string[] = [];
    const result = await remote.generate(messages, { maxNewTokens: 12, temperature: 0 }, (text) => deltas.push(text));
    const expected = await local.generate(messages, { maxNewTokens: 12, temperature: 0 });
    expect(result.text).toBe(expected.text);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(result.text);
    expect(result.promptTokenCount).toBe(expected.promptTokenCount);
    expect(result.finishReason).toBe(expected.finishReason);
    expect(result.prompt).toBe(expected.prompt);
  });

  it('samples with a seed, top_p and temperature exactly as the local engine does', async () => {
    const options = { maxNewTokens: 10, temperature: 0.8, topP: 0.9, seed: 21 };
    expect((await remote.generate(messages, options)).text).toBe((await local.generate(messages, options)).text);
  });

  it('stops and reports aborted when cancelled mid-stream, and the server keeps answering', async () => {
    const controller = new AbortController();
    let streamed = 0;
    const result = await remote.generate(messages, { maxNewTokens: 300, temperature: 1, seed: 3 }, () => {
      if (++streamed === 2) controller.abort();
    }, controller.signal);
    expect(result.finishReason).toBe('aborted');
    expect(streamed).toBeGreaterThanOrEqual(2);
    expect((await remote.generate(messages, { maxNewTokens: 2, temperature: 0 })).finishReason).not.toBe('aborted');
  });

  it('tokenizes through /tokenize exactly as the local engine', async () => {
    for (const text of ['<|user|>', 'Hello, world!', '</s>']) expect(await remote.tokenize(text)).toEqual(await local.tokenize(text));
  });

  for (const scoring of ['echo', 'prompt_logprobs'] as const) {
    it(`scores through ${scoring} equal to the local engine's one-pass scores (≤ 1e-5)`, async () => {
      const engine = await createOpenAiEngine({ baseUrl, model: 'tiny', scoring });
      for (const pair of PAIRS) {
        const request = await scoreRequest(pair);
        const [viaHttp, direct] = [await engine.score(request), await local.score(request)];
        expect(viaHttp.method).toBe(scoring === 'echo' ? 'openai-echo' : 'openai-prompt-logprobs');
        expect(maxDifference(viaHttp.logprobs, direct.logprobs)).toBeLessThanOrEqual(1e-5);
        // An off-by-one read of the positions would be far off.
        const shifted = viaHttp.logprobs.map((row) => row.slice(1));
        expect(maxDifference(shifted, direct.logprobs.map((row) => row.slice(0, -1)))).toBeGreaterThan(0.1);
      }
      expect(engine.info.scoringMethod).toBe(scoring === 'echo' ? 'openai-echo' : 'openai-prompt-logprobs');
    });
  }

  it('detects prompt_logprobs first in auto mode and remembers it', async () => {
    const engine = await createOpenAiEngine({ baseUrl, model: 'tiny' });
    expect(engine.info.scoringMethod).toMatch(/detected on first score/);
    const result = await engine.score(await scoreRequest(PAIRS[0] as (typeof PAIRS)[number]));
    expect(result.method).toBe('openai-prompt-logprobs');
    expect(engine.info.scoringMethod).toBe('openai-prompt-logprobs');
  });

  it('refuses a sequence beyond the context window before calling the server', async () => {
    await expect(remote.score({ promptIds: Array.from({ length: 2040 }, () => 100), continuations: [Array.from({ length: 20 }, () => 200)] })).rejects.toMatchObject({
      code: 'context-exceeded',
      message: expect.stringMatching(/needs 2060 tokens .* context window of 2048/),
    });
  });
});

describe('OpenAI engine against servers that lack features', () => {
  const request: ScoreRequest = { promptIds: [1, 523, 28766], continuations: [[330, 2], [28705]] };

  it('refuses to score when the server returns no prompt log-probs, saying what to use', async () => {
    scripted = await startScriptedOpenAiServer({
      '/v1/models': () => modelListBody(['plain']),
      // A completions endpoint that ignores echo, logprobs and prompt_logprobs.
      '/v1/completions': () => ({ id: 'c', object: 'text_completion', choices: [{ index: 0, text: 'hi', logprobs: null, finish_reason: 'length' }, { index: 1, text: 'hi', logprobs: null, finish_reason: 'length' }] }),
    });
    const engine = await createOpenAiEngine({ baseUrl: scripted.baseUrl, model: 'plain' });
    await expect(engine.score(request)).rejects.toMatchObject({
      code: 'unsupported',
      message: expect.stringMatching(/does not return prompt log-probs: use a vLLM server or `npm run cli -- serve`/),
    });
    const bodies = scripted.requests.filter((r) => r.path === '/v1/completions').map((r) => r.body as Record<string, unknown>);
    expect(bodies[0]).toMatchObject({ prompt: [[1, 523, 28766, 330, 2], [1, 523, 28766, 28705]], prompt_logprobs: 1, echo: true, max_tokens: 0 });
    expect(bodies[1]).toMatchObject({ echo: true, logprobs: 1, max_tokens: 0 });
    // A forced feature is refused the same way.
    const forced = await createOpenAiEngine({ baseUrl: scripted.baseUrl, model: 'plain', scoring: 'echo' });
    await expect(forced.score(request)).rejects.toMatchObject({ code: 'unsupported', message: expect.stringMatching(/does not return prompt log-probs/) });
  });

  it('falls back to echo with max_tokens 1 where a server refuses 0, ignoring the generated token', async () => {
    scripted = await startScriptedOpenAiServer({
      '/v1/models': () => modelListBody(['legacy'], 4096),
      '/v1/completions': (body) => {
        const { max_tokens, prompt, prompt_logprobs } = body as { max_tokens: number; prompt: number[][]; prompt_logprobs?: number };
        if (prompt_logprobs !== undefined) return reply({ status: 400, body: { error: { message: 'Unrecognized request argument supplied: prompt_logprobs' } } });
        if (max_tokens === 0) return reply({ status: 400, body: { error: { message: 'max_tokens must be at least 1' } } });
        // Position p of prompt i gets −(10·i + p); then one generated token.
        return {
          choices: prompt.map((ids, i) => ({ index: i, text: '', logprobs: { tokens: [], token_logprobs: [null, ...ids.slice(1).map((_, p) => -(10 * i + p + 1)), -99] } })),
        };
      },
    });
    const engine = await createOpenAiEngine({ baseUrl: scripted.baseUrl, model: 'legacy' });
    expect(engine.info.contextWindow).toBe(4096);
    const result = await engine.score(request);
    expect(result).toMatchObject({ method: 'openai-echo', logprobs: [[-3, -4], [-13]] });
    // Later calls go straight to echo with max_tokens 1.
    const before = scripted.countFor('/v1/completions');
    await engine.score(request);
    expect(scripted.countFor('/v1/completions')).toBe(before + 1);
    expect(scripted.requests.at(-1)?.body).toMatchObject({ echo: true, max_tokens: 1 });
  });

  it('refuses to tokenize without /tokenize, and names the fix', async () => {
    scripted = await startScriptedOpenAiServer({ '/v1/models': () => modelListBody(['m']) });
    const engine = await createOpenAiEngine({ baseUrl: scripted.baseUrl, model: 'm' });
    await expect(engine.tokenize('Hi')).rejects.toMatchObject({ code: 'unsupported', message: expect.stringMatching(/\/tokenize does not exist \(HTTP 404\).*vLLM server or `npm run cli -- serve`/) });
    expect(scripted.requests.at(-1)?.path).toBe('/tokenize');
  });

  it('names the served models when the model is not among them, and says when the server is unreachable', async () => {
    scripted = await startScriptedOpenAiServer({ '/v1/models': () => modelListBody(['a', 'b']) });
    await expect(createOpenAiEngine({ baseUrl: scripted.baseUrl, model: 'c' })).rejects.toMatchObject({ code: 'model-mismatch', message: expect.stringMatching(/does not serve "c" \(it serves: a, b\)/) });
    const url = scripted.baseUrl;
    await scripted.close();
    scripted = undefined;
    await expect(createOpenAiEngine({ baseUrl: url, model: 'c', maxRetries: 0 })).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/Cannot reach .*start the server or fix the base URL/) });
  });

  it('sends the key from the named variable and keeps it out of error messages', async () => {
    const secret = 'sk-engine-secret-42';
    process.env.WIKIPERSONA_TEST_ENGINE_KEY = secret;
    try {
      scripted = await startScriptedOpenAiServer({
        '/v1/models': (_body, _call, req) => reply({ status: 401, body: { error: { message: `Incorrect API key provided: ${String(req.headers.authorization).slice(7)}` } } }),
      });
      const error = (await createOpenAiEngine({ baseUrl: scripted.baseUrl, model: 'm', apiKeyEnv: 'WIKIPERSONA_TEST_ENGINE_KEY' }).catch((e: unknown) => e)) as Error;
      expect(scripted.requests[0]?.headers.authorization).toBe(`Bearer ${secret}`);
      expect(error.message).toMatch(/Incorrect API key provided: \[redacted\].*check the key in WIKIPERSONA_TEST_ENGINE_KEY/);
      expect(`${error.message}${error.stack ?? ''}`).not.toContain(secret);
      expect(JSON.stringify(await createOpenAiEngine({ baseUrl: scripted.baseUrl, model: 'm', apiKeyEnv: 'WIKIPERSONA_TEST_ENGINE_KEY', probe: false }).then((e) => e.info))).not.toContain(secret);
    } finally {
      delete process.env.WIKIPERSONA_TEST_ENGINE_KEY;
    }
  });
});

describe('OpenAI engine on non-Zephyr chat formats, through `serve`', () => {
  for (const chat of ['llama3', 'ministral'] as const) {
    it(`${chat}: learns the template and BOS/EOS from the server and scores exactly as the local engine (ids and log-probs)`, async () => {
      const dir = await ensureTinyModel(chat);
      const variantLocal = await createTransformersEngine({ model: dir, device: 'cpu' });
      const tokenizer = await loadServerTokenizer(dir);
      const generateFromIds = variantLocal.generateFromIds?.bind(variantLocal);
      const variantServer = createOpenAiServer(variantLocal, { modelName: chat, tokenizer, ...(generateFromIds ? { continuer: { continueIds: generateFromIds } } : {}) });
      try {
        await new Promise<void>((resolve) => variantServer.listen(0, '127.0.0.1', resolve));
        const url = `http://127.0.0.1:${(variantServer.address() as AddressInfo).port}/v1`;
        const engine = await createOpenAiEngine({ baseUrl: url, model: chat });
        expect({ bos: engine.info.bosTokenId, eos: engine.info.eosTokenId }).toEqual({ bos: variantLocal.info.bosTokenId, eos: variantLocal.info.eosTokenId });
        expect(engine.info.chatTemplate.source).toBe(variantLocal.info.chatTemplate.source);
        for (const convention of ['authors', 'clean'] as const) {
          for (const [index, pair] of PAIRS.entries()) {
            const toScore = { id: String(index), userContent: pair.question, chosen: pair.chosen, rejected: pair.rejected };
            const [viaHttp, direct] = [await scorePair(engine, toScore, { convention, aggregation: 'mean' }), await scorePair(variantLocal, toScore, { convention, aggregation: 'mean' })];
            expect(viaHttp.promptIds).toEqual(direct.promptIds);
            expect(viaHttp.chosen).toEqual(direct.chosen);
            expect(viaHttp.rejected).toEqual(direct.rejected);
            expect(viaHttp.correct).toBe(direct.correct);
          }
        }
        // The chat format's own tokens are in the scored input, as single special tokens.
        const scored = await scorePair(engine, { id: 'x', userContent: 'Hi', chosen: 'Hello.', rejected: 'Bye.' }, { convention: 'authors', aggregation: 'mean' });
        expect([...scored.promptIds, ...scored.chosen.ids].filter((id) => id >= 32000).length).toBeGreaterThan(0);
        // Configured as Zephyr against this server: refused, naming both renderings.
        // The server's rendering is shown as text (its /detokenize).
        await expect(createOpenAiEngine({ baseUrl: url, model: chat, chatTemplate: { name: 'zephyr' } })).rejects.toMatchObject({
          code: 'model-mismatch',
          message: expect.stringMatching(/The chat template "zephyr" does not match the one .* is served with: it renders "<\|user\|>.*" where the server renders "(<s>|<\|begin_of_text\|>)/),
        });
      } finally {
        variantServer.close();
        variantServer.closeAllConnections();
        await tokenizer.close();
        await variantLocal.dispose();
      }
    });
  }
});
