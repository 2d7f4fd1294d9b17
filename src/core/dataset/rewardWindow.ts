/**
 * The generic-reward filter (spec §2.7, paper App. B.2): keep the `window` candidates whose rewards
 * lie closest together, so that no candidate wins the judge for being generically better.
 *
 * Rewards are sorted ascending; among the contiguous windows of `window` sorted rewards, the one with
 * the smallest range (last − first) wins, the first on ties; its members are kept in ascending reward
 * order. As in the authors' code (`np.convolve` over rewards shifted by their minimum), ranges are
 * computed on the shifted rewards, so float ties break the same way.
 *
 * Decisions: the sort is stable (equal rewards keep candidate order; numpy's default argsort is not
 * stable, so the authors' order among equal rewards was arbitrary). With `window` or fewer candidates
 * (the authors' behaviour is undefined there, spec §7) all are kept, sorted.
 */

export interface RewardWindow {
  /** Candidate indices kept, ascending by reward. */
  indices: number[];
  /** max − min reward over the kept candidates. */
  range: number;
  /** Position of the window in the sorted order. */
  start: number;
}

export function selectRewardWindow(rewards: readonly number[], window: number): RewardWindow {
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`The reward window must be a positive integer; got ${window}.`);
  if (rewards.some((reward) => !Number.isFinite(reward))) throw new RangeError('Every reward must be a finite number.');
  if (rewards.length === 0) return { indices: [], range: 0, start: 0 };
  const order = rewards.map((reward, index) => ({ reward, index })).sort((a, b) => a.reward - b.reward || a.index - b.index);
  const minimum = Math.min(...rewards);
  const shifted = order.map(({ reward }) => reward - minimum);
  const size = Math.min(window, order.length);
  let best = 0;
  let bestRange = Infinity;
  for (let start = 0; start + size <= order.length; start++) {
    const range = (shifted[start + size - 1] as number) - (shifted[start] as number);
    if (range < bestRange) {
      best = start;
      bestRange = range;
    }
  }
  const kept = order.slice(best, best + size);
  return {
    indices: kept.map(({ index }) => index),
    range: kept.length === 0 ? 0 : (kept.at(-1)?.reward as number) - (kept[0]?.reward as number),
    start: best,
  };
}
