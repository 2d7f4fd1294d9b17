import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aggregate, Aggregation, verdict } from '../../src/core/aggregate.ts';

// Log-probs are ≤ 0 and, for real answers, rarely below −50 per token.
const logprob = fc.double({ min: -50, max: 0, noNaN: true });
const logprobs = fc.array(logprob, { minLength: 1, maxLength: 200 });

// Rounding in a running sum can put a mean of equal values one ulp outside [min, max].
const slack = (scale: number) => 1e-12 * Math.max(1, Math.abs(scale));

describe('aggregate', () => {
  it('computes the three modes on a hand example', () => {
    // [−1, −2, −3]: sum −6; mean −6/3 = −2; norm −√(1 + 4 + 9) = −√14.
    expect(aggregate([-1, -2, -3], 'sum')).toBe(-6);
    expect(aggregate([-1, -2, -3], 'mean')).toBe(-2);
    expect(aggregate([-1, -2, -3], 'norm')).toBeCloseTo(-3.7416573867739413, 15);
  });

  it('rejects an empty answer and NaN log-probs with a RangeError', () => {
    for (const how of Aggregation.options) {
      expect(() => aggregate([], how)).toThrow(RangeError);
      expect(() => aggregate([], how)).toThrow(/no log-probs/);
      expect(() => aggregate([-1, Number.NaN], how)).toThrow(/index 1 is NaN/);
    }
  });

  it('parses the mode names with zod', () => {
    expect(Aggregation.parse('mean')).toBe('mean');
    expect(() => Aggregation.parse('avg')).toThrow();
  });

  it('mean lies between min and max', () => {
    fc.assert(
      fc.property(logprobs, (values) => {
        const mean = aggregate(values, 'mean');
        expect(mean).toBeGreaterThanOrEqual(Math.min(...values) - slack(mean));
        expect(mean).toBeLessThanOrEqual(Math.max(...values) + slack(mean));
      }),
    );
  });

  it('sum equals mean × n', () => {
    fc.assert(
      fc.property(logprobs, (values) => {
        const sum = aggregate(values, 'sum');
        expect(Math.abs(sum - aggregate(values, 'mean') * values.length)).toBeLessThanOrEqual(slack(sum) * values.length);
      }),
    );
  });

  it('norm is ≤ 0 and at least as negative as the sum (‖x‖₂ ≤ ‖x‖₁)', () => {
    fc.assert(
      fc.property(logprobs, (values) => {
        const norm = aggregate(values, 'norm');
        expect(norm).toBeLessThanOrEqual(0);
        expect(norm).toBeGreaterThanOrEqual(aggregate(values, 'sum') - slack(norm));
      }),
    );
  });
});

describe('verdict', () => {
  it('is correct only when chosen scores strictly higher', () => {
    expect(verdict(-1.2, -1.5)).toEqual({ correct: true, tie: false, margin: expect.closeTo(0.3, 12) });
    expect(verdict(-1.5, -1.2)).toEqual({ correct: false, tie: false, margin: expect.closeTo(-0.3, 12) });
  });

  it('counts a tie as wrong (a ≥ rule would call it correct)', () => {
    // Under the wrong rule, chosen ≥ rejected, this pair would come out correct and fail here.
    expect(verdict(-1.5, -1.5)).toEqual({ correct: false, tie: true, margin: 0 });
  });

  it('treats two −∞ scores as a tie with margin 0, not NaN', () => {
    expect(verdict(-Infinity, -Infinity)).toEqual({ correct: false, tie: true, margin: 0 });
  });

  it('rejects NaN scores', () => {
    expect(() => verdict(Number.NaN, -1)).toThrow(RangeError);
  });

  it('swapping chosen and rejected flips correct, except for ties where both are losses', () => {
    const score = fc.oneof(fc.double({ min: -50, max: 0, noNaN: true }), fc.constantFrom(-1, -2));
    fc.assert(
      fc.property(score, score, (chosen, rejected) => {
        const forward = verdict(chosen, rejected);
        const swapped = verdict(rejected, chosen);
        expect(swapped.tie).toBe(forward.tie);
        if (forward.tie) {
          expect([forward.correct, swapped.correct]).toEqual([false, false]);
        } else {
          expect(swapped.correct).toBe(!forward.correct);
          expect(swapped.margin).toBe(-forward.margin);
        }
      }),
    );
  });
});
