/**
 * The WebLLM adapter (src/engines/webllm/) over the stand-in of WebLLM's engine surface
 * (tests/support/webllmStandIn.ts), backed by the tiny Llama in onnxruntime-node: forced-decoding
 * scores against the Transformers.js one-pass scores of the same pairs, generation (streaming,
 * seeds, cancellation, the prompt WebLLM really prefills), the context window, every user-facing
 * error (classifyWebLlmError on WebLLM's texts, and the adapter surfacing it), the storage-quota
 * check, the cache helpers and progress mapping. The catalog's WebLLM side: webllmCatalog.test.ts;
 * one-pass scoring and its run-time check: webllmOnePass.test.ts.
 */
import type { LogitProcessor } from '@mlc-ai/web-llm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type WebLlmCatalogEntry, findEntry, parseCatalog, type ModelCatalog } from '../../src/core/catalog.ts';
import { zephyrTemplate } from '../../src/core/chatTemplate.ts';
import type { Engine, ScoreRequest } from '../../src/core/engine.ts';
import { LoadProgress } from '../../src/core/engine.ts';
import { AppError } from '../../src/core/errors.ts';
import { planScoring } from '../../src/core/scoringInput.ts';
import { scorePair } from '../../src/core/scorer.ts';
import { createTransformersEngine } from '../../src/engines/transformers.ts';
import {
  buildAppConfig,
  cacheStatus,
  classifyWebLlmError,
  createWebLlmEngine,
  deleteCache,
  isModelCached,
  mapInitProgress,
  renderWebLlmPrompt,
  type StorageProbe,
  type WebLlmDeps,
  type WebLlmEngine,
} from '../../src/engines/webllm/index.ts';
import { loadReferenceLlama, logSoftmax, type ReferenceLlama } from '../support/llamaReference.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';
import { STAND_IN_LIB_URL, STAND_IN_MODEL_URL, readCatalog, tinyWebLlmEntry } from '../support/webllmTinyEntry.ts';
import { TINYLLAMA_V1_CONV_TEMPLATE, createNodeStandIn, webllmError, type StandInEngine, type WebLlmStandIn } from '../support/webllmStandIn.ts';

const MODEL_URL = STAND_IN_MODEL_URL;
const LIB_URL = STAND_IN_LIB_URL;
const MB = 1024 * 1024;
/** Forced decoding (KV cache, one token per step) vs one pass over all positions, both float32. */
const TOLERANCE = 1e-4;

const PAIRS = [
  { id: 'cook', userContent: 'What should I cook tonight?', chosen: 'A light vegetable curry with rice and lentils.', rejected: 'Order a pizza.' },
  { id: 'coffee', userContent: 'Is coffee healthy?', chosen: 'In moderation, yes: it is linked to lower risk of some diseases.', rejected: 'No.' },
];

let dir: string;
let catalog: ModelCatalog;
let world: WebLlmStandIn;
let engine: WebLlmEngine;
let oneShot: Engine;
let reference: ReferenceLlama;
const loadProgress: LoadProgress[] = [];

function tinyEntry(patch: Record<string, unknown> = {}): WebLlmCatalogEntry {
  return tinyWebLlmEntry(catalog, patch);
}

function depsOf(standIn: WebLlmStandIn, extra: Partial<WebLlmDeps> = {}): Partial<WebLlmDeps> {
  return { ...standIn.deps, storage: undefined, ...extra };
}

/** A world without WebLLM's internals: this suite covers the public surface (forced decoding, one prefill per answer). */
async function newWorld(options: { prefillChunkSize?: number; gpuFeatures?: string[]; modelUrl?: string } = {}): Promise<WebLlmStandIn> {
  return createNodeStandIn({ modelDir: dir, modelUrl: options.modelUrl ?? MODEL_URL, library: { exposePipelines: false }, ...options });
}

function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
  expect(a.length).toBe(b.length);
  return Math.max(...a.map((value, i) => Math.abs(value - (b[i] as number))));
}

beforeAll(async () => {
  dir = await ensureTinyModel();
  catalog = await readCatalog();
  // A chunk size far below the prompts' lengths, so prefills cross chunk boundaries.
  world = await newWorld({ prefillChunkSize: 8 });
  [engine, oneShot, reference] = await Promise.all([
    createWebLlmEngine({ entry: tinyEntry(), checkStorageQuota: false }, (p) => loadProgress.push(p), depsOf(world)),
    createTransformersEngine({ model: dir, device: 'cpu' }),
    loadReferenceLlama(dir),
  ]);
});

afterAll(async () => {
  await engine?.dispose();
  await oneShot?.dispose();
});

describe('WebLLM adapter: scoring (forced decoding through a LogitProcessor)', () => {
  it('reports what it loaded', () => {
    expect(engine.info).toEqual({
      backend: 'webllm',
      model: 'tiny-llama-q0f32-MLC',
      device: 'webgpu',
      dtype: 'q0f32',
      contextWindow: 2048,
      bosTokenId: 1,
      eosTokenId: 2,
      chatTemplate: { name: 'zephyr' },
      scoringMethod: 'forced-decode',
    });
  });

  it('tokenizes with the model tokenizer.json exactly as the Transformers.js engine, no special tokens added', async () => {
    for (const text of ['<|user|>', '</s>', 'Is coffee healthy?</s>\n<|assistant|>\n', 'naïve café — 東京']) {
      expect(await engine.tokenize(text)).toEqual(await oneShot.tokenize(text));
    }
    expect(await engine.tokenize('<|user|>')).toEqual([523, 28766, 1838, 28766, 28767]);
  });

  it('gives per-token log-probs equal to the Transformers.js one-pass scores of the same pairs (≤ 1e-4)', async () => {
    let worst = 0;
    for (const convention of ['authors', 'clean'] as const) {
      for (const pair of PAIRS) {
        const settings = { convention, aggregation: 'mean' as const };
        const [forced, onePass] = await Promise.all([scorePair(engine, pair, settings), scorePair(oneShot, pair, settings)]);
        expect(forced.method).toBe('forced-decode');
        expect(onePass.method).toBe('one-pass-cached-prompt');
        // Same tokens scored on both sides, so the comparison is of the numbers alone.
        expect(forced.promptIds).toEqual(onePass.promptIds);
        expect(forced.chosen.ids).toEqual(onePass.chosen.ids);
        expect(forced.rejected.ids).toEqual(onePass.rejected.ids);
        worst = Math.max(worst, maxAbsDiff(forced.chosen.logprobs, onePass.chosen.logprobs), maxAbsDiff(forced.rejected.logprobs, onePass.rejected.logprobs));
        expect(forced.correct).toBe(onePass.correct);
      }
    }
    console.info(`WebLLM forced decoding vs Transformers.js one-pass: max |Δ log p| = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(TOLERANCE);
  });

  it('scores several continuations of one prompt independently of their order (nothing leaks between them)', async () => {
    const plan = await planScoring((t) => oneShot.tokenize(t), 'Name a colour.', ['Blue.', 'A deep shade of green, like moss.', 'Red'], {
      convention: 'clean',
      template: zephyrTemplate,
      special: { bos: 1, eos: 2 },
    });
    const request: ScoreRequest = { promptIds: plan.sharedPromptIds, continuations: plan.continuations };
    const reversed: ScoreRequest = { promptIds: plan.sharedPromptIds, continuations: [...plan.continuations].reverse() };
    const [forward, backward, onePass] = [await engine.score(request), await engine.score(reversed), await oneShot.score(request)];
    expect(backward.logprobs.reverse()).toEqual(forward.logprobs);
    forward.logprobs.forEach((row, i) => expect(maxAbsDiff(row, onePass.logprobs[i] as number[])).toBeLessThanOrEqual(TOLERANCE));
    // A one-token continuation is the prompt's last distribution alone.
    const single = await engine.score({ promptIds: plan.sharedPromptIds, continuations: [[2]] });
    expect(single.logprobs[0]).toHaveLength(1);
    // Cost: one prompt prefill plus T − 1 single-token steps per continuation.
    const expected = plan.continuations.reduce((n, c) => n + plan.sharedPromptIds.length + c.length - 1, 0);
    expect(forward.forwardTokens).toBe(expected);
  });

  it('would catch an off-by-one: shifted variants of the same loop disagree with the one-pass scores by far more than the tolerance', async () => {
    // The same forced loop written out over the stand-in with a processor that keeps every
    // row of raw logits, so the rows can be read correctly, one late, or one early.
    const recorder = new RawLogitsRecorder();
    const entry = tinyEntry();
    const probe = world.createEngine({ appConfig: buildAppConfig(entry), logitProcessorRegistry: new Map([[entry.modelId, recorder]]) });
    await probe.reload(entry.modelId);
    const plan = await planScoring((t) => oneShot.tokenize(t), PAIRS[0]?.userContent as string, [PAIRS[0]?.chosen as string], {
      convention: 'authors',
      template: zephyrTemplate,
      special: { bos: 1, eos: 2 },
    });
    const prompt = plan.sharedPromptIds;
    const answer = plan.continuations[0] as number[];
    const expected = (await oneShot.score({ promptIds: prompt, continuations: [answer] })).logprobs[0] as number[];

    const rows = async (prefill: number[], fed: number[]) => {
      await probe.resetChat();
      await probe.forwardTokensAndSample(prefill, true);
      for (const token of fed) await probe.forwardTokensAndSample([token], false);
      const out = recorder.rows;
      await probe.resetChat();
      return out;
    };
    const at = (row: Float32Array | undefined, token: number) => logSoftmax(row as Float32Array)[token] as number;

    const correct = await rows(prompt, answer.slice(0, -1));
    const feedsLastToken = await rows(prompt, answer);
    const dropsPromptEnd = await rows(prompt.slice(0, -1), [prompt.at(-1) as number, ...answer.slice(0, -1)]);
    const right = answer.map((token, t) => at(correct[t], token));
    const late = answer.map((token, t) => at(feedsLastToken[t + 1], token));
    const early = answer.map((token, t) => at(dropsPromptEnd[t], token));

    console.info(`shifted variants vs one-pass: right ${maxAbsDiff(right, expected).toExponential(2)}, one late ${maxAbsDiff(late, expected).toFixed(2)}, one early ${maxAbsDiff(early, expected).toFixed(2)}`);
    expect(maxAbsDiff(right, expected)).toBeLessThanOrEqual(TOLERANCE);
    expect(maxAbsDiff(late, expected)).toBeGreaterThan(1000 * TOLERANCE);
    expect(maxAbsDiff(early, expected)).toBeGreaterThan(1000 * TOLERANCE);
    await probe.unload();
  });

  it('resets after scoring, so the next chat turn rebuilds its prompt instead of reusing a KV cache full of scoring tokens', async () => {
    const adapter = await createWebLlmEngine({ entry: tinyEntry(), checkStorageQuota: false }, undefined, depsOf(world));
    const inner = world.engines.at(-1) as StandInEngine;
    const turn1 = [{ role: 'user' as const, content: 'Hello there.' }];
    // An empty stop string ends the reply after one token with finish "stop" (WebLLM's
    // lastIndexOf), which is what lets the next request continue this conversation in place.
    const answerTurn1 = async () => {
      let reply = '';
      for await (const chunk of await inner.chat.completions.create({ messages: turn1, stream: true, temperature: 0, stop: [''] })) reply += chunk.choices[0]?.delta.content ?? '';
      return [...turn1, { role: 'assistant' as const, content: reply }, { role: 'user' as const, content: 'And then?' }];
    };

    // Control: scoring steps without the reset. forwardTokensAndSample fills the KV cache but
    // leaves the stored conversation alone, so WebLLM continues it over the polluted cache.
    const turn2 = await answerTurn1();
    await inner.forwardTokensAndSample([1, 523, 28766], true);
    await drain(await inner.chat.completions.create({ messages: turn2, stream: true, temperature: 0, max_tokens: 2 }));
    expect(inner.lastPromptText).toBe('<|user|>\nAnd then?</s>\n<|assistant|>\n');

    // Through the adapter, score() resets before (the stored conversation is emptied) and after
    // (no scoring token stays in the KV cache): the next turn is prefilled in full from BOS.
    expect(await answerTurn1()).toEqual(turn2);
    await adapter.score({ promptIds: [1, 523, 28766], continuations: [[1838, 28766, 28767]] });
    expect(inner.kvTokens).toBe(0);
    const afterScoring = await adapter.generate(turn2, { maxNewTokens: 8, temperature: 0 });
    expect(inner.lastPromptIds[0]).toBe(1);
    expect(inner.lastPromptText).toBe(zephyrTemplate.render(turn2, { addGenerationPrompt: true }));
    expect(afterScoring.tokenIds).toEqual(reference.greedyContinuation(inner.lastPromptIds, 8));
    await adapter.dispose();
  });

  it('refuses a sequence longer than the context window before running anything', async () => {
    const before = world.engines.reduce((n, e) => n + e.forwardCalls, 0);
    const promptIds = Array.from({ length: 2040 }, () => 100);
    await expect(engine.score({ promptIds, continuations: [Array.from({ length: 20 }, () => 200)] })).rejects.toMatchObject({
      code: 'context-exceeded',
      message: expect.stringMatching(/needs 2060 tokens .* context window of 2048: shorten/),
    });
    await expect(engine.generate([{ role: 'user', content: 'word '.repeat(2100) }], { maxNewTokens: 4 })).rejects.toMatchObject({
      code: 'context-exceeded',
      message: expect.stringMatching(/The prompt needs \d+ tokens but Tiny Llama \(stand-in\) has a context window of 2048/),
    });
    expect(world.engines.reduce((n, e) => n + e.forwardCalls, 0)).toBe(before);
  });

  it('uses the catalog context window (the override WebLLM allocates the KV cache for)', async () => {
    const small = await createWebLlmEngine({ entry: tinyEntry({ contextWindow: 64 }), checkStorageQuota: false }, undefined, depsOf(world));
    expect(small.info.contextWindow).toBe(64);
    await expect(small.score({ promptIds: Array.from({ length: 60 }, () => 100), continuations: [[1, 2, 3, 4, 5]] })).rejects.toMatchObject({ code: 'context-exceeded' });
    await expect(small.score({ promptIds: Array.from({ length: 59 }, () => 100), continuations: [[1, 2, 3, 4, 5]] })).resolves.toMatchObject({ method: 'forced-decode' });
    await small.dispose();
  });

  it('stops scoring at the next step when cancelled, and leaves the engine usable', async () => {
    const inner = world.engines[0] as StandInEngine;
    const request = { promptIds: [1, 523], continuations: [Array.from({ length: 40 }, (_, i) => 300 + i)] };
    const expected = await engine.score(request);
    // Aborts once five forward passes of this request have run.
    const start = inner.forwardCalls;
    const signal = { get aborted() { return inner.forwardCalls - start >= 5; }, addEventListener() {}, removeEventListener() {} };
    await expect(engine.score(request, signal)).rejects.toMatchObject({ code: 'aborted' });
    expect(inner.forwardCalls - start).toBe(5);
    // The reset in the scoring loop's finally leaves nothing behind.
    expect(await engine.score(request)).toEqual(expected);
  });
});

describe('WebLLM adapter: generation', () => {
  it('streams greedy tokens equal to the float64 reference on the prompt WebLLM prefills, and reports that prompt', async () => {
    const inner = world.engines[0] as StandInEngine;
    const messages = [{ role: 'user' as const, content: 'Tell me about the sea.' }];
    const deltas: string[] = [];
    const result = await engine.generate(messages, { maxNewTokens: 12, temperature: 0 }, (text) => deltas.push(text));
    // The catalog's conversation override makes WebLLM render Zephyr's own format.
    expect(result.prompt).toBe('<|user|>\nTell me about the sea.</s>\n<|assistant|>\n');
    expect(result.prompt).toBe(zephyrTemplate.render(messages, { addGenerationPrompt: true }));
    expect(inner.lastPromptText).toBe(result.prompt);
    // WebLLM tokenizes piece by piece, after the BOS of system_prefix_token_ids.
    expect(await engine.promptTokenIds(messages)).toEqual(inner.lastPromptIds);
    expect(result.promptTokenCount).toBe(inner.lastPromptIds.length);
    // Greedy under the served config's repetition_penalty 1.1 would differ: the adapter turns penalties off.
    expect(result.tokenIds).toEqual(reference.greedyContinuation(inner.lastPromptIds, 12));
    expect(deltas.join('')).toBe(result.text);
    expect(result.finishReason).toBe(result.tokenIds.at(-1) === 2 ? 'eos' : 'length');
  });

  it('renders system messages and earlier turns as WebLLM does, through the catalog override equal to Zephyr’s template', async () => {
    const inner = world.engines[0] as StandInEngine;
    const messages = [
      { role: 'system' as const, content: 'You are terse.' },
      { role: 'user' as const, content: 'Hi' },
      { role: 'assistant' as const, content: 'Hello.' },
      { role: 'user' as const, content: 'Bye' },
    ];
    const result = await engine.generate(messages, { maxNewTokens: 2, temperature: 0 });
    expect(result.prompt).toBe(zephyrTemplate.render(messages, { addGenerationPrompt: true }));
    expect(inner.lastPromptText).toBe(result.prompt);
    await expect(engine.generate([{ role: 'assistant', content: 'x' }], { maxNewTokens: 2 })).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(engine.generate([{ role: 'user', content: 'a' }, { role: 'system', content: 'b' }, { role: 'user', content: 'c' }], {})).rejects.toMatchObject({
      code: 'invalid-input',
    });
  });

  it("renders MLC's tinyllama_v1_0 template without the override the way the notes record (why the catalog overrides it)", () => {
    const rendered = renderWebLlmPrompt(TINYLLAMA_V1_CONV_TEMPLATE, [{ role: 'user', content: 'Hi' }]);
    expect(rendered.text).toBe('<|system|>\nYou are a helpful chatbot.</s><|user|>\nHi</s><|assistant|>\n');
    expect(rendered.pieces).toEqual(['<|system|>\nYou are a helpful chatbot.</s>', '<|user|>\nHi</s>', '<|assistant|>\n']);
    // And no BOS: the catalog override adds system_prefix_token_ids [1].
    expect(rendered.prefixTokenIds).toEqual([]);
  });

  it("turns off the penalties of the model's config (here repetition_penalty 1.1), so sampling is the plain distribution", async () => {
    const inner = world.engines[0] as StandInEngine;
    const messages = [{ role: 'user' as const, content: 'Hi' }];
    const sample = async (penalties: { repetition_penalty?: number; frequency_penalty?: number; presence_penalty?: number }) => {
      let text = '';
      const stream = await inner.chat.completions.create({ messages, stream: true, temperature: 0.5, top_p: 1, seed: 5, max_tokens: 40, ...penalties });
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      return text;
    };
    const viaAdapter = await engine.generate(messages, { maxNewTokens: 40, temperature: 0.5, seed: 5 });
    expect(viaAdapter.text).toBe(await sample({ repetition_penalty: 1, frequency_penalty: 0, presence_penalty: 0 }));
    // The served defaults would have changed the sample: the override is what makes it equal.
    expect(viaAdapter.text).not.toBe(await sample({}));
  });

  it('samples reproducibly for a seed (top-p), and top-k 1 is greedy', async () => {
    const messages = [{ role: 'user' as const, content: 'Hi' }];
    const options = { maxNewTokens: 16, temperature: 1, topP: 0.9, seed: 11 };
    const a = await engine.generate(messages, options);
    const b = await engine.generate(messages, options);
    const c = await engine.generate(messages, { ...options, seed: 12 });
    expect(a.tokenIds).toEqual(b.tokenIds);
    expect(c.tokenIds).not.toEqual(a.tokenIds);
    const topOne = await engine.generate(messages, { maxNewTokens: 10, temperature: 1, topK: 1, seed: 5 });
    const greedy = await engine.generate(messages, { maxNewTokens: 10, temperature: 0 });
    expect(topOne.tokenIds).toEqual(greedy.tokenIds);
  });

  it('stops at the next token when cancelled mid-stream (interruptGenerate)', async () => {
    const controller = new AbortController();
    let streamed = 0;
    const result = await engine.generate(
      [{ role: 'user', content: 'Hi' }],
      { maxNewTokens: 200, temperature: 1, seed: 3 },
      () => {
        if (++streamed === 3) controller.abort();
      },
      controller.signal,
    );
    expect(result.finishReason).toBe('aborted');
    expect(result.tokenIds.length).toBeGreaterThanOrEqual(3);
    expect(result.tokenIds.length).toBeLessThan(10);
    // The next request is not affected by the interrupt.
    expect((await engine.generate([{ role: 'user', content: 'Hi' }], { maxNewTokens: 5, temperature: 0 })).finishReason).not.toBe('aborted');
  });

  it('refuses at once when already cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(engine.generate([{ role: 'user', content: 'Hi' }], {}, undefined, controller.signal)).rejects.toMatchObject({ code: 'aborted' });
  });
});

describe('WebLLM adapter: loading', () => {
  it('maps WebLLM progress onto LoadProgress, ending with warm-up and ready', () => {
    for (const progress of loadProgress) expect(LoadProgress.safeParse(progress).success).toBe(true);
    const stages = loadProgress.map((p) => p.stage);
    expect(stages.slice(-2)).toEqual(['warmup', 'ready']);
    expect(stages).toContain('compile');
    const fetched = loadProgress.filter((p) => p.stage === 'fetch' && p.loadedBytes !== undefined);
    expect(fetched.length).toBeGreaterThan(0);
    expect(fetched.at(-1)).toMatchObject({ fraction: 1, totalBytes: fetched.at(-1)?.loadedBytes });
  });

  it('parses the texts WebLLM reports', () => {
    expect(mapInitProgress({ progress: 0.25, timeElapsed: 3, text: 'Fetching param cache[3/107]: 1024MB fetched. 25% completed, 3 secs elapsed. It can take a while…' })).toEqual({
      stage: 'fetch',
      fraction: 0.25,
      loadedBytes: 1024 * MB,
      totalBytes: 4096 * MB,
      text: 'Downloading weights: 1024 MB (shard 3 of 107)',
    });
    expect(mapInitProgress({ progress: 0.5, timeElapsed: 1, text: 'Loading model from cache[54/107]: 2048MB loaded. 50% completed, 1 secs elapsed.' })).toMatchObject({ stage: 'init', fraction: 0.5, loadedBytes: 2048 * MB });
    expect(mapInitProgress({ progress: 0.1, timeElapsed: 0, text: 'Loading GPU shader modules[10/100]: 10% completed, 0 secs elapsed.' })).toMatchObject({ stage: 'compile', fraction: 0.1 });
    expect(mapInitProgress({ progress: 1, timeElapsed: 9, text: 'Finish loading on WebGPU - nvidia' })).toEqual({ stage: 'init', fraction: 1, text: 'Loaded on WebGPU - nvidia' });
    // 0/0 bytes (an empty shard list) gives NaN; it must not reach the schema.
    expect(mapInitProgress({ progress: NaN, timeElapsed: 0, text: 'Start to fetch params' })).toEqual({ stage: 'fetch', fraction: 0, text: 'Checking the weights cache' });
  });

  it('makes relative catalog URLs absolute (WebLLM itself throws on a relative weights URL)', async () => {
    const entry = tinyEntry({ modelUrl: '/site/tiny-llama', modelLibUrl: 'libs/tiny.wasm' });
    const appConfig = buildAppConfig(entry, { baseUrl: 'https://models.test/site/page.html' });
    expect(appConfig.model_list[0]).toMatchObject({ model: 'https://models.test/site/tiny-llama', model_lib: 'https://models.test/site/libs/tiny.wasm' });
    expect(appConfig.model_list[0]?.overrides).toMatchObject({ context_window_size: 2048, conv_config: { seps: ['</s>\n'] } });
    const sited = await newWorld({ modelUrl: 'https://models.test/site/tiny-llama' });
    const loaded = await createWebLlmEngine({ entry, baseUrl: 'https://models.test/site/page.html', checkStorageQuota: false }, undefined, depsOf(sited));
    await loaded.dispose();
    const bare = sited.createEngine({ appConfig: { model_list: [{ ...(appConfig.model_list[0] as object), model: '/site/tiny-llama' } as never] } });
    await expect(bare.reload(entry.modelId)).rejects.toThrow(/Invalid URL/);
  });

  it("loads from the worker protocol's options (model id and URLs), looking the entry up in the page's catalog", async () => {
    const withTiny = parseCatalog({ ...catalog, models: [...catalog.models, { ...tinyEntry(), modelUrl: null, modelLibUrl: null }] });
    const loadCatalog = vi.fn(async () => withTiny);
    const spec = { modelId: 'tiny-llama-q0f32-MLC', modelUrl: MODEL_URL, modelLibUrl: LIB_URL, cacheBackend: 'cache' as const, baseUrl: 'https://playground.test/app/' };
    const loaded = await createWebLlmEngine({ ...spec, checkStorageQuota: false }, undefined, depsOf(world, { loadCatalog }));
    expect(loadCatalog).toHaveBeenCalledWith('https://playground.test/app/models.json');
    expect(loaded.info).toMatchObject({ model: 'tiny-llama-q0f32-MLC', contextWindow: 2048, chatTemplate: { name: 'zephyr' } });
    await loaded.dispose();
    expect(await cacheStatus(spec, { cache: world.cache, loadCatalog })).toEqual({ cached: true });
    // The same spec without URLs names a build the user hosts: refused with what to do.
    await expect(createWebLlmEngine({ modelId: 'tiny-llama-webllm' }, undefined, depsOf(world, { loadCatalog }))).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/is not prebuilt/) });
    await expect(createWebLlmEngine({ modelId: 'no-such-model' }, undefined, depsOf(world, { loadCatalog }))).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/has no model "no-such-model"/) });
    await expect(createWebLlmEngine({ modelId: 'tiny-llama-random' }, undefined, depsOf(world, { loadCatalog }))).rejects.toMatchObject({ message: expect.stringMatching(/runs on the Transformers\.js engine/) });
    await expect(createWebLlmEngine({ ...spec, modelLibUrl: undefined }, undefined, depsOf(world, { loadCatalog }))).rejects.toMatchObject({ message: expect.stringMatching(/give both the weights URL and the model library URL/) });
    await expect(createWebLlmEngine({ modelUrl: MODEL_URL }, undefined, depsOf(world))).rejects.toMatchObject({ code: 'invalid-input', message: 'Invalid WebLLM engine options: Give a catalog entry or a model id.' });
  });

  it('refuses a custom entry whose URLs are not set, saying where to set them', async () => {
    const zephyr = findEntry(catalog, 'zephyr-7b-beta-q4f16_1') as WebLlmCatalogEntry;
    await expect(createWebLlmEngine({ entry: zephyr }, undefined, depsOf(world))).rejects.toMatchObject({
      code: 'invalid-input',
      message: expect.stringMatching(/set modelUrl and modelLibUrl in public\/models\.json or under Model → Custom model URLs/),
    });
  });
});

describe('WebLLM adapter: errors a user meets', () => {
  it('no WebGPU: classified from WebLLM texts, and refused before any download', async () => {
    for (const error of [
      "WebGPUNotAvailableError: WebGPU is not supported in your current environment, but it is necessary to run the WebLLM engine. Please make sure that your browser supports WebGPU and that it is enabled in your browser settings. You can also consult your browser's compatibility chart to see if it supports WebGPU. For more information about WebGPU support in your browser, visit https://webgpureport.org/",
      new Error("Unable to find a compatible GPU. This issue might be because your computer doesn't have a GPU, or your system settings are not configured properly. Please check if your device has a GPU properly set up and if your your browser supports WebGPU. You can also consult your browser's compatibility chart to see if it supports WebGPU. For more information about WebGPU support in your browser, visit https://webgpureport.org/"),
    ]) {
      const mapped = classifyWebLlmError(error);
      expect(mapped.code).toBe('no-webgpu');
      expect(mapped.message).toMatch(/switch to the Transformers\.js engine \(WASM\)/);
    }
    expect(classifyWebLlmError(new Error('Cannot initialize runtime because of requested maxStorageBufferBindingSize exceeds limit requested=1073741824, limit=134217728. '))).toMatchObject({
      code: 'no-webgpu',
      message: expect.stringMatching(/WebGPU limits are too small for WebLLM \(maxStorageBufferBindingSize\): switch to the Transformers\.js engine/),
    });

    const fresh = await newWorld();
    await expect(createWebLlmEngine({ entry: tinyEntry() }, undefined, depsOf(fresh, { gpu: undefined }))).rejects.toMatchObject({
      code: 'no-webgpu',
      message: expect.stringMatching(/Transformers\.js engine/),
    });
    const noAdapter = { requestAdapter: async () => null };
    await expect(createWebLlmEngine({ entry: tinyEntry() }, undefined, depsOf(fresh, { gpu: noAdapter }))).rejects.toMatchObject({ code: 'no-webgpu' });
    expect(fresh.engines).toHaveLength(0);
    expect(fresh.downloads).toHaveLength(0);
  });

  it('no shader-f16: classified, refused up front for an f16 build, and surfaced when WebLLM finds it at reload', async () => {
    const text =
      'ShaderF16SupportError: This model requires WebGPU extension shader-f16, which is not enabled in this browser. You can try to launch Chrome Canary in command line with flag "--enable-dawn-features=allow_unsafe_apis".';
    expect(classifyWebLlmError(text, { model: 'TinyLlama q4f16_1' })).toMatchObject({
      code: 'no-shader-f16',
      message: expect.stringMatching(/lacks the shader-f16 feature that TinyLlama q4f16_1 \(an f16 build\) needs: choose a build marked "no shader-f16 needed" \(q4f32_1 or q0f32/),
    });
    expect(classifyWebLlmError(webllmError('FeatureSupportError', 'This model requires feature shader-f16, which is not yet supported by this browser.')).code).toBe('no-shader-f16');

    const f16 = tinyEntry({ quantization: 'q4f16_1', requiredFeatures: ['shader-f16'] });
    const fresh = await newWorld();
    await expect(createWebLlmEngine({ entry: f16 }, undefined, depsOf(fresh))).rejects.toMatchObject({ code: 'no-shader-f16', message: expect.stringMatching(/q4f32_1/) });
    expect(fresh.engines).toHaveLength(0);
    // An adapter that claims the feature while the device lacks it: WebLLM's own check fires.
    const claims = { requestAdapter: async () => ({ features: new Set(['shader-f16']) }) };
    await expect(createWebLlmEngine({ entry: f16, checkStorageQuota: false }, undefined, depsOf(fresh, { gpu: claims }))).rejects.toMatchObject({ code: 'no-shader-f16' });
    expect(fresh.engines[0]?.unloadCalls).toBe(2);
  });

  it('out of memory: classified from DeviceLostError, the failed load is unloaded and another model loads afterwards', async () => {
    const deviceLost =
      'DeviceLostError: The WebGPU device was lost while loading the model. This issue often occurs due to running out of memory (OOM). To resolve this, try reloading with a model that has fewer parameters or uses a smaller context length.';
    expect(classifyWebLlmError(deviceLost, { model: 'Mistral-7B', vramMB: 4573.39 })).toMatchObject({
      code: 'out-of-memory',
      message: expect.stringMatching(/ran out of memory loading Mistral-7B \(it needs about 4573 MB of GPU memory\): choose a smaller model/),
    });
    const fresh = await newWorld();
    fresh.failNextReload(webllmError('DeviceLostError', deviceLost.slice('DeviceLostError: '.length)));
    await expect(createWebLlmEngine({ entry: tinyEntry(), checkStorageQuota: false }, undefined, depsOf(fresh))).rejects.toMatchObject({
      code: 'out-of-memory',
      message: expect.stringMatching(/about 64 MB.*can be loaded right away/),
    });
    // reload()'s own unload, then the adapter's cleanup.
    expect(fresh.engines[0]?.unloadCalls).toBe(2);
    const recovered = await createWebLlmEngine({ entry: tinyEntry(), checkStorageQuota: false }, undefined, depsOf(fresh));
    await expect(recovered.score({ promptIds: [1], continuations: [[2]] })).resolves.toMatchObject({ method: 'forced-decode' });
    await recovered.dispose();
  });

  it('device lost after loading: the next call says to reload, and a reload works', async () => {
    expect(
      classifyWebLlmError(
        'ModelNotLoadedError: Model not loaded before trying to complete ChatCompletionRequest. Please ensure you have called MLCEngine.reload(model) to load the model before initiating APIs, or initialize your engine using CreateMLCEngine() with a valid model configuration.',
      ),
    ).toMatchObject({ code: 'device-lost', message: expect.stringMatching(/load the model again; if it keeps happening, choose a smaller model/) });
    expect(classifyWebLlmError(new Error('Device was lost. This can happen due to insufficient memory or other GPU constraints. Detailed error: [object GPUDeviceLostInfo].')).code).toBe('device-lost');

    const fresh = await newWorld();
    const loaded = await createWebLlmEngine({ entry: tinyEntry(), checkStorageQuota: false }, undefined, depsOf(fresh));
    fresh.loseDevice();
    await expect(loaded.generate([{ role: 'user', content: 'Hi' }], { maxNewTokens: 3 })).rejects.toMatchObject({ code: 'device-lost' });
    await expect(loaded.score({ promptIds: [1], continuations: [[2, 3]] })).rejects.toMatchObject({ code: 'device-lost', message: expect.stringMatching(/Tiny Llama \(stand-in\)/) });
    await loaded.dispose();
    await expect(loaded.score({ promptIds: [1], continuations: [[2]] })).rejects.toMatchObject({ code: 'not-loaded', message: 'Tiny Llama (stand-in) was unloaded: load it again.' });
    const again = await createWebLlmEngine({ entry: tinyEntry(), checkStorageQuota: false }, undefined, depsOf(fresh));
    await expect(again.generate([{ role: 'user', content: 'Hi' }], { maxNewTokens: 3, temperature: 0 })).resolves.toMatchObject({ prompt: '<|user|>\nHi</s>\n<|assistant|>\n' });
    await again.dispose();
  });

  it('download interrupted: classified, and a retry downloads only the shards that were missing', async () => {
    const networkText = "NetworkError: Failed to execute 'add' on 'Cache': Cache.add() encountered a network error";
    for (const error of [networkText, new TypeError('Failed to fetch')]) {
      expect(classifyWebLlmError(error, { model: 'Zephyr' })).toMatchObject({
        code: 'download-interrupted',
        message: expect.stringMatching(/Downloading Zephyr was interrupted .*load again\. Files that finished downloading stay cached, so the download resumes where it stopped/),
      });
    }
    const fresh = await newWorld();
    fresh.failNextReload(webllmError('NetworkError', "Failed to execute 'add' on 'Cache': Cache.add() encountered a network error"), 2);
    await expect(createWebLlmEngine({ entry: tinyEntry(), checkStorageQuota: false }, undefined, depsOf(fresh))).rejects.toMatchObject({ code: 'download-interrupted' });
    expect(fresh.cachedShards).toEqual([0, 1]);
    expect(await isModelCached(tinyEntry(), 'cache', { cache: fresh.cache })).toBe(false);
    const progress: LoadProgress[] = [];
    const retried = await createWebLlmEngine({ entry: tinyEntry(), checkStorageQuota: false }, (p) => progress.push(p), depsOf(fresh));
    expect(fresh.downloads).toEqual([[0, 1], [2, 3]]);
    expect(progress.filter((p) => p.stage === 'fetch' && p.loadedBytes !== undefined).length).toBe(4);
    expect(await isModelCached(tinyEntry(), 'cache', { cache: fresh.cache })).toBe(true);
    await retried.dispose();
  });

  it('storage quota: checked against navigator.storage.estimate() before a download, and WebLLM’s QuotaExceededError classified', async () => {
    for (const error of [
      'QuotaExceededError: The quota has been exceeded.',
      new Error('Failed to store https://huggingface.co/mlc-ai/x/resolve/main/params_shard_3.bin with error: QuotaExceededError: The quota has been exceeded.'),
    ]) {
      expect(classifyWebLlmError(error, { model: 'Zephyr' })).toMatchObject({
        code: 'quota-exceeded',
        message: expect.stringMatching(/refused to store Zephyr: its storage quota is used up .*Delete cached models .*private\/incognito/),
      });
    }
    const fresh = await newWorld();
    const tight: StorageProbe = { estimate: vi.fn(async () => ({ quota: 1000 * MB, usage: 990 * MB })), persist: vi.fn(async () => true) };
    await expect(createWebLlmEngine({ entry: tinyEntry() }, undefined, depsOf(fresh, { storage: tight }))).rejects.toMatchObject({
      code: 'quota-exceeded',
      message: 'Tiny Llama (stand-in) needs about 83 MB of browser storage, but only 10 MB is available (quota 1000 MB, 990 MB used): delete cached models you no longer need, leave private/incognito mode (it has a much smaller quota), or choose a smaller model.',
    });
    expect(fresh.engines).toHaveLength(0);

    const roomy: StorageProbe = { estimate: vi.fn(async () => ({ quota: 1000 * MB, usage: 100 * MB })), persist: vi.fn(async () => true) };
    const loaded = await createWebLlmEngine({ entry: tinyEntry() }, undefined, depsOf(fresh, { storage: roomy }));
    expect(roomy.persist).toHaveBeenCalledTimes(1);
    await loaded.dispose();
    // Once cached, nothing will be downloaded: the estimate is not consulted.
    const again = await createWebLlmEngine({ entry: tinyEntry() }, undefined, depsOf(fresh, { storage: tight }));
    expect(tight.estimate).toHaveBeenCalledTimes(1);
    await again.dispose();

    const quotaWorld = await newWorld();
    quotaWorld.failNextReload(webllmError('QuotaExceededError', 'The quota has been exceeded.'), 1);
    await expect(createWebLlmEngine({ entry: tinyEntry(), checkStorageQuota: false }, undefined, depsOf(quotaWorld))).rejects.toMatchObject({ code: 'quota-exceeded' });
  });

  it('context window exceeded: WebLLM’s error text classified with its numbers', () => {
    const text =
      'ContextWindowSizeExceededError: Prompt tokens exceed context window size: number of prompt tokens: 4200; context window size: 4096\nConsider shortening the prompt, or increase `context_window_size`, or using sliding window via `sliding_window_size`.';
    expect(classifyWebLlmError(text, { model: 'Zephyr-7B-beta' })).toMatchObject({
      code: 'context-exceeded',
      message: 'The prompt is longer than the context window of Zephyr-7B-beta (4200 prompt tokens, window 4096): shorten the prefix or the question, or choose a model with a larger window.',
    });
  });

  it('model library and weights that do not match: classified, and surfaced from a failing reload', async () => {
    // Not recorded in the notes: the forms TVM and WebAssembly give for a wrong library.
    for (const text of [
      'CompileError: WebAssembly.instantiate(): expected magic word 00 61 73 6d, found 3c 21 44 4f @+0',
      'Error: Cannot find global function vm.builtin.paged_attention_kv_cache_create',
      'InternalError: Check failed: (shape[1] == 4096) is false: Argument model.embed_tokens.q_weight has an unsatisfied constraint',
    ]) {
      expect(classifyWebLlmError(text)).toMatchObject({
        code: 'model-mismatch',
        message: expect.stringMatching(/does not match the weights or this WebLLM version .*compiled from the same mlc-chat-config\.json as the weights/),
      });
    }
    const fresh = await newWorld();
    fresh.failNextReload(webllmError('CompileError', 'WebAssembly.instantiate(): expected magic word 00 61 73 6d, found 3c 21 44 4f @+0'));
    await expect(createWebLlmEngine({ entry: tinyEntry(), checkStorageQuota: false }, undefined, depsOf(fresh))).rejects.toMatchObject({ code: 'model-mismatch' });
  });

  it('keeps AppErrors and gives anything unknown as internal with the original text', () => {
    const own = new AppError('aborted', 'Cancelled.');
    expect(classifyWebLlmError(own)).toBe(own);
    expect(classifyWebLlmError(new Error('something odd'))).toMatchObject({ code: 'internal', message: 'WebLLM failed: something odd' });
  });
});

describe('WebLLM cache helpers', () => {
  it('ask WebLLM’s cache utilities with the same AppConfig the engine uses, and delete the extra tokenizer_config.json', async () => {
    const fresh = await newWorld();
    const entry = tinyEntry();
    const spy = { ...fresh.cache, hasModelInCache: vi.fn(fresh.cache.hasModelInCache) };
    expect(await isModelCached(entry, 'indexeddb', { cache: spy })).toBe(false);
    expect(spy.hasModelInCache).toHaveBeenCalledWith(entry.modelId, buildAppConfig(entry, { cacheBackend: 'indexeddb' }));
    const loaded = await createWebLlmEngine({ entry, checkStorageQuota: false }, undefined, depsOf(fresh));
    await loaded.dispose();
    expect(await isModelCached(entry, 'cache', { cache: fresh.cache })).toBe(true);
    await deleteCache({ entry }, { cache: fresh.cache });
    expect(await cacheStatus({ entry }, { cache: fresh.cache })).toEqual({ cached: false });
    expect(fresh.deletedFiles).toEqual([`${MODEL_URL}/resolve/main/tokenizer_config.json`]);
    // A build whose URLs are not set is never cached.
    expect(await isModelCached(findEntry(catalog, 'zephyr-7b-beta-q4f16_1') as WebLlmCatalogEntry, 'cache', { cache: fresh.cache })).toBe(false);
  });
});

/** Keeps a copy of every row of raw logits WebLLM hands over; passes them through. */
class RawLogitsRecorder implements LogitProcessor {
  rows: Float32Array[] = [];
  processLogits(logits: Float32Array): Float32Array {
    this.rows.push(Float32Array.from(logits));
    return logits;
  }
  processSampledToken(): void {}
  resetState(): void {
    this.rows = [];
  }
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _chunk of stream) {
    // Consuming the stream runs the generation.
  }
}
