import { describe, expect, it } from 'vitest';
import { agreementRate, cohenKappa, krippendorffAlpha, multiAgreement, pairAgreement, type Code } from '../../src/core/agreement.ts';
import { bootstrapInterval } from '../../src/core/bootstrap.ts';
import { bootstrapMeanInterval } from '../../src/core/stats.ts';

const codes = (values: readonly (number | string | null)[]): Code[] => values.map((value) => (value === null ? null : String(value)));

describe('cohenKappa', () => {
  it('matches a hand-computed 2×2 table', () => {
    // 10 units: both "a" on 4, both "b" on 3, a/b on 2, b/a on 1.
    // p_o = 7/10; coder 1 says a 6 times, coder 2 says a 5 times: p_e = 0.6·0.5 + 0.4·0.5 = 0.5;
    // κ = (0.7 − 0.5) / (1 − 0.5) = 0.4.
    const first = codes(['a', 'a', 'a', 'a', 'b', 'b', 'b', 'a', 'a', 'b']);
    const second = codes(['a', 'a', 'a', 'a', 'b', 'b', 'b', 'b', 'b', 'a']);
    expect(cohenKappa(first, second)).toBeCloseTo(0.4, 12);
    expect(agreementRate(first, second)).toBeCloseTo(0.7, 12);
  });

  it('matches a hand-computed 3-category table and skips units either coder left unlabelled', () => {
    // Shared units (the last two are missing for one coder): x/x, x/y, y/y, z/z, z/x, y/y.
    // p_o = 4/6; coder 1: x 2, y 2, z 2; coder 2: x 2, y 3, z 1 → p_e = (2·2 + 2·3 + 2·1) / 36 = 1/3;
    // κ = (2/3 − 1/3) / (2/3) = 0.5.
    const first = codes(['x', 'x', 'y', 'z', 'z', 'y', null, 'x']);
    const second = codes(['x', 'y', 'y', 'z', 'x', 'y', 'y', null]);
    expect(cohenKappa(first, second)).toBeCloseTo(0.5, 12);
    expect(agreementRate(first, second)).toBeCloseTo(4 / 6, 12);
  });

  it('is 1 for identical labels, negative below chance, NaN when chance agreement is certain or nothing is shared', () => {
    expect(cohenKappa(codes(['a', 'b', 'a']), codes(['a', 'b', 'a']))).toBe(1);
    // Always opposite on a balanced table: p_o = 0, p_e = 0.5 → κ = −1.
    expect(cohenKappa(codes(['a', 'b', 'a', 'b']), codes(['b', 'a', 'b', 'a']))).toBe(-1);
    expect(cohenKappa(codes(['a', 'a']), codes(['a', 'a']))).toBeNaN();
    expect(cohenKappa(codes(['a', null]), codes([null, 'a']))).toBeNaN();
    expect(() => cohenKappa(codes(['a']), codes(['a', 'b']))).toThrow(RangeError);
  });
});

describe('krippendorffAlpha (nominal)', () => {
  it("gives 0.743 on Krippendorff's published 4-observer, 12-unit example with missing values", () => {
    // K. Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the nominal example
    // (α_nominal = 0.743); the same data are R DescTools' KrippAlpha "C" example and the test data
    // of the Python `krippendorff` package (pln-fing-udelar/fast-krippendorff, tests/test_krippendorff.py).
    // Hand check: 40 pairable values; Σ_{c≠k} o_ck = 10, Σ_{c≠k} n_c n_k = 1520 → α = 1 − 39·10/1520 = 0.743421.
    const data = [
      [1, 2, 3, 3, 2, 1, 4, 1, 2, null, null, null],
      [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, null, 3],
      [null, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, null],
      [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, null],
    ].map(codes);
    expect(krippendorffAlpha(data)).toBeCloseTo(0.743421052631579, 12);
  });

  it('matches the krippendorff package on its 3-coder, 15-unit nominal test and its string-label test', () => {
    const data = [
      [null, null, null, null, null, 3, 4, 1, 2, 1, 1, 3, 3, null, 3],
      [1, null, 2, 1, 3, 3, 4, 3, null, null, null, null, null, null, null],
      [null, null, 2, 1, 3, 4, 4, null, 2, 1, 1, 3, 3, null, 4],
    ].map(codes);
    expect(krippendorffAlpha(data)).toBeCloseTo(0.691358, 6);
    const labels = [
      ['pos', 'neg', 'neu', null],
      ['pos', 'neg', 'neu', 'pos'],
      ['pos', 'neg', 'pos', 'pos'],
    ];
    expect(krippendorffAlpha(labels)).toBeCloseTo(0.722222, 6);
  });

  it('matches a hand-computed binary table and equals 1 − D_o/D_e for two coders', () => {
    // Two coders, 4 units: a/a, a/b, b/b, b/b. Coincidences: o_aa = 2, o_ab = o_ba = 1, o_bb = 4; n_a = 3, n_b = 5, n = 8.
    // α = 1 − (n − 1)·(o_ab + o_ba) / (2·n_a·n_b) = 1 − 7·2/30 = 0.5333…
    expect(krippendorffAlpha([codes(['a', 'a', 'b', 'b']), codes(['a', 'b', 'b', 'b'])])).toBeCloseTo(1 - 14 / 30, 12);
    expect(krippendorffAlpha([codes(['a', 'a']), codes(['a', 'a'])])).toBeNaN();
    expect(krippendorffAlpha([codes(['a', null]), codes([null, 'b'])])).toBeNaN();
  });
});

describe('bootstrap intervals', () => {
  it('bootstrapInterval of the mean is bootstrapMeanInterval, draw for draw', () => {
    const values = [0.2, 0.9, 0.4, 0.65, 0.5, 0.7];
    const mean = (indices: readonly number[]) => indices.reduce((sum, index) => sum + (values[index] as number), 0) / indices.length;
    expect(bootstrapInterval(values.length, mean, { seed: 3, resamples: 400 })).toEqual(bootstrapMeanInterval(values, { seed: 3, resamples: 400 }));
  });

  it('pairAgreement and multiAgreement give the full-sample estimates inside seeded intervals', () => {
    const human = codes(['a', 'b', 'a', 'a', 'b', 'b', 'a', null, 'b', 'a', 'a', 'b']);
    const judge = codes(['a', 'b', 'b', 'a', 'b', 'a', 'a', 'a', 'b', 'a', 'b', 'b']);
    const pair = pairAgreement(human, judge, { seed: 5, resamples: 500 });
    expect(pair.units).toBe(11);
    expect(pair.rate.estimate).toBeCloseTo(agreementRate(human, judge), 12);
    expect(pair.kappa.estimate).toBeCloseTo(cohenKappa(human, judge), 12);
    for (const interval of [pair.rate, pair.kappa]) {
      expect(interval.lower).toBeLessThanOrEqual(interval.estimate);
      expect(interval.upper).toBeGreaterThanOrEqual(interval.estimate);
    }
    expect(pairAgreement(human, judge, { seed: 5, resamples: 500 })).toEqual(pair);
    const multi = multiAgreement([human, judge], { seed: 5, resamples: 500 });
    expect(multi).toMatchObject({ coders: 2, pairableUnits: 11 });
    expect(multi.alpha.estimate).toBeCloseTo(krippendorffAlpha([human, judge]), 12);
  });
});
