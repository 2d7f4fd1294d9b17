/**
 * The benchmarks' timing rule (scripts/bench/interleave.ts): the two paths alternate which goes
 * first round by round (or keep A before B when B needs A), a path's own measurement wins over
 * wall time, and the summary is the median of per-round ratios with quartiles and extremes.
 */
import { describe, expect, it } from 'vitest';
import { interleave, ratioSpread } from '../../scripts/bench/interleave.ts';

describe('interleave', () => {
  it('alternates A B, B A, … and uses the seconds a path reports', async () => {
    const order: string[] = [];
    const times = await interleave(
      4,
      async (round) => {
        order.push(`a${round}`);
        return round + 1;
      },
      async (round) => {
        order.push(`b${round}`);
        return 10 * (round + 1);
      },
    );
    expect(order).toEqual(['a0', 'b0', 'b1', 'a1', 'a2', 'b2', 'b3', 'a3']);
    expect(times).toEqual({ a: [1, 2, 3, 4], b: [10, 20, 30, 40] });
  });

  it('keeps A before B in every round when asked', async () => {
    const order: string[] = [];
    await interleave(3, async (round) => void order.push(`a${round}`), async (round) => void order.push(`b${round}`), { alternate: false });
    expect(order).toEqual(['a0', 'b0', 'a1', 'b1', 'a2', 'b2']);
  });

  it('summarises ratios by their median and spread', () => {
    expect(ratioSpread([2, 1, 4, 3])).toEqual({ median: 2.5, q1: 1.75, q3: 3.25, min: 1, max: 4, rounds: 4 });
  });
});
