/**
 * bench:score — our scorer (shared prompt computed once, its KV cache reused, logits only where
 * scored) against a reward-bench-style scorer (each continuation a full sequence from scratch,
 * logits everywhere) on the same Transformers.js engine and the same generated model, in one
 * run. Pairs carry a persona-length prefix (~250 words) and Zephyr-length answers (~300
 * tokens). Timings are noisy here, so the two paths are interleaved pair by pair (interleave.ts)
 * over BENCH_ROUNDS passes (4) and the speedup is the median of the per-pair ratios, with its
 * spread. Last line: {"speedup_vs_naive": median, "speedup_vs_naive_spread": {min, q1, q3, max,
 * rounds}, "forward_tokens_over_min": y}.
 */
import { mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { applyPrefix } from '../../src/core/prefixes.ts';
import { scorePair, type PairToScore } from '../../src/core/scorer.ts';
import { createRng, type Rng } from '../../src/core/random.ts';
import type { Engine, ScoreRequest, ScoreResult } from '../../src/core/engine.ts';
import { createTransformersEngine } from '../../src/engines/transformers.ts';
import { makeTinyModel } from '../tinyModel/makeTinyModel.ts';
import { benchRounds, interleave, ratioSpread } from './interleave.ts';

const MODEL_SIZES = { hidden: 256, layers: 4, heads: 8, kvHeads: 4, intermediate: 688 };
const PAIRS = Number(process.env.BENCH_PAIRS ?? 6);
const ROUNDS = benchRounds(4);
const WORDS = `the a of to and in that is for it as with be on not this but by from they we say her she or an will my one all would there their what so up out if about who get which go me when make can like time no just him know take people into year your good some could them see other than then now look only come its over think also back after use two how our work first well way even new want because any these give day most us`.split(' ');

function prose(rng: Rng, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[rng.int(0, WORDS.length - 1)] as string);
  return `${out.join(' ')}.`;
}

function makePairs(): PairToScore[] {
  const rng = createRng(2025);
  return Array.from({ length: PAIRS }, (_, i) => ({
    id: `bench-${i}`,
    userContent: applyPrefix({ kind: 'persona', text: prose(rng, 250) }, `Question ${i}: ${prose(rng, 20)}`),
    chosen: prose(rng, 280),
    rejected: prose(rng, 280),
  }));
}

/** Counts what the engine ran against the floor |prompt| + |chosen| + |rejected|. */
function counting(engine: Engine): { engine: Engine; forwarded: () => number; floor: () => number } {
  let forwarded = 0;
  let floor = 0;
  const score = async (request: ScoreRequest): Promise<ScoreResult> => {
    const result = await engine.score(request);
    forwarded += result.forwardTokens ?? Number.NaN;
    floor += request.promptIds.length + request.continuations.reduce((sum, c) => sum + c.length, 0);
    return result;
  };
  return { engine: { ...engine, info: engine.info, tokenize: (t) => engine.tokenize(t), score }, forwarded: () => forwarded, floor: () => floor };
}

/** Scores one pair, returning its chosen and rejected scores. */
async function scoreOne(engine: Engine, pair: PairToScore): Promise<[number, number]> {
  const result = await scorePair(engine, pair, { convention: 'authors', aggregation: 'mean' });
  return [result.chosen.score, result.rejected.score];
}

const modelDir = resolve('.cache', `bench-llama-h${MODEL_SIZES.hidden}-l${MODEL_SIZES.layers}`);
if (!existsSync(join(modelDir, 'onnx', 'model.onnx'))) {
  await mkdir(modelDir, { recursive: true });
  await makeTinyModel({ outDir: modelDir, seed: 1, sizes: MODEL_SIZES });
}
const [ours, naive] = await Promise.all([
  createTransformersEngine({ model: modelDir, device: 'cpu' }),
  createTransformersEngine({ model: modelDir, device: 'cpu', promptCache: false }),
]);
const pairs = makePairs();
// Warm both paths once so session start-up is not timed.
await scoreOne(ours, pairs[0] as PairToScore);
await scoreOne(naive, pairs[0] as PairToScore);
const counted = { ours: counting(ours), naive: counting(naive) };
const steps = Array.from({ length: ROUNDS * pairs.length }, (_, i) => pairs[i % pairs.length] as PairToScore);
const scores = { ours: [] as number[], naive: [] as number[] };
const times = await interleave(
  steps.length,
  async (step) => void scores.ours.push(...(await scoreOne(counted.ours.engine, steps[step] as PairToScore))),
  async (step) => void scores.naive.push(...(await scoreOne(counted.naive.engine, steps[step] as PairToScore))),
);
await Promise.all([ours.dispose(), naive.dispose()]);

const speedup = ratioSpread(times.a.map((seconds, i) => (times.b[i] as number) / seconds));
const total = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0);
const maxDiff = Math.max(...scores.ours.map((score, i) => Math.abs(score - (scores.naive[i] as number))));
const tokensPerPair = counted.ours.floor() / steps.length;
console.log(`model ${modelDir} (${JSON.stringify(MODEL_SIZES)}), ${pairs.length} pairs × ${ROUNDS} rounds interleaved, ~${tokensPerPair.toFixed(0)} tokens per pair (prompt + both answers)`);
console.log(`ours : ${(steps.length / total(times.a)).toFixed(3)} pairs/s, ${(counted.ours.forwarded() / steps.length).toFixed(0)} token-forwards/pair`);
console.log(`naive: ${(steps.length / total(times.b)).toFixed(3)} pairs/s, ${(counted.naive.forwarded() / steps.length).toFixed(0)} token-forwards/pair`);
console.log(`speedup per pair: median ${speedup.median}, quartiles ${speedup.q1}–${speedup.q3}, range ${speedup.min}–${speedup.max}`);
console.log(`max |score difference| between the two paths: ${maxDiff.toExponential(2)}`);
const { median, ...spread } = speedup;
console.log(JSON.stringify({ speedup_vs_naive: median, speedup_vs_naive_spread: spread, forward_tokens_over_min: Number((counted.ours.forwarded() / counted.ours.floor()).toFixed(4)) }));
