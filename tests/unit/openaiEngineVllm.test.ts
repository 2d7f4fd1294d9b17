/**
 * The OpenAI engine against vLLM's exact answers: stored vLLM responses (tests/fixtures/vllm/,
 * checked against schemas written from vLLM's protocol classes) served by a scripted server, and a
 * scripted vLLM `/tokenize` backed by the tiny model's real tokenizer and a chat template.
 * Covers reading the actual token where it is not the top choice, echo mode with top_logprobs and
 * text_offset, errors after the scoring feature is known, what the engine learns from the server
 * (BOS, EOS, the chat template) and refuses when configured otherwise, prefix-caching warnings,
 * and `top_k` forwarded on generation.
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jinjaTemplate } from '../../src/core/chatTemplate.ts';
import type { ChatTemplateInfo, ScoreRequest } from '../../src/core/engine.ts';
import { createOpenAiEngine } from '../../src/engines/openai.ts';
import { LLAMA3_CHAT_TEMPLATE, ZEPHYR_CHAT_TEMPLATE } from '../../scripts/tinyModel/chatVariants.ts';
import { loadServerTokenizer, type ServerTokenizer } from '../../scripts/lib/serverTokenizer.ts';
import { modelListBody, reply, startScriptedOpenAiServer, type ScriptedHandler, type ScriptedServer } from '../../scripts/fixtures/scriptedOpenAiServer.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';
import { CompletionResponse } from '../support/vllmProtocol.ts';

const MODEL = 'HuggingFaceH4/zephyr-7b-beta';

function stored(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../fixtures/vllm/${name}`, import.meta.url), 'utf8')) as unknown;
}

/** The request the stored completions answer: "Is the sea salty?" then " Yes." or " No.", each with EOS. */
const request: ScoreRequest = { promptIds: [1, 1691, 272, 6163, 3823, 884, 28804], continuations: [[5592, 28723, 2], [1770, 28723, 2]] };

let scripted: ScriptedServer | undefined;
let zephyrTokenizer: ServerTokenizer;
let llama3Tokenizer: ServerTokenizer;

beforeAll(async () => {
  zephyrTokenizer = await loadServerTokenizer(await ensureTinyModel());
  llama3Tokenizer = await loadServerTokenizer(await ensureTinyModel('llama3'));
});

afterAll(async () => {
  await zephyrTokenizer?.close();
  await llama3Tokenizer?.close();
});

afterEach(async () => {
  await scripted?.close();
  scripted = undefined;
});

async function serve(routes: Record<string, ScriptedHandler>): Promise<ScriptedServer> {
  scripted = await startScriptedOpenAiServer({ '/v1/models': () => modelListBody([MODEL], 4096), ...routes });
  return scripted;
}

describe('stored vLLM responses', () => {
  it('are exactly what vLLM returns (schemas from its protocol classes)', () => {
    for (const name of ['completion-prompt-logprobs.json', 'completion-echo-logprobs.json']) expect(() => CompletionResponse.parse(stored(name))).not.toThrow();
  });

  it('prompt_logprobs: reads the actual token where another token is the top choice', async () => {
    const server = await serve({ '/v1/completions': () => stored('completion-prompt-logprobs.json') });
    const engine = await createOpenAiEngine({ baseUrl: server.baseUrl, model: MODEL, probe: false });
    const result = await engine.score(request);
    expect(result.method).toBe('openai-prompt-logprobs');
    // "Yes" has rank 3 (−2.75) beside the top-1 "No" (−0.375); </s> rank 2 (−1.75) beside a newline (−0.5).
    expect(result.logprobs).toEqual([[-2.75, -0.125, -1.75], [-0.375, -0.25, -1.25]]);
    expect(server.requests.at(-1)?.body).toMatchObject({ prompt: [[...request.promptIds, 5592, 28723, 2], [...request.promptIds, 1770, 28723, 2]], echo: true, max_tokens: 0, prompt_logprobs: 1 });
  });

  it('echo: reads token_logprobs, not the top_logprobs listing the top choice first, whatever the text offsets', async () => {
    const server = await serve({ '/v1/completions': () => stored('completion-echo-logprobs.json') });
    const engine = await createOpenAiEngine({ baseUrl: server.baseUrl, model: MODEL, probe: false, scoring: 'echo' });
    const result = await engine.score(request);
    expect(result.method).toBe('openai-echo');
    expect(result.logprobs).toEqual([[-2.75, -0.125, -1.75], [-0.375, -0.25, -1.25]]);
    expect(server.requests.at(-1)?.body).toMatchObject({ echo: true, logprobs: 1, max_tokens: 0 });
  });

  it('a 400 once the feature is known is a one-line context error, in both of vLLM’s error shapes', async () => {
    for (const error of ['error-context-length.json', 'error-context-length-before-0.10.json']) {
      const server = await serve({ '/v1/completions': (_body, call) => (call === 0 ? stored('completion-prompt-logprobs.json') : reply({ status: 400, body: stored(error) })) });
      const engine = await createOpenAiEngine({ baseUrl: server.baseUrl, model: MODEL, probe: false });
      await engine.score(request);
      const failure = (await engine.score(request).catch((e: unknown) => e)) as Error & { code: string };
      expect(failure.name).toBe('AppError');
      expect(failure.code).toBe('context-exceeded');
      expect(failure.message).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/v1\/completions \(scoring with prompt_logprobs\) was refused \(HTTP 400\): This model's maximum context length is 4096 tokens\. .*Shorten the prefix/);
      expect(failure.message).not.toContain('\n');
      await scripted?.close();
      scripted = undefined;
    }
  });

  it('any other server error once the feature is known is a one-line error a user can act on, never an internal one', async () => {
    const server = await serve({
      '/v1/completions': (_body, call) => {
        if (call === 0) return stored('completion-prompt-logprobs.json');
        if (call === 1) return reply({ status: 400, body: { error: { message: 'Token id 99999 is out of vocabulary', type: 'BadRequestError', param: null, code: 400 } } });
        if (call === 2) return reply({ status: 503, body: { error: { message: 'The engine is\nsleeping', type: 'ServiceUnavailableError', param: null, code: 503 } } });
        return { choices: [{ index: 0, text: '' }, { index: 1, text: '' }] };
      },
    });
    const engine = await createOpenAiEngine({ baseUrl: server.baseUrl, model: MODEL, probe: false, maxRetries: 0 });
    await engine.score(request);
    await expect(engine.score(request)).rejects.toMatchObject({ name: 'AppError', code: 'invalid-input', message: expect.stringMatching(/was refused \(HTTP 400\): Token id 99999 is out of vocabulary\.$/) });
    await expect(engine.score(request)).rejects.toMatchObject({ name: 'AppError', code: 'unavailable', message: expect.stringMatching(/failed on the server \(HTTP 503\) \(The engine is sleeping\)/) });
    await expect(engine.score(request)).rejects.toMatchObject({ name: 'AppError', code: 'unsupported', message: expect.stringMatching(/answered a scoring request without what it returned before \(prompt_logprobs: no prompt_logprobs in the response\)/) });
  });
});

/** A vLLM `/tokenize` over a real tokenizer and a chat template (`messages` rendered with it). */
function vllmTokenize(tokenizer: ServerTokenizer, template: ChatTemplateInfo & { source: string }, options: { messages?: boolean } = {}): ScriptedHandler {
  const render = jinjaTemplate(template.source, { bos_token: template.bosToken, eos_token: template.eosToken });
  return async (raw) => {
    const body = raw as { prompt?: string; messages?: { role: 'user' | 'assistant'; content: string }[]; add_special_tokens?: boolean; add_generation_prompt?: boolean; return_token_strs?: boolean };
    let ids: number[];
    if (body.messages) {
      if (options.messages === false) return reply({ status: 400, body: { error: { message: 'messages are not supported', type: 'BadRequestError', param: null, code: 400 } } });
      ids = await tokenizer.encode(render.render(body.messages, { addGenerationPrompt: body.add_generation_prompt ?? true }), { addSpecialTokens: body.add_special_tokens ?? false });
    } else {
      ids = await tokenizer.encode(body.prompt ?? '', { addSpecialTokens: body.add_special_tokens ?? true });
    }
    return { count: ids.length, max_model_len: 4096, tokens: ids, token_strs: body.return_token_strs ? tokenizer.tokenStrings(ids) : null };
  };
}

const ZEPHYR: ChatTemplateInfo & { source: string } = { name: 'zephyr (model)', source: ZEPHYR_CHAT_TEMPLATE, bosToken: '<s>', eosToken: '</s>' };
const LLAMA3: ChatTemplateInfo & { source: string } = { name: 'llama-3', source: LLAMA3_CHAT_TEMPLATE, bosToken: '<|begin_of_text|>', eosToken: '<|eot_id|>' };

describe('what the engine learns from a vLLM server', () => {
  it('takes BOS and EOS from /tokenize and checks the default Zephyr template against the server’s rendering', async () => {
    const server = await serve({ '/tokenize': vllmTokenize(zephyrTokenizer, ZEPHYR) });
    const engine = await createOpenAiEngine({ baseUrl: server.baseUrl, model: MODEL });
    expect(engine.info).toMatchObject({ bosTokenId: 1, eosTokenId: 2, chatTemplate: { name: 'zephyr' } });
    const bodies = server.requests.filter((r) => r.path === '/tokenize').map((r) => r.body);
    expect(bodies).toContainEqual(expect.objectContaining({ prompt: 'Hi', add_special_tokens: true }));
    expect(bodies).toContainEqual(expect.objectContaining({ messages: expect.any(Array), add_generation_prompt: false, add_special_tokens: false }));
  });

  it('refuses a configured BOS that differs from the one /tokenize adds, naming both', async () => {
    const server = await serve({ '/tokenize': vllmTokenize(llama3Tokenizer, LLAMA3) });
    await expect(createOpenAiEngine({ baseUrl: server.baseUrl, model: MODEL, chatTemplate: LLAMA3, bosTokenId: 1 })).rejects.toMatchObject({
      code: 'model-mismatch',
      message: expect.stringMatching(/The server's BOS for .* is token 32000 \("<\|begin_of_text\|>"\), but 1 is configured/),
    });
    await expect(createOpenAiEngine({ baseUrl: server.baseUrl, model: MODEL, chatTemplate: LLAMA3, eosTokenId: 2 })).rejects.toMatchObject({
      code: 'model-mismatch',
      message: expect.stringMatching(/The server's EOS for .* is token 32003 \("<\|eot_id\|>"\), but 2 is configured/),
    });
    const engine = await createOpenAiEngine({ baseUrl: server.baseUrl, model: MODEL, chatTemplate: LLAMA3 });
    expect(engine.info).toMatchObject({ bosTokenId: 32000, eosTokenId: 32003, chatTemplate: { name: 'llama-3' } });
  });

  it('refuses a template that renders differently from the served one, showing both renderings', async () => {
    const server = await serve({ '/tokenize': vllmTokenize(llama3Tokenizer, LLAMA3) });
    const error = (await createOpenAiEngine({ baseUrl: server.baseUrl, model: MODEL }).catch((e: unknown) => e)) as Error & { code: string };
    expect(error.code).toBe('model-mismatch');
    expect(error.message).toMatch(/The chat template "zephyr" does not match the one .* is served with: it renders "<\|user\|>\\nIs the sea salty\?.*" where the server renders "token ids \[32000, 32001/);
    expect(error.message).toMatch(/--chat-template/);
  });

  it('scores only with an explicit template when the server cannot tokenize chat messages', async () => {
    const server = await serve({ '/tokenize': vllmTokenize(zephyrTokenizer, ZEPHYR, { messages: false }) });
    const unchecked = await createOpenAiEngine({ baseUrl: server.baseUrl, model: MODEL });
    await expect(unchecked.tokenize('Hi')).rejects.toMatchObject({ code: 'unsupported', message: expect.stringMatching(/^Cannot score: .* cannot tokenize chat messages, so which chat template .* cannot be checked: set it \(--chat-template/) });
    const warnings: string[] = [];
    const explicit = await createOpenAiEngine({ baseUrl: server.baseUrl, model: MODEL, chatTemplate: ZEPHYR }, undefined, (warning) => warnings.push(warning));
    expect(await explicit.tokenize('Hi')).toEqual(await zephyrTokenizer.encode('Hi', { addSpecialTokens: false }));
    expect(warnings).toEqual([expect.stringMatching(/the chat template "zephyr \(model\)" was not checked against the served one/)]);
  });

  it('takes BOS from the server for a bare Jinja template, and refuses to score while the EOS cannot be told', async () => {
    const server = await serve({ '/tokenize': vllmTokenize(llama3Tokenizer, LLAMA3) });
    // A bare Jinja template names no EOS token.
    const bare = { name: 'llama-3.jinja', source: LLAMA3_CHAT_TEMPLATE };
    const engine = await createOpenAiEngine({ baseUrl: server.baseUrl, model: MODEL, chatTemplate: bare });
    // Its bos_token is rendered as the server's BOS, so it matches the served rendering.
    expect(engine.info.chatTemplate).toEqual({ ...bare, bosToken: '<|begin_of_text|>' });
    await expect(engine.tokenize('Hi')).rejects.toMatchObject({ code: 'unsupported', message: expect.stringMatching(/^Cannot score: the EOS token of .* is unknown: the chat template names none; set it \(--eos-token-id\)\.$/) });
    const withEos = await createOpenAiEngine({ baseUrl: server.baseUrl, model: MODEL, chatTemplate: bare, eosTokenId: 32003 });
    expect(await withEos.tokenize('Hi')).toEqual(await llama3Tokenizer.encode('Hi', { addSpecialTokens: false }));
  });

  it('uses the template vLLM reports on /tokenizer_info', async () => {
    const server = await serve({ '/tokenize': vllmTokenize(llama3Tokenizer, LLAMA3), '/tokenizer_info': () => ({ tokenizer_class: 'PreTrainedTokenizerFast', bos_token: '<|begin_of_text|>', eos_token: { content: '<|eot_id|>', special: true }, chat_template: LLAMA3_CHAT_TEMPLATE }) });
    const engine = await createOpenAiEngine({ baseUrl: server.baseUrl, model: MODEL });
    expect(engine.info).toMatchObject({ bosTokenId: 32000, eosTokenId: 32003, chatTemplate: { source: LLAMA3_CHAT_TEMPLATE, bosToken: '<|begin_of_text|>', eosToken: '<|eot_id|>' } });
  });
});

describe('prefix caching', () => {
  const metrics = (enabled: string) => reply({ raw: `# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n# TYPE vllm:cache_config_info gauge\nvllm:cache_config_info{block_size="16",cache_dtype="auto",enable_prefix_caching="${enabled}",num_gpu_blocks="2048"} 1.0\n`, headers: { 'Content-Type': 'text/plain' } });

  async function warningsFor(routes: Record<string, ScriptedHandler>): Promise<string[]> {
    const server = await serve({ '/tokenize': vllmTokenize(zephyrTokenizer, ZEPHYR), ...routes });
    const warnings: string[] = [];
    await createOpenAiEngine({ baseUrl: server.baseUrl, model: MODEL }, undefined, (warning) => warnings.push(warning));
    await scripted?.close();
    scripted = undefined;
    return warnings;
  }

  it('warns when the server’s metrics show it on, or its version turns it on by default; not otherwise', async () => {
    expect(await warningsFor({ '/metrics': () => metrics('True') })).toEqual([expect.stringMatching(/has prefix caching on \(its \/metrics say so\): .*--no-enable-prefix-caching/)]);
    expect(await warningsFor({ '/metrics': () => metrics('False'), '/version': () => ({ version: '0.10.1' }) })).toEqual([]);
    expect(await warningsFor({ '/version': () => ({ version: '0.10.1' }) })).toEqual([expect.stringMatching(/runs vLLM 0\.10\.1, which enables prefix caching unless started with --no-enable-prefix-caching/)]);
    expect(await warningsFor({ '/version': () => ({ version: '0.7.3' }) })).toEqual([]);
  });
});

describe('generation options', () => {
  it('forwards topK as vLLM’s top_k when set, and sends no top_k otherwise', async () => {
    const chunk = { id: 'c', object: 'chat.completion.chunk', created: 0, model: MODEL, choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: 'stop' }] };
    const server = await serve({ '/v1/chat/completions': () => reply({ sse: [chunk] }) });
    const engine = await createOpenAiEngine({ baseUrl: server.baseUrl, model: MODEL, probe: false });
    await engine.generate([{ role: 'user', content: 'Hi' }], { maxNewTokens: 4, topK: 40 });
    await engine.generate([{ role: 'user', content: 'Hi' }], { maxNewTokens: 4 });
    const bodies = server.requests.filter((r) => r.path === '/v1/chat/completions').map((r) => r.body as Record<string, unknown>);
    expect(bodies[0]).toMatchObject({ top_k: 40 });
    expect(bodies[1]).not.toHaveProperty('top_k');
  });
});
