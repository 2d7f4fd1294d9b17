/**
 * bench:score — our scorer (shared prompt computed once, its KV cache reused, logits only where
 * scored) against a reward-bench-style scorer (each continuation a full sequence from scratch,
 * logits everywhere) on the same Transformers.js engine and the same generated model, in one
 * run. Pairs carry a persona-length prefix (~250 words) and Zephyr-length answers (~300
 * tokens). Timings are noisy here, so it reports ratios measured in one run, never a verdict.
 * Last line: {"speedup_vs_naive": x, "forward_tokens_over_min": y}.
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

const MODEL_SIZES = { hidden: 256, layers: 4, heads: 8, kvHeads: 4, intermediate: 688 };
const PAIRS = Number(process.env.BENCH_PAIRS ?? 6);
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

async function run(engine: Engine, pairs: PairToScore[]): Promise<{ seconds: number; forwarded: number; floor: number; scores: number[] }> {
  const counted = counting(engine);
  const started = performance.now();
  const scores: number[] = [];
  for (const pair of pairs) {
    const result = await scorePair(counted.engine, pair, { convention: 'authors', aggregation: 'mean' });
    scores.push(result.chosen.score, result.rejected.score);
  }
  return { seconds: (performance.now() - started) / 1000, forwarded: counted.forwarded(), floor: counted.floor(), scores };
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
await run(ours, pairs.slice(0, 1));
await run(naive, pairs.slice(0, 1));
const a = await run(ours, pairs);
const b = await run(naive, pairs);
await Promise.all([ours.dispose(), naive.dispose()]);

const maxDiff = Math.max(...a.scores.map((score, i) => Math.abs(score - (b.scores[i] as number))));
const tokensPerPair = a.floor / pairs.length;
console.log(`model ${modelDir} (${JSON.stringify(MODEL_SIZES)}), ${pairs.length} pairs, ~${tokensPerPair.toFixed(0)} tokens per pair (prompt + both answers)`);
console.log(`ours : ${(pairs.length / a.seconds).toFixed(3)} pairs/s, ${(a.forwarded / pairs.length).toFixed(0)} token-forwards/pair`);
console.log(`naive: ${(pairs.length / b.seconds).toFixed(3)} pairs/s, ${(b.forwarded / pairs.length).toFixed(0)} token-forwards/pair`);
console.log(`max |score difference| between the two paths: ${maxDiff.toExponential(2)}`);
console.log(JSON.stringify({ speedup_vs_naive: Number((b.seconds / a.seconds).toFixed(3)), forward_tokens_over_min: Number((a.forwarded / a.floor).toFixed(4)) }));
