/**
 * The single-elimination bracket over the k diverse candidates (spec §2.10–2.11): with k = 4 it is
 * candidate 0 vs 1, 2 vs 3, then the two winners, exactly the pairs the authors' toposort-driven
 * selection produces. y_w is the bracket winner; y_l is drawn uniformly (seeded) from the other k − 1
 * candidates, whatever round they lost in (the authors' `yl_strategy="random"`).
 *
 * Generalised to any power of two: level 0 pairs (0,1), (2,3), …; each later level pairs the previous
 * level's winners in match order; log2(k) levels, k − 1 matches. Also builds the authors' record
 * fields: `pairwise_comparisons` (winner index → beaten indices, every index present) and the
 * `raw_completions` key "{w}_beats_{l}".
 */
import type { Rng } from '../random.ts';

export interface MatchOutcome {
  level: number;
  /** Candidate indices in bracket order (the authors' output_1, output_2). */
  a: number;
  b: number;
  winner: number;
}

export function isPowerOfTwo(k: number): boolean {
  return Number.isInteger(k) && k >= 2 && (k & (k - 1)) === 0;
}

export function bracketLevelCount(k: number): number {
  if (!isPowerOfTwo(k)) throw new RangeError(`A single-elimination bracket needs a power of two candidates (2, 4, 8, …); got ${k}.`);
  return Math.log2(k);
}

/** The matches of `level`, given every earlier outcome of this row (in any order). */
export function levelMatches(k: number, level: number, outcomes: readonly MatchOutcome[]): { a: number; b: number }[] {
  const levels = bracketLevelCount(k);
  if (!Number.isInteger(level) || level < 0 || level >= levels) throw new RangeError(`Bracket level ${level} is outside 0..${levels - 1}.`);
  let entrants = Array.from({ length: k }, (_, index) => index);
  for (let earlier = 0; earlier < level; earlier++) {
    entrants = pairs(entrants).map(({ a, b }) => {
      const outcome = outcomes.find((o) => o.level === earlier && o.a === a && o.b === b);
      if (!outcome) throw new RangeError(`Level ${level} needs the outcome of ${a} vs ${b} (level ${earlier}).`);
      return outcome.winner;
    });
  }
  return pairs(entrants);
}

function pairs(entrants: readonly number[]): { a: number; b: number }[] {
  const out: { a: number; b: number }[] = [];
  for (let i = 0; i + 1 < entrants.length; i += 2) out.push({ a: entrants[i] as number, b: entrants[i + 1] as number });
  return out;
}

/** The winner of the final, once every level is decided. */
export function bracketWinner(k: number, outcomes: readonly MatchOutcome[]): number {
  const last = bracketLevelCount(k) - 1;
  const [final] = levelMatches(k, last, outcomes);
  const outcome = final && outcomes.find((o) => o.level === last && o.a === final.a && o.b === final.b);
  if (!outcome) throw new RangeError('The final has not been decided.');
  return outcome.winner;
}

/** y_l: a uniform draw among the candidates other than the winner. */
export function chooseLoser(k: number, winner: number, rng: Rng): number {
  const others = Array.from({ length: k }, (_, index) => index).filter((index) => index !== winner);
  return others[rng.int(0, others.length - 1)] as number;
}

/** The authors' judging graph: every candidate index → the indices it beat (JSON object keys are strings). */
export function pairwiseComparisons(k: number, outcomes: readonly MatchOutcome[]): Record<string, number[]> {
  const graph: Record<string, number[]> = {};
  for (let index = 0; index < k; index++) graph[String(index)] = [];
  for (const { a, b, winner } of outcomes) graph[String(winner)]?.push(winner === a ? b : a);
  return graph;
}

export function beatsKey(winner: number, loser: number): string {
  return `${winner}_beats_${loser}`;
}
