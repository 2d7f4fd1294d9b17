/**
 * Timing two paths on a shared, noisy machine: interleaved, A then B, then B then A, round after
 * round, so load from other processes falls on both alike; summarised as the median of the
 * per-round ratios with their spread, never as one total against another (a busy neighbour during
 * one path's whole run once turned a 1.8× speedup into 0.8×).
 */
import { quantile } from '../../src/core/stats.ts';

export interface RoundTimes {
  /** Seconds per round, in round order. */
  a: number[];
  b: number[];
}

/** The median of per-round ratios with their spread: quartiles and extremes over `rounds`. */
export interface RatioSpread {
  median: number;
  q1: number;
  q3: number;
  min: number;
  max: number;
  rounds: number;
}

/** Rounds of the benchmarks: BENCH_ROUNDS, or `fallback`. */
export function benchRounds(fallback: number): number {
  const rounds = Number(process.env.BENCH_ROUNDS ?? fallback);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`BENCH_ROUNDS must be a positive whole number, got ${process.env.BENCH_ROUNDS}.`);
  return rounds;
}

/** A path run once; it may return the seconds it measured itself (its timed part), else its wall time counts. */
export type TimedRun = (round: number) => Promise<number | void>;

async function seconds(run: TimedRun, round: number): Promise<number> {
  const started = performance.now();
  const measured = await run(round);
  return typeof measured === 'number' ? measured : (performance.now() - started) / 1000;
}

/**
 * Runs `a` and `b` once per round, `round` passed to both, alternating which goes first unless
 * `b` needs its round's `a` (`alternate: false`: A B A B …).
 */
export async function interleave(rounds: number, a: TimedRun, b: TimedRun, { alternate = true } = {}): Promise<RoundTimes> {
  const times: RoundTimes = { a: [], b: [] };
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0 || !alternate) {
      times.a.push(await seconds(a, round));
      times.b.push(await seconds(b, round));
    } else {
      times.b.push(await seconds(b, round));
      times.a.push(await seconds(a, round));
    }
  }
  return times;
}

/** Summarises per-round values (e.g. b[i] / a[i]), rounded to `digits` decimals. */
export function ratioSpread(ratios: readonly number[], digits = 3): RatioSpread {
  const round = (value: number) => Number(value.toFixed(digits));
  return {
    median: round(quantile(ratios, 0.5)),
    q1: round(quantile(ratios, 0.25)),
    q3: round(quantile(ratios, 0.75)),
    min: round(Math.min(...ratios)),
    max: round(Math.max(...ratios)),
    rounds: ratios.length,
  };
}
