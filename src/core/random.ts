/**
 * Seeded randomness for everything that must be reproducible: shot selection, bootstrap
 * resampling, judge answer order, the tiny model's weights. One generator type, created from
 * an integer seed; every consumer records the seed it used.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export interface Rng {
  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  /** Uniform float in [0, 1). */
  float(): number;
}

export function createRng(seed: number): Rng {
  const generator = xoroshiro128plus(seed | 0);
  return {
    int: (min, max) => uniformInt(generator, min, max),
    float: () => uniformFloat64(generator),
  };
}

/** Fisher–Yates shuffle into a new array. */
export function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** `count` distinct items drawn without replacement, in draw order (all of them when fewer exist). */
export function sampleWithoutReplacement<T>(items: readonly T[], count: number, rng: Rng): T[] {
  return shuffled(items, rng).slice(0, Math.min(count, items.length));
}

/** A standard normal draw (Box–Muller), for weight initialisation. */
export function normal(rng: Rng): number {
  const u = 1 - rng.float();
  const v = rng.float();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
