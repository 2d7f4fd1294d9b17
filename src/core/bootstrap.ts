/**
 * The seeded percentile bootstrap behind every interval over units (personas, pairs): resample
 * the units with replacement, compute the statistic on each resample, and read the interval off
 * the quantiles of those values with numpy's default linear interpolation, as seaborn does for
 * the paper's error bars. Seeded, so the same call gives the same interval (the paper's were
 * unseeded); the same seed over the same number of units draws the same resamples, which makes
 * intervals of different statistics over the same units paired.
 */
import { assertConfidence, type Interval } from './interval.ts';
import { createRng } from './random.ts';

export interface BootstrapOptions {
  seed: number;
  /** 1000, like seaborn's `n_boot`, which made the paper's error bars. */
  resamples?: number;
  confidence?: number;
}

/**
 * The statistic over all `count` units, with a percentile interval from `resamples` resamples.
 * `statistic` receives the indices of a resample (with repeats). A resample whose statistic is
 * undefined (NaN: a κ whose resample holds one category only) is left out of the quantiles; when
 * every one is, the bounds are NaN.
 */
export function bootstrapInterval(count: number, statistic: (indices: readonly number[]) => number, { seed, resamples = 1000, confidence = 0.95 }: BootstrapOptions): Interval {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`bootstrapInterval: needs at least one unit, got ${count}.`);
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new RangeError(`bootstrapInterval: resamples must be a positive integer, got ${resamples}.`);
  }
  assertConfidence('bootstrapInterval', confidence);
  const rng = createRng(seed);
  const indices = new Array<number>(count);
  const values: number[] = [];
  for (let resample = 0; resample < resamples; resample++) {
    for (let i = 0; i < count; i++) indices[i] = rng.int(0, count - 1);
    const value = statistic(indices);
    if (Number.isFinite(value)) values.push(value);
  }
  const sorted = Float64Array.from(values).sort();
  const tail = (1 - confidence) / 2;
  const everyIndex = Array.from({ length: count }, (_, i) => i);
  return {
    estimate: statistic(everyIndex),
    lower: sorted.length === 0 ? NaN : quantileOfSorted(sorted, tail),
    upper: sorted.length === 0 ? NaN : quantileOfSorted(sorted, 1 - tail),
  };
}

/** numpy's default ("linear") quantile of already-sorted values. */
export function quantileOfSorted(sorted: Float64Array, probability: number): number {
  const position = probability * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  const lowValue = sorted[below] as number;
  return lowValue + (position - below) * ((sorted[above] as number) - lowValue);
}
