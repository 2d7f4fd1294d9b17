/**
 * The real model worker in headless Chromium: the test build's harness page
 * (tests/e2e/harness/worker.ts) drives WorkerEngine → workers/engine.worker.ts → the
 * Transformers.js engine on the generated tiny Llama, once on WebGPU (SwiftShader) and once on
 * WASM. Every file must come from the page's own origin: requests are recorded, and anything not
 * on 127.0.0.1 is blocked and fails the test. Scores are checked against the Node engine run in
 * this test process on the same token ids.
 */
import { expect, test, type Page } from '@playwright/test';
import { zephyrTemplate } from '../../src/core/chatTemplate.ts';
import type { Engine, ScoreRequest } from '../../src/core/engine.ts';
import { planScoring } from '../../src/core/scoringInput.ts';
import { createTransformersEngine } from '../../src/engines/transformers.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';
import type { CrashHow } from './harness/worker.ts';
import { HARNESS_PATH, TEST_BUILD_URL } from './testBuild.ts';

test.use({ baseURL: TEST_BUILD_URL });

const PAIR = {
  question: 'What should I cook tonight?',
  chosen: 'A light vegetable curry with rice and lentils.',
  rejected: 'Order a pizza.',
};
// Short: SwiftShader runs WebGPU on the CPU, about one token per second here.
const GREEDY = { maxNewTokens: 16, temperature: 0 } as const;
const MESSAGES = [{ role: 'user' as const, content: 'Tell me about the sea.' }];

let node: Engine;
let pairRequest: ScoreRequest;

test.beforeAll(async () => {
  node = await createTransformersEngine({ model: await ensureTinyModel(), device: 'cpu' });
  const plan = await planScoring((text) => node.tokenize(text), PAIR.question, [PAIR.chosen, PAIR.rejected], {
    convention: 'authors',
    template: zephyrTemplate,
    special: { bos: node.info.bosTokenId, eos: node.info.eosTokenId },
  });
  pairRequest = { promptIds: plan.sharedPromptIds, continuations: plan.continuations };
});

test.afterAll(async () => {
  await node?.dispose();
});

/** Records every request; blocks and reports any that leaves 127.0.0.1 (there is no CDN here). */
async function openHarness(page: Page): Promise<{ requested: string[]; foreign: string[]; pageErrors: string[] }> {
  const requested: string[] = [];
  const foreign: string[] = [];
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.context().route('**/*', async (route) => {
    const url = new URL(route.request().url());
    requested.push(url.pathname);
    if (url.hostname === '127.0.0.1' || url.hostname === 'localhost') return route.continue();
    foreign.push(url.href);
    return route.abort('blockedbyclient');
  });
  await page.goto(HARNESS_PATH);
  await expect(page.locator('#status')).toHaveText('ready');
  return { requested, foreign, pageErrors };
}

function maxAbsDiff(a: number[][], b: number[][]): number {
  expect(a.map((row) => row.length)).toEqual(b.map((row) => row.length));
  return Math.max(...a.flatMap((row, i) => row.map((value, t) => Math.abs(value - (b[i]?.[t] ?? Number.NaN)))));
}

test('headless Chromium offers a WebGPU adapter (SwiftShader) to a localhost page', async ({ page }) => {
  await openHarness(page);
  const probe = await page.evaluate(() => window.harness.probeWebGpu());
  test.info().annotations.push({ type: 'webgpu adapter', description: `${probe.vendor} / ${probe.architecture}, shader-f16: ${probe.shaderF16}` });
  expect(probe.adapter).toBe(true);
});

for (const device of ['webgpu', 'wasm'] as const) {
  test.describe(`the real worker with Transformers.js on ${device}`, () => {
    test('loads the tiny model from the page origin only, streams a generation, tokenizes and scores like Node', async ({ page }) => {
      const { requested, foreign, pageErrors } = await openHarness(page);

      const load = await page.evaluate((d) => window.harness.load(d), device);
      expect(load.info).toMatchObject({ backend: 'transformers', model: 'tiny-llama', device, dtype: 'fp32', bosTokenId: 1, eosTokenId: 2, contextWindow: 2048 });
      const stages = load.progress.map((report) => report.stage);
      expect(stages).toContain('fetch');
      expect(stages.at(-1)).toBe('ready');
      expect(load.progress.some((report) => report.file === 'onnx/model.onnx' && report.fraction === 1)).toBe(true);

      // The worker fetched the model and ONNX Runtime from this origin (so the recording sees worker traffic) …
      for (const path of ['/models/tiny-llama/config.json', '/models/tiny-llama/tokenizer.json', '/models/tiny-llama/onnx/model.onnx', '/ort/ort-wasm-simd-threaded.asyncify.wasm']) {
        expect(requested).toContain(path);
      }
      // … and nothing from anywhere else.
      expect(foreign).toEqual([]);

      const generation = await page.evaluate(({ messages, options }) => window.harness.generate(messages, options), { messages: MESSAGES, options: GREEDY });
      expect(generation.deltas.length).toBeGreaterThan(1);
      expect(generation.deltas.join('')).toBe(generation.result.text);
      expect(generation.result.prompt).toBe('<|user|>\nTell me about the sea.</s>\n<|assistant|>\n');
      const nodeGeneration = await node.generate(MESSAGES, GREEDY);
      expect(generation.result.promptTokenCount).toBe(nodeGeneration.promptTokenCount);
      // fp32 weights, log-probs within 1e-4 of Node's (asserted below): greedy decoding picks the same tokens.
      expect(generation.result.tokenIds).toEqual(nodeGeneration.tokenIds);

      const text = 'Personalized alignment, on your own GPU.';
      expect(await page.evaluate((t) => window.harness.tokenize(t), text)).toEqual(await node.tokenize(text));

      const browserScore = await page.evaluate((request) => window.harness.score(request), pairRequest);
      const nodeScore = await node.score(pairRequest);
      expect(browserScore.result.logprobs).toHaveLength(2);
      expect(browserScore.result.logprobs.flat().every((value) => Number.isFinite(value) && value < 0)).toBe(true);
      const diff = maxAbsDiff(browserScore.result.logprobs, nodeScore.logprobs);
      // Both run fp32 (SwiftShader emulates the GPU in fp32 on the CPU); measured here: about 4e-6 on each device.
      expect(diff).toBeLessThanOrEqual(1e-4);

      const cache = await page.evaluate(() => window.harness.cacheStatus());
      expect(cache).toMatchObject({ ok: false, error: { code: 'unsupported' } });

      const tokens = generation.result.tokenIds.length;
      const tokensPerSecond = tokens / (generation.ms / 1000);
      test.info().annotations.push(
        { type: 'load', description: `${load.ms.toFixed(0)} ms` },
        { type: 'generation', description: `${tokens} tokens in ${generation.ms.toFixed(0)} ms = ${tokensPerSecond.toFixed(1)} tokens/s (first delta after ${generation.firstDeltaMs?.toFixed(0)} ms)` },
        { type: 'score', description: `pair scored in ${browserScore.ms.toFixed(0)} ms, max |browser − node| = ${diff.toExponential(2)}` },
      );
      console.log(`[${device}] load ${load.ms.toFixed(0)} ms; ${tokens} tokens at ${tokensPerSecond.toFixed(1)} tokens/s; score ${browserScore.ms.toFixed(0)} ms; max diff ${diff.toExponential(2)}`);
      expect(pageErrors).toEqual([]);
    });

    test('cancels a streaming generation inside the worker', async ({ page }) => {
      await openHarness(page);
      await page.evaluate((d) => window.harness.load(d), device);
      const cancelled = await page.evaluate(() => window.harness.cancelAfter(3));
      expect(cancelled.result.finishReason).toBe('aborted');
      // The engine stops at its next step: a few tokens past the abort, far from the 400 asked for.
      expect(cancelled.result.tokenIds.length).toBeLessThan(20);
      expect(cancelled.deltas.join('')).toBe(cancelled.result.text);
    });

    test('lets the newest generation win: the superseded one rejects, the newer one completes', async ({ page }) => {
      await openHarness(page);
      await page.evaluate((d) => window.harness.load(d), device);
      const race = await page.evaluate(() => window.harness.supersede());
      expect(race.firstDeltas).toBeGreaterThanOrEqual(2);
      expect(race.first).toMatchObject({ ok: false, error: { code: 'aborted', message: 'Superseded by a newer generation.' } });
      expect(race.second.ok && race.second.value.tokenIds.length).toBe(8);
      // Both ran in the one worker, which is still healthy.
      expect(await page.evaluate(() => window.harness.workersStarted())).toBe(1);
    });

    test('survives worker crashes: pending requests reject with worker-crashed and a fresh load works', async ({ page }) => {
      const { foreign } = await openHarness(page);

      // 1. The test-only crash request while the model loads: an uncaught error in the worker (its error event).
      const duringLoad = await page.evaluate((d) => window.harness.crashDuringLoad(d), device);
      expect(duringLoad.progressBeforeCrash).toBeGreaterThan(0);
      expect(duringLoad.pending).toMatchObject({
        ok: false,
        error: { code: 'worker-crashed', message: expect.stringMatching(/^The model worker stopped \(error: .*Crash requested by a test\.\): reload the model; if it keeps happening choose a smaller model\.$/) },
      });
      expect(duringLoad.crashes.map((error) => error.code)).toEqual(['worker-crashed']);

      const reload = await page.evaluate((d) => window.harness.load(d), device);
      expect(reload.info.device).toBe(device);

      // 2. A crash while a generation streams. On WASM the worker cannot read a crash request mid-generation
      //    (see the cancel test), so there the page kills the worker, as a "stop" button would.
      const how: CrashHow = device === 'webgpu' ? 'crash-request' : 'client-terminate';
      const midGeneration = await page.evaluate((h) => window.harness.crashMidGeneration(h), how);
      expect(midGeneration.deltasBeforeCrash).toBeGreaterThanOrEqual(3);
      expect(midGeneration.pending).toMatchObject({
        ok: false,
        error: { code: 'worker-crashed', message: expect.stringContaining(how === 'crash-request' ? 'Crash requested by a test.' : '(terminated by the page)') },
      });
      expect(midGeneration.crashes).toHaveLength(1);
      expect(midGeneration.aliveAfter).toBe(false);
      expect(midGeneration.later).toMatchObject({ ok: false, error: { code: 'worker-crashed' } });

      // 3. Loading again starts a fresh worker, which works.
      await page.evaluate((d) => window.harness.load(d), device);
      // Started: the one that crashed while loading, the one that crashed mid-generation, this one.
      expect(await page.evaluate(() => window.harness.workersStarted())).toBe(3);
      const after = await page.evaluate(({ messages, options }) => window.harness.generate(messages, options), { messages: MESSAGES, options: { maxNewTokens: 6, temperature: 0 } });
      expect(after.deltas.join('')).toBe(after.result.text);
      expect(after.result.tokenIds).toHaveLength(6);
      expect(foreign).toEqual([]);
    });
  });
}

test('a worker killed behind the client\'s back is detected by the liveness check', async ({ page }) => {
  await openHarness(page);
  // The timeout must exceed the longest silent step of a load (ONNX Runtime's session creation blocks the worker for seconds here).
  await page.evaluate(() => window.harness.load('wasm', { intervalMs: 250, timeoutMs: 10_000 }));
  const silent = await page.evaluate(() => window.harness.crashMidGeneration('silent-terminate'));
  expect(silent.pending).toMatchObject({ ok: false, error: { code: 'worker-crashed', message: expect.stringMatching(/\(no reply for \d+ s\)/) } });
  expect(silent.crashes).toHaveLength(1);
  // Detected by silence: not before the timeout, and not long after it.
  expect(silent.detectionMs).toBeGreaterThanOrEqual(9_500);
  expect(silent.detectionMs).toBeLessThan(15_000);
});
