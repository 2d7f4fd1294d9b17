/**
 * bench:eval — pairs per second of `eval`'s batch path against the naive per-pair path, on the
 * same generated model and the same jobs, both through the real runner (rows appended and fsynced):
 *   batch: jobs sorted longest first, the engine computes each pair's shared prompt once and
 *          reuses its KV cache for both answers (promptCache on);
 *   naive: jobs in dataset order, each answer scored as a full sequence from scratch
 *          (promptCache: false), the reward-bench way.
 * The dataset is the eval fixture with persona-length prefixes (persona, few-shot) on a hidden-256,
 * 4-layer Llama. Timings are noisy on shared machines, so the two paths run interleaved over
 * BENCH_ROUNDS rounds (4; interleave.ts) and the speedup is the median of the per-round ratios,
 * with its spread; it never asserts. The engine scores one pair at a time, so sorting changes when
 * a too-long pair fails (first) and what the ETA means (an upper bound), not throughput: the
 * speedup is the prompt cache. Last line: {"batch_pairs_per_s", "naive_pairs_per_s" (medians),
 * "speedup" (median), "speedup_spread": {min, q1, q3, max, rounds}, "max_abs_score_diff"}.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Engine } from '../../src/core/engine.ts';
import { planScoringJobs, type JobPlan } from '../../src/core/eval/jobs.ts';
import type { PersonaMaterial } from '../../src/core/eval/prefixes.ts';
import type { EvalPairRow } from '../../src/core/eval/rows.ts';
import { EvalPairRow as EvalPairRowSchema } from '../../src/core/eval/rows.ts';
import { AUTHORS_LIMITS } from '../../src/core/scoringInput.ts';
import { createTransformersEngine } from '../../src/engines/transformers.ts';
import { makeEvalFixture } from '../fixtures/makeEvalFixture.ts';
import { JsonlAppender } from '../lib/durableFiles.ts';
import { createReporter } from '../lib/reporter.ts';
import { readJsonl } from '../lib/eval/runFiles.ts';
import { runScoring } from '../lib/eval/runner.ts';
import { makeTinyModel } from '../tinyModel/makeTinyModel.ts';
import { benchRounds, interleave, ratioSpread } from './interleave.ts';

const MODEL_SIZES = { hidden: 256, layers: 4, heads: 8, kvHeads: 4, intermediate: 688 };
const TEST_PAIRS_PER_TYPE = Number(process.env.BENCH_TEST_PER_TYPE ?? 2);
const ROUNDS = benchRounds(4);

const modelDir = resolve('.cache', `bench-llama-h${MODEL_SIZES.hidden}-l${MODEL_SIZES.layers}`);
if (!existsSync(join(modelDir, 'onnx', 'model.onnx'))) {
  await mkdir(modelDir, { recursive: true });
  await makeTinyModel({ outDir: modelDir, seed: 1, sizes: MODEL_SIZES });
}

const fixture = makeEvalFixture({ seed: 11, trainPerType: 4, testPerType: TEST_PAIRS_PER_TYPE });
const pairs = fixture.pairs.filter((pair) => pair.split === 'test').map((pair) => ({ ...pair, persona: pair.persona as string }));
const material = new Map<string, PersonaMaterial>(
  (fixture.personas ?? []).map((persona, index) => {
    const name = persona.name as string;
    const train = fixture.pairs.filter((pair) => pair.persona === name && pair.split === 'train').slice(0, 2);
    return [name, { name, tag: `<special_person_tag_${index}>`, persona: persona.prefixes.persona as string, fewShot: train.map(({ prompt, chosen }) => ({ prompt, chosen })) }];
  }),
);
const prefixes = ['none', 'persona', 'few-shot'] as const;
const sorted = planScoringJobs({ pairs, prefixes, material });
// The naive path takes the same jobs in dataset order (prefix by prefix, pair by pair).
const datasetOrder = new Map(prefixes.flatMap((prefix) => pairs.map((pair) => `${prefix}|${pair.id}`)).map((key, index) => [key, index]));
const unsorted: JobPlan = { jobs: [...sorted.jobs].sort((a, b) => (datasetOrder.get(a.key) ?? 0) - (datasetOrder.get(b.key) ?? 0)), unavailable: [] };

async function timed(engine: Engine, plan: JobPlan): Promise<{ seconds: number; rows: EvalPairRow[] }> {
  const folder = await mkdtemp(join(tmpdir(), 'bench-eval-'));
  const path = join(folder, 'pairs.jsonl');
  const rows = JsonlAppender.open(path);
  const result = await runScoring({
    engine,
    plan,
    settings: { convention: 'authors', aggregation: 'mean', limits: AUTHORS_LIMITS },
    rows,
    session: 'bench',
    reporter: createReporter('silent'),
  });
  await rows.close();
  const written = await readJsonl(path, EvalPairRowSchema);
  await rm(folder, { recursive: true, force: true });
  return { seconds: result.seconds, rows: written.rows };
}

const [batchEngine, naiveEngine] = await Promise.all([
  createTransformersEngine({ model: modelDir, device: 'cpu' }),
  createTransformersEngine({ model: modelDir, device: 'cpu', promptCache: false }),
]);
// Warm both engines on one job so session start-up is not timed.
const warm: JobPlan = { jobs: sorted.jobs.slice(0, 1), unavailable: [] };
await timed(batchEngine, warm);
await timed(naiveEngine, warm);
const runs: { batch?: EvalPairRow[]; naive?: EvalPairRow[] } = {};
const times = await interleave(
  ROUNDS,
  async () => {
    const { seconds, rows } = await timed(batchEngine, sorted);
    runs.batch = rows;
    return seconds;
  },
  async () => {
    const { seconds, rows } = await timed(naiveEngine, unsorted);
    runs.naive = rows;
    return seconds;
  },
);
await Promise.all([batchEngine.dispose(), naiveEngine.dispose()]);

const naiveByKey = new Map((runs.naive ?? []).map((row) => [row.key, row]));
let maxDiff = 0;
for (const row of runs.batch ?? []) {
  const other = naiveByKey.get(row.key);
  if (row.ok && other?.ok) maxDiff = Math.max(maxDiff, Math.abs((row.scores.chosen ?? 0) - (other.scores.chosen ?? 0)), Math.abs((row.scores.rejected ?? 0) - (other.scores.rejected ?? 0)));
}
const jobs = sorted.jobs.length;
const rates = { batch: ratioSpread(times.a.map((seconds) => jobs / seconds)), naive: ratioSpread(times.b.map((seconds) => jobs / seconds)) };
const { median: speedup, ...speedupSpread } = ratioSpread(times.a.map((seconds, i) => (times.b[i] as number) / seconds));
console.log(`model ${modelDir} (${JSON.stringify(MODEL_SIZES)}), ${jobs} (prefix, pair) jobs: ${pairs.length} test pairs × ${prefixes.join(', ')}; ${ROUNDS} rounds interleaved`);
console.log(`batch (sorted, prompt once): median ${rates.batch.median} pairs/s (range ${rates.batch.min}–${rates.batch.max})`);
console.log(`naive (dataset order, from scratch): median ${rates.naive.median} pairs/s (range ${rates.naive.min}–${rates.naive.max})`);
console.log(`speedup per round: median ${speedup}, quartiles ${speedupSpread.q1}–${speedupSpread.q3}, range ${speedupSpread.min}–${speedupSpread.max}`);
console.log(`max |score difference| between the two paths: ${maxDiff.toExponential(2)}`);
console.log(
  JSON.stringify({
    batch_pairs_per_s: rates.batch.median,
    naive_pairs_per_s: rates.naive.median,
    speedup,
    speedup_spread: speedupSpread,
    max_abs_score_diff: Number(maxDiff.toExponential(2)),
  }),
);
