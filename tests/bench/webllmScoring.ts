/**
 * bench:webllm-scoring — forced decoding (WebLLM's public surface, one prompt prefill per answer)
 * against one-pass scoring (batch_prefill, the prompt once per pair) on the WebLLM stand-in backed
 * by the tiny Llama, with WebLLM's real limits (prefill chunk 1024, max_batch_size 80), on
 * Zephyr-length pairs: a 180-token prompt and two 320-token answers, as the issue measured.
 *
 * What carries over to a GPU is the count of sequential model calls (each is one GPU round trip;
 * at 7B a decode step costs 25–40 ms on a laptop GPU); the stand-in's wall-clock ratio, measured
 * interleaved (forced, one-pass, forced, …), is printed for completeness but CPU-bound here.
 * Lives under tests/ because it runs the test stand-in. Last line:
 * {"sequential_calls_forced": a, "sequential_calls_one_pass": b, "max_abs_diff": d, …}.
 */
import { compareLogprobs } from '../../src/core/logits.ts';
import type { ScoreRequest } from '../../src/core/engine.ts';
import { createRng } from '../../src/core/random.ts';
import { createWebLlmEngine } from '../../src/engines/webllm/index.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';
import { createNodeStandIn, type StandInEngine } from '../support/webllmStandIn.ts';
import { STAND_IN_MODEL_URL, readCatalog, tinyWebLlmEntry } from '../support/webllmTinyEntry.ts';

const PAIRS = Number(process.env.BENCH_PAIRS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PROMPT_TOKENS = 180;
const ANSWER_TOKENS = 320;

function pairSet(): ScoreRequest[] {
  const rng = createRng(86);
  const ids = (count: number) => Array.from({ length: count }, () => rng.int(300, 31_000));
  return Array.from({ length: PAIRS }, () => ({ promptIds: [1, ...ids(PROMPT_TOKENS - 1)], continuations: [[...ids(ANSWER_TOKENS - 1), 2], [...ids(ANSWER_TOKENS - 1), 2]] }));
}

async function load(exposePipelines: boolean) {
  const dir = await ensureTinyModel();
  const world = await createNodeStandIn({ modelDir: dir, modelUrl: STAND_IN_MODEL_URL, library: { exposePipelines } });
  const engine = await createWebLlmEngine({ entry: tinyWebLlmEntry(await readCatalog()), checkStorageQuota: false }, () => {}, { ...world.deps, storage: undefined });
  return { engine, inner: world.engines.at(-1) as StandInEngine };
}

const pairs = pairSet();
const forced = await load(false);
const onePass = await load(true);
// The run-time check happens on the first score; it is not part of the steady state measured.
const check = (await onePass.engine.score(pairs[0] as ScoreRequest)).check;
if (check?.method !== 'one-pass') throw new Error(`The stand-in did not pass the one-pass check: ${check?.reason}`);

let forcedCalls = 0;
let onePassCalls = 0;
let maxAbsDiff = 0;
for (const pair of pairs) {
  const forcedBefore = forced.inner.forwardCalls;
  const expected = await forced.engine.score(pair);
  forcedCalls += forced.inner.forwardCalls - forcedBefore;
  const onePassBefore = onePass.inner.forwardCalls;
  const actual = await onePass.engine.score(pair);
  onePassCalls += onePass.inner.forwardCalls - onePassBefore;
  maxAbsDiff = Math.max(maxAbsDiff, compareLogprobs(expected.logprobs, actual.logprobs).maxAbsDiff);
}

const timing = await onePass.engine.compareScoringPaths(pairs[0] as ScoreRequest, ROUNDS);
const ratios = (timing?.rounds ?? []).map((r) => r.referenceMs / r.fastMs);
await Promise.all([forced.engine.dispose(), onePass.engine.dispose()]);

console.log(`${PAIRS} pairs of a ${PROMPT_TOKENS}-token prompt and two ${ANSWER_TOKENS}-token answers:`);
console.log(`  forced decoding: ${forcedCalls} sequential model calls (${(forcedCalls / PAIRS).toFixed(0)} per pair)`);
console.log(`  one pass:        ${onePassCalls} sequential model calls (${(onePassCalls / PAIRS).toFixed(1)} per pair)`);
console.log(`  max |Δ log p| between them: ${maxAbsDiff.toExponential(2)}`);
console.log(`  stand-in wall clock, ${ROUNDS} interleaved rounds: median ${timing?.medianSpeedup.toFixed(2)}× (min ${Math.min(...ratios).toFixed(2)}, max ${Math.max(...ratios).toFixed(2)})`);
console.log(
  JSON.stringify({
    sequential_calls_forced: forcedCalls,
    sequential_calls_one_pass: onePassCalls,
    max_abs_diff: maxAbsDiff,
    stand_in_time_ratio_median: timing?.medianSpeedup,
    stand_in_time_ratio_min: Math.min(...ratios),
    stand_in_time_ratio_max: Math.max(...ratios),
  }),
);
