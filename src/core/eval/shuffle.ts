/**
 * The shuffled-prefix assignment of Appendix L (spec §3.5): each persona receives another
 * persona's prefix. The authors draw a random permutation and re-draw while MORE than one
 * position is fixed, so one persona may keep its own prefix; `maxFixedPoints: 1` reproduces
 * that, `0` gives a strict derangement (used for "ROUGE against a random persona's gold").
 * Seeded, and one assignment serves every prefix type, as in the authors' code.
 */
import { AppError } from '../errors.ts';
import { createRng, shuffled } from '../random.ts';

export interface ShuffleOptions {
  seed: number;
  /** The authors allow 1. */
  maxFixedPoints?: number;
}

/** The authors' rule, the default. */
export const AUTHORS_MAX_FIXED_POINTS = 1;

// A permutation of n ≥ 2 has at most one fixed point with probability ≥ 1/2 (exactly 1/2 at n = 2,
// about 0.74 for large n), and none with probability ≥ 1/3 for n ≥ 3: 200 draws fail with
// probability below 1e-35, so reaching the limit means the request was impossible.
const MAX_DRAWS = 200;

/** `{ persona: persona whose prefix it receives }`, over `names` (distinct). */
export function shuffleAssignment(names: readonly string[], { seed, maxFixedPoints = AUTHORS_MAX_FIXED_POINTS }: ShuffleOptions): Record<string, string> {
  if (new Set(names).size !== names.length) throw new AppError('invalid-input', 'shuffleAssignment: persona names must be distinct.');
  if (!Number.isInteger(maxFixedPoints) || maxFixedPoints < 0) {
    throw new RangeError(`shuffleAssignment: maxFixedPoints must be a non-negative integer, got ${maxFixedPoints}.`);
  }
  // Every n ≥ 2 has a derangement; a single persona can only keep its own prefix.
  if (names.length === 1 && maxFixedPoints === 0) {
    throw new AppError('invalid-input', 'Cannot give a single persona another persona\'s prefix: the dataset needs at least two personas.');
  }
  const rng = createRng(seed);
  for (let draw = 0; draw < MAX_DRAWS; draw++) {
    const permutation = shuffled(names, rng);
    const fixed = permutation.filter((name, i) => name === names[i]).length;
    if (fixed <= maxFixedPoints) return Object.fromEntries(names.map((name, i) => [name, permutation[i] as string]));
  }
  throw new AppError('internal', `shuffleAssignment: no permutation of ${names.length} names with at most ${maxFixedPoints} fixed points in ${MAX_DRAWS} draws.`);
}

export function fixedPoints(assignment: Readonly<Record<string, string>>): string[] {
  return Object.entries(assignment)
    .filter(([name, other]) => name === other)
    .map(([name]) => name);
}
