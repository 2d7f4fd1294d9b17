/**
 * bench:eval — pairs per second of `eval`'s batch path against the naive per-pair path, on the
 * same generated model and the same jobs, both through the real runner (rows appended and fsynced):
 *   batch: jobs sorted longest first, the engine computes each pair's shared prompt once and
 *          reuses its KV cache for both answers (promptCache on);
 *   naive: jobs in dataset order, each answer scored as a full sequence from scratch
 *          (promptCache: false), the reward-bench way.
 * The dataset is the eval fixture with persona-length prefixes (persona, few-shot) on a hidden-256,
 * 4-layer Llama. Timings are noisy on shared machines, so this reports what one run measured and
 * never asserts. The engine scores one pair at a time, so sorting changes when a too-long pair
 * fails (first) and what the ETA means (an upper bound), not throughput: the speedup is the prompt
 * cache. Last line: {"batch_pairs_per_s", "naive_pairs_per_s", "speedup", "max_abs_score_diff"}.
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

const MODEL_SIZES = { hidden: 256, layers: 4, heads: 8, kvHeads: 4, intermediate: 688 };
const TEST_PAIRS_PER_TYPE = Number(process.env.BENCH_TEST_PER_TYPE ?? 2);

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
const batch = await timed(batchEngine, sorted);
const naive = await timed(naiveEngine, unsorted);
await Promise.all([batchEngine.dispose(), naiveEngine.dispose()]);

const naiveByKey = new Map(naive.rows.map((row) => [row.key, row]));
let maxDiff = 0;
for (const row of batch.rows) {
  const other = naiveByKey.get(row.key);
  if (row.ok && other?.ok) maxDiff = Math.max(maxDiff, Math.abs((row.scores.chosen ?? 0) - (other.scores.chosen ?? 0)), Math.abs((row.scores.rejected ?? 0) - (other.scores.rejected ?? 0)));
}
const jobs = sorted.jobs.length;
const batchRate = jobs / batch.seconds;
const naiveRate = jobs / naive.seconds;
console.log(`model ${modelDir} (${JSON.stringify(MODEL_SIZES)}), ${jobs} (prefix, pair) jobs: ${pairs.length} test pairs × ${prefixes.join(', ')}`);
console.log(`batch (sorted, prompt once): ${batchRate.toFixed(3)} pairs/s (${batch.seconds.toFixed(2)} s)`);
console.log(`naive (dataset order, from scratch): ${naiveRate.toFixed(3)} pairs/s (${naive.seconds.toFixed(2)} s)`);
console.log(`max |score difference| between the two paths: ${maxDiff.toExponential(2)}`);
console.log(
  JSON.stringify({
    batch_pairs_per_s: Number(batchRate.toFixed(3)),
    naive_pairs_per_s: Number(naiveRate.toFixed(3)),
    speedup: Number((batchRate / naiveRate).toFixed(3)),
    max_abs_score_diff: Number(maxDiff.toExponential(2)),
  }),
);
