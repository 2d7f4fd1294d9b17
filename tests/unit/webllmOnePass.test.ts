/**
 * One-pass scoring on WebLLM (src/engines/webllm/pipelineInternals.ts, onePass.ts, scoring.ts)
 * over the stand-in of WebLLM's pipeline internals (tests/support/webllmStandIn/tvm.ts), backed by
 * the tiny Llama: the module's own code runs against `batch_prefill`, `kv_state_popn` and the KV
 * cache's bookkeeping. One pass must equal forced decoding on the same stand-in and the float64
 * reference, across prefill chunks and position windows, at the boundary merge and the context
 * limit; the run-time check must choose it, fall back when it disagrees or is unavailable (and say
 * why), and scoring must leave the chat state as clean as `resetChat` does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelCatalog } from '../../src/core/catalog.ts';
import type { ScoreRequest, ScoreResult } from '../../src/core/engine.ts';
import { planScoring } from '../../src/core/scoringInput.ts';
import { createWebLlmEngine, type WebLlmEngine } from '../../src/engines/webllm/index.ts';
import { PINNED_WEBLLM_MODEL_VERSION, probePipeline } from '../../src/engines/webllm/pipelineInternals.ts';
import { judgeFastPath, toleranceFor } from '../../src/engines/webllm/scoringCheck.ts';
import { loadReferenceLlama, logSoftmax, type ReferenceLlama } from '../support/llamaReference.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';
import { toyTokenizer } from '../support/toyTokenizer.ts';
import { createNodeStandIn, type StandInEngine, type StandInOptions, type WebLlmStandIn } from '../support/webllmStandIn.ts';
import { STAND_IN_MODEL_URL, readCatalog, tinyWebLlmEntry } from '../support/webllmTinyEntry.ts';

/** Float32 one pass against the float64 reference (the bound for every engine). */
const REFERENCE_TOLERANCE = 2e-3;
/** One pass against forced decoding on the same float32 model: the same arithmetic up to summation order. */
const FORCED_TOLERANCE = 1e-4;

let dir: string;
let catalog: ModelCatalog;
let reference: ReferenceLlama;
const opened: WebLlmEngine[] = [];

beforeAll(async () => {
  dir = await ensureTinyModel();
  [catalog, reference] = await Promise.all([readCatalog(), loadReferenceLlama(dir)]);
});

afterAll(async () => {
  await Promise.all(opened.map((engine) => engine.dispose()));
});

interface Loaded {
  world: WebLlmStandIn;
  engine: WebLlmEngine;
  inner: StandInEngine;
}

/** A small prefill chunk and position budget, so prompts and answers cross several windows. */
async function load(options: Partial<StandInOptions> = {}, entryPatch: Record<string, unknown> = {}): Promise<Loaded> {
  const world = await createNodeStandIn({ modelDir: dir, modelUrl: STAND_IN_MODEL_URL, prefillChunkSize: 16, ...options, library: { maxBatchSize: 8, ...options.library } });
  const engine = await createWebLlmEngine({ entry: tinyWebLlmEntry(catalog, entryPatch), checkStorageQuota: false }, () => {}, { ...world.deps, storage: undefined });
  opened.push(engine);
  return { world, engine, inner: world.engines.at(-1) as StandInEngine };
}

function referenceLogprobs(promptIds: readonly number[], continuation: readonly number[]): number[] {
  const sequence = [...promptIds, ...continuation];
  const rows = reference.forward([sequence], [sequence.map(() => 1)]).logits[0] as Float64Array[];
  return continuation.map((token, t) => logSoftmax(rows[promptIds.length - 1 + t] as Float64Array)[token] as number);
}

function maxDiff(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): number {
  expect(a.map((row) => row.length)).toEqual(b.map((row) => row.length));
  return Math.max(...a.flatMap((row, i) => row.map((value, t) => Math.abs(value - ((b[i] as readonly number[])[t] as number)))));
}

const ids = (from: number, count: number) => Array.from({ length: count }, (_, i) => 300 + ((from + i * 37) % 20000));

/** A 40-token prompt and answers of 30 and 23 tokens: longer than the 16-token chunk and the 8-position window. */
const LONG: ScoreRequest = { promptIds: [1, ...ids(0, 39)], continuations: [[...ids(500, 29), 2], [...ids(900, 22), 2]] };

describe('one-pass scoring on the stand-in of WebLLM internals', () => {
  it('is chosen after agreeing with forced decoding on the first pair, and equals forced decoding and the float64 reference', async () => {
    const { engine } = await load();
    expect(engine.info.scoringMethod).toMatch(/^one-pass \(checked/);
    const first = await engine.score(LONG);
    expect(first.method).toBe('one-pass');
    expect(first.check).toMatchObject({ method: 'one-pass', tolerance: { precision: 'f32' } });
    expect(first.check?.maxAbsDiff).toBeLessThanOrEqual(FORCED_TOLERANCE);
    expect(first.check?.repeatMaxAbsDiff).toBe(0);
    expect(first.check?.tokens).toBe(30 + 23);
    expect(first.check?.reason).toMatch(/agreed with forced decoding/);
    expect(first.check?.subject).toContain(PINNED_WEBLLM_MODEL_VERSION);

    const again = await engine.score(LONG);
    expect(again.method).toBe('one-pass');
    const forced = await (await load({ library: { exposePipelines: false } })).engine.score(LONG);
    expect(forced.method).toBe('forced-decode');
    const expected = LONG.continuations.map((c) => referenceLogprobs(LONG.promptIds, c));
    expect(maxDiff(again.logprobs, forced.logprobs)).toBeLessThanOrEqual(FORCED_TOLERANCE);
    expect(maxDiff(again.logprobs, expected)).toBeLessThanOrEqual(REFERENCE_TOLERANCE);
    expect(maxDiff(first.logprobs, again.logprobs)).toBe(0);
  });

  it('needs a handful of sequential model calls per pair instead of one per token', async () => {
    const { engine, inner } = await load();
    await engine.score(LONG);
    const before = inner.forwardCalls;
    const result = await engine.score(LONG);
    // ⌈39 / 16⌉ prompt chunks, then ⌈30 / 8⌉ + ⌈23 / 8⌉ windows.
    expect(inner.forwardCalls - before).toBe(3 + 4 + 3);
    expect(result.forwardTokens).toBe(39 + 30 + 23);
  });

  it('scores the boundary-merge case (continuations that start inside the prompt) like the reference', async () => {
    // Token ids of the toy vocabulary (10…) are valid ids of the tiny model; "a" + "b" merge into "ab".
    const toy = toyTokenizer(['x', ' ', 'a', 'b', 'c', 'ab']);
    const template = { name: 'toy', render: (messages: readonly { content: string }[]) => `x ${messages.map((m) => m.content).join(' ')} x a` };
    const plan = await planScoring(toy.encode, 'c c', ['bc', ' c c'], { convention: 'clean', template, special: { bos: 1, eos: 2 } });
    expect(plan.answers.map((a) => a.merged)).toEqual([true, false]);
    const request = { promptIds: plan.sharedPromptIds, continuations: plan.continuations };
    const { engine } = await load();
    const result = await engine.score(request);
    expect(result.method).toBe('one-pass');
    expect(maxDiff(result.logprobs, plan.continuations.map((c) => referenceLogprobs(plan.sharedPromptIds, c)))).toBeLessThanOrEqual(REFERENCE_TOLERANCE);
  });

  it('scores up to the context limit and refuses one token more with a clear error before running anything', async () => {
    const { engine, inner } = await load({}, { contextWindow: 64 });
    const atLimit: ScoreRequest = { promptIds: [1, ...ids(3, 39)], continuations: [[...ids(77, 23), 2], [...ids(40, 10), 2]] };
    const result = await engine.score(atLimit);
    expect(result.method).toBe('one-pass');
    expect(maxDiff(result.logprobs, atLimit.continuations.map((c) => referenceLogprobs(atLimit.promptIds, c)))).toBeLessThanOrEqual(REFERENCE_TOLERANCE);
    const before = inner.forwardCalls;
    const over: ScoreRequest = { promptIds: atLimit.promptIds, continuations: [[...ids(77, 24), 2]] };
    await expect(engine.score(over)).rejects.toMatchObject({ code: 'context-exceeded', message: expect.stringMatching(/65 tokens.*64/) });
    expect(inner.forwardCalls).toBe(before);
  });

  it('leaves the chat state as clean as resetChat: empty KV cache, bookkeeping in step, the same greedy chat as before', async () => {
    const { engine, inner } = await load();
    const chat = [{ role: 'user' as const, content: 'Tell me about tea.' }];
    const before = await engine.generate(chat, { maxNewTokens: 6, temperature: 0 });
    await engine.score(LONG);
    expect(inner.pipelineState).toEqual({ filledKVCacheLength: 0, kvLength: 0 });
    const after = await engine.generate(chat, { maxNewTokens: 6, temperature: 0 });
    expect(after.tokenIds).toEqual(before.tokenIds);
    expect(after.tokenIds).toEqual(reference.greedyContinuation(inner.lastPromptIds, 6));
  });

  it('a one-token prompt has nothing to keep between answers: the cache is cleared instead of popped empty', async () => {
    const { engine } = await load();
    const request: ScoreRequest = { promptIds: [1], continuations: [[...ids(5, 12), 2], [...ids(8, 3), 2]] };
    const result = await engine.score(request);
    expect(result.method).toBe('one-pass');
    expect(maxDiff(result.logprobs, request.continuations.map((c) => referenceLogprobs([1], c)))).toBeLessThanOrEqual(REFERENCE_TOLERANCE);
  });

  it('stops at the next window when cancelled, and the engine still scores afterwards', async () => {
    const { engine, inner } = await load();
    await engine.score(LONG);
    const controller = new AbortController();
    const pending = engine.score(LONG, controller.signal);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'aborted' });
    expect(inner.pipelineState).toEqual({ filledKVCacheLength: 0, kvLength: 0 });
    expect((await engine.score(LONG)).method).toBe('one-pass');
  });
});

describe('the run-time check and the fallback', () => {
  async function fallbackOf(options: Partial<StandInOptions>, entryPatch: Record<string, unknown> = {}): Promise<ScoreResult> {
    const { engine } = await load(options, entryPatch);
    const result = await engine.score(LONG);
    expect(result.method).toBe('forced-decode');
    expect(result.check?.method).toBe('forced-decode');
    const next = await engine.score(LONG);
    expect(next.method).toBe('forced-decode');
    expect(maxDiff(next.logprobs, LONG.continuations.map((c) => referenceLogprobs(LONG.promptIds, c)))).toBeLessThanOrEqual(REFERENCE_TOLERANCE);
    return result;
  }

  it('falls back to forced decoding, and says why, when one-pass logits disagree beyond the tolerance', async () => {
    const result = await fallbackOf({ library: { perturbOnePass: 0.2 } });
    expect(result.check?.maxAbsDiff).toBeGreaterThan(toleranceFor('q0f32').maxAbsDiff);
    expect(result.check?.reason).toMatch(/^One-pass scoring disagreed with forced decoding on this GPU \(max \|Δ\| [\d.]+, .*f32 tolerance: max 0\.01.*so scoring uses forced decoding/);
  });

  it('takes the looser f16 tolerance for an f16 build, so a small perturbation still passes', async () => {
    const { engine } = await load({ gpuFeatures: ['shader-f16'], library: { perturbOnePass: 0.02 } }, { quantization: 'q4f16_1', requiredFeatures: ['shader-f16'] });
    const result = await engine.score(LONG);
    expect(result.check).toMatchObject({ method: 'one-pass', tolerance: { precision: 'f16', maxAbsDiff: 0.5, meanAbsDiff: 0.05 } });
    expect(result.check?.maxAbsDiff).toBeGreaterThan(0.001);
  });

  it('catches a pop that leaves stale tokens in the KV cache (the comparison and the repeat disagree)', async () => {
    const result = await fallbackOf({ library: { stalePop: true, sequenceLength: false } });
    expect(result.check?.repeatMaxAbsDiff).toBeGreaterThan(0.01);
  });

  it('switches to forced decoding for good when one pass fails after passing its check', async () => {
    const { engine } = await load({ library: { failBatchPrefillAfter: 16 } });
    expect((await engine.score(LONG)).method).toBe('one-pass');
    const failed = await engine.score(LONG);
    expect(failed.method).toBe('forced-decode');
    expect(failed.check?.reason).toMatch(/One-pass scoring failed on this GPU after passing its check: stand-in: batch_prefill failed.*so scoring uses forced decoding with one prompt prefill per answer/);
    expect(maxDiff(failed.logprobs, LONG.continuations.map((c) => referenceLogprobs(LONG.promptIds, c)))).toBeLessThanOrEqual(REFERENCE_TOLERANCE);
  });

  it.each([
    [{ library: { exposePipelines: false } }, /no loadedModelIdToPipeline map/],
    [{ modelVersion: 'v0_2_90/base' }, /WebLLM v0_2_90\/base is not the version this one-pass path was written against \(v0_2_86\/base\)/],
    [{ library: { popn: false } }, /lacks vm\.builtin\.kv_state_popn/],
  ] satisfies [Partial<StandInOptions>, RegExp][])('uses forced decoding when WebLLM internals are out of reach (%o), saying why', async (options, why) => {
    const result = await fallbackOf(options);
    expect(result.check).toMatchObject({ maxAbsDiff: null, repeatMaxAbsDiff: null, tokens: 0 });
    expect(result.check?.reason).toMatch(/^One-pass scoring is unavailable/);
    expect(result.check?.reason).toMatch(why);
  });

  it.each([
    [{ library: { batchPrefill: false } }, /lacks batch_prefill/],
    [{ library: { maxBatchSize: 1 } }, /max_batch_size is 1/],
    [{ library: { maxBatchSize: undefined } }, /max_batch_size is not stated/],
  ] satisfies [Partial<StandInOptions>, RegExp][])('without one pass (%o), checks and uses forced decoding with the prompt prefilled once', async (options, why) => {
    const { engine, inner } = await load(options);
    const first = await engine.score(LONG);
    expect(first.method).toBe('forced-decode-prompt-once');
    expect(first.check?.reason).toMatch(why);
    expect(first.check?.reason).toMatch(/Forced decoding with the prompt prefilled once agreed with forced decoding/);
    expect(first.check?.maxAbsDiff).toBe(0);
    const before = inner.forwardCalls;
    const result = await engine.score(LONG);
    // ⌈40 / 16⌉ prompt chunks once, then one call per answer token but the last.
    expect(inner.forwardCalls - before).toBe(3 + 29 + 22);
    expect(result.forwardTokens).toBe(40 + 29 + 22);
    expect(maxDiff(result.logprobs, LONG.continuations.map((c) => referenceLogprobs(LONG.promptIds, c)))).toBeLessThanOrEqual(REFERENCE_TOLERANCE);
  });

  it('without kv_state_popn, forced decoding prefills the prompt once per answer', async () => {
    const perAnswer = await load({ library: { popn: false } });
    const before = perAnswer.inner.forwardCalls;
    await perAnswer.engine.score(LONG);
    expect(perAnswer.inner.forwardCalls - before).toBe(2 * 3 + 29 + 22);
  });

  it('judges non-finite one-pass log-probs as a failed check, never as agreement', () => {
    const forced = [[-1, -2]];
    const check = judgeFastPath({ method: 'one-pass', label: 'One-pass scoring', unavailable: undefined }, forced, [[-1, Number.NaN], [-1, -2]], toleranceFor('q4f32_1'), 'test');
    expect(check).toMatchObject({ method: 'forced-decode', maxAbsDiff: null });
    expect(check.reason).toMatch(/non-finite/);
  });

  it('probes nothing it does not understand: a pipeline missing fields is refused with their names', () => {
    const engine = { loadedModelIdToPipeline: new Map([['m', { embed: () => {}, filledKVCacheLength: 0 }]]) };
    const probe = probePipeline(engine, 'm', PINNED_WEBLLM_MODEL_VERSION);
    expect(probe.ok).toBe(false);
    expect(!probe.ok && probe.reason).toMatch(/lacks fKVCacheBeginForward, fKVCacheEndForward, prefillChunkSize.*tvm/);
  });

  it('is pinned to the installed @mlc-ai/web-llm: the version this path was written against is the one the lockfile installs', async () => {
    const webllm = await import('@mlc-ai/web-llm');
    expect(webllm.modelVersion).toBe(PINNED_WEBLLM_MODEL_VERSION);
  });

  it('refuses scoring on an unloaded engine with a clear error (and disposing twice is harmless)', async () => {
    const { engine } = await load();
    await engine.dispose();
    await engine.dispose();
    await expect(engine.score(LONG)).rejects.toMatchObject({ code: 'not-loaded' });
  });
});
