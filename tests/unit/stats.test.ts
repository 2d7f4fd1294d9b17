import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  accuracyTable,
  bootstrapMeanInterval,
  NO_PERSONA,
  normalQuantile,
  orderAgreement,
  pearson,
  quantile,
  regularizedIncompleteBeta,
  wilsonInterval,
  winRateMatrix,
  type Judgement,
  type GradedPair,
} from '../../src/core/stats.ts';

// z for a two-sided 95% interval: scipy.special.ndtri(0.975) = 1.959963984540054, z² = 3.8414588206941254.
const Z95 = 1.959963984540054;

describe('normalQuantile', () => {
  it('matches scipy.special.ndtri in the centre and both tails', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(Z95, 14);
    expect(normalQuantile(0.025)).toBeCloseTo(-Z95, 14);
    expect(normalQuantile(0.5)).toBe(0);
    expect(normalQuantile(0.95)).toBeCloseTo(1.6448536269514722, 14);
    expect(normalQuantile(1e-10)).toBeCloseTo(-6.361340902404056, 13);
    // Beyond r = 5 in AS 241's far-tail branch.
    expect(normalQuantile(1e-20)).toBeCloseTo(-9.262340089798409, 12);
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
    expect(() => normalQuantile(1.5)).toThrow(RangeError);
  });
});

describe('quantile', () => {
  it('matches numpy.quantile (linear) and ignores input order', () => {
    // numpy.quantile([4, 1, 3, 2], [0.25, 0.5, 0.75]) = [1.75, 2.5, 3.25]; numpy.median([3, 1, 2]) = 2.0
    expect([0.25, 0.5, 0.75].map((p) => quantile([4, 1, 3, 2], p))).toEqual([1.75, 2.5, 3.25]);
    expect(quantile([3, 1, 2], 0.5)).toBe(2);
    expect(quantile([10, 2, 33], 0)).toBe(2);
    expect(quantile([10, 2, 33], 1)).toBe(33);
    expect(quantile([], 0.5)).toBeNaN();
  });
});

describe('regularizedIncompleteBeta', () => {
  it('matches closed forms: I_x(1,1) = x, I_x(a,1) = xᵃ, I_x(1,b) = 1 − (1−x)ᵇ', () => {
    expect(regularizedIncompleteBeta(0.3, 1, 1)).toBeCloseTo(0.3, 14);
    expect(regularizedIncompleteBeta(0.3, 3, 1)).toBeCloseTo(0.027, 14);
    expect(regularizedIncompleteBeta(0.36, 1, 0.5)).toBeCloseTo(0.2, 14); // 1 − √0.64
    expect(regularizedIncompleteBeta(0, 2, 3)).toBe(0);
    expect(regularizedIncompleteBeta(1, 2, 3)).toBe(1);
  });

  it('matches scipy.special.betainc, including a 1e-21 tail', () => {
    // I_0.3(2, 3) = 1 − Σ_{k<2} C(4,k)·0.3ᵏ·0.7⁴⁻ᵏ = 1 − 0.2401 − 0.4116 = 0.3483.
    expect(regularizedIncompleteBeta(0.3, 2, 3)).toBeCloseTo(0.3483, 14);
    expect(regularizedIncompleteBeta(0.9, 0.5, 0.5)).toBeCloseTo(0.7951672353008665, 14);
    const tail = regularizedIncompleteBeta(0.628, 99, 0.5);
    expect(tail / 9.166426306539949e-22).toBeCloseTo(1, 10);
  });
});

describe('wilsonInterval', () => {
  it('gives [0.4902, 0.9433] for 8/10 at 95%', () => {
    // p̂ = 0.8, z²/n = 0.384146, shrink = 1.384146.
    // centre = (0.8 + 0.192073) / 1.384146 = 0.716740
    // half   = (1.959964 / 1.384146) · √(0.8·0.2/10 + 0.384146/40) = 1.416010 · √0.025604 = 0.226578
    // Cross-check: roots of (1 + z²/n)p² − (2p̂ + z²/n)p + p̂² = 0 are 0.4901624715, 0.9433178485.
    const interval = wilsonInterval(8, 10);
    expect(interval.estimate).toBe(0.8);
    expect(interval.lower).toBeCloseTo(0.4901624715366418, 12);
    expect(interval.upper).toBeCloseTo(0.9433178485456247, 12);
    expect(interval.lower.toFixed(4)).toBe('0.4902');
    expect(interval.upper.toFixed(4)).toBe('0.9433');
  });

  it('is not the Wald interval, which leaves [0, 1] at 8/10', () => {
    // Wald: 0.8 ± 1.959964·√(0.016) = 0.8 ± 0.247918 = [0.552082, 1.047918].
    const waldUpper = 0.8 + Z95 * Math.sqrt((0.8 * 0.2) / 10);
    expect(waldUpper).toBeCloseTo(1.0479180129218246, 12);
    const interval = wilsonInterval(8, 10);
    expect(Math.abs(interval.lower - 0.5520819870781755)).toBeGreaterThan(0.05);
    expect(Math.abs(interval.upper - waldUpper)).toBeGreaterThan(0.1);
  });

  it('handles the edges 0/10 and 10/10 exactly', () => {
    // 0/10: upper = (z²/n) / (1 + z²/n) = 0.384146 / 1.384146 = 0.277533; the lower bound is exactly 0.
    expect(wilsonInterval(0, 10)).toEqual({ estimate: 0, lower: 0, upper: expect.closeTo(0.2775327998628892, 12) });
    // 10/10 mirrors it: lower = 1 − 0.277533.
    expect(wilsonInterval(10, 10)).toEqual({ estimate: 1, lower: expect.closeTo(0.7224672001371114, 12), upper: 1 });
  });

  it('uses the requested confidence level', () => {
    // 90%: z = ndtri(0.95) = 1.6448536; roots of the same quadratic give [0.540793, 0.931442].
    const interval = wilsonInterval(8, 10, 0.9);
    expect(interval.lower).toBeCloseTo(0.5407928056874881, 12);
    expect(interval.upper).toBeCloseTo(0.9314420122624679, 12);
  });

  it('has no estimate and the whole unit interval when n = 0', () => {
    expect(wilsonInterval(0, 0)).toEqual({ estimate: Number.NaN, lower: 0, upper: 1 });
  });

  it('rejects impossible counts and confidence levels', () => {
    expect(() => wilsonInterval(11, 10)).toThrow(RangeError);
    expect(() => wilsonInterval(1.5, 10)).toThrow(RangeError);
    expect(() => wilsonInterval(1, 10, 1)).toThrow(RangeError);
  });

  it('stays inside [0, 1] with lower ≤ estimate ≤ upper', () => {
    const countsAndLevel = fc
      .integer({ min: 1, max: 2000 })
      .chain((n) => fc.tuple(fc.integer({ min: 0, max: n }), fc.constant(n), fc.double({ min: 0.5, max: 0.999, noNaN: true })));
    fc.assert(
      fc.property(countsAndLevel, ([successes, n, confidence]) => {
        const { estimate, lower, upper } = wilsonInterval(successes, n, confidence);
        expect(lower).toBeGreaterThanOrEqual(0);
        expect(upper).toBeLessThanOrEqual(1);
        expect(lower).toBeLessThanOrEqual(estimate);
        expect(estimate).toBeLessThanOrEqual(upper);
      }),
    );
  });
});

describe('bootstrapMeanInterval', () => {
  it('is deterministic for a seed and changes with the seed', () => {
    const values = [0.42, 0.5, 0.58, 0.61, 0.47, 0.53, 0.66, 0.39];
    const first = bootstrapMeanInterval(values, { seed: 7 });
    expect(bootstrapMeanInterval(values, { seed: 7 })).toEqual(first);
    expect(bootstrapMeanInterval(values, { seed: 8 })).not.toEqual(first);
    expect(first.estimate).toBeCloseTo(0.52, 14); // 4.16 / 8
    // Pins the resampling stream (createRng + draw order), so a change that would silently alter
    // recorded results fails here.
    expect(first.lower).toBeCloseTo(0.46121875, 14);
    expect(first.upper).toBeCloseTo(0.58125, 14);
  });

  it('puts a two-value sample at its extremes', () => {
    // Resample means of [0, 1] are 0, ½, 1 with probability ¼, ½, ¼: both 2.5% tails sit on a point mass.
    expect(bootstrapMeanInterval([0, 1], { seed: 1 })).toEqual({ estimate: 0.5, lower: 0, upper: 1 });
  });

  it('collapses to the value for a constant sample', () => {
    expect(bootstrapMeanInterval([0.6, 0.6, 0.6], { seed: 3 })).toEqual({ estimate: 0.6, lower: 0.6, upper: 0.6 });
  });

  it('approximates mean ± 1.96·SE on a large sample', () => {
    // 0..99: mean 49.5, population sd 28.866, SE 2.8866, so the interval is about [43.84, 55.16].
    const values = Array.from({ length: 100 }, (_, i) => i);
    const { lower, upper } = bootstrapMeanInterval(values, { seed: 2025, resamples: 4000 });
    expect(Math.abs(lower - 43.84)).toBeLessThan(0.6);
    expect(Math.abs(upper - 55.16)).toBeLessThan(0.6);
  });

  it('narrows with a lower confidence level', () => {
    const values = Array.from({ length: 30 }, (_, i) => (i * 7) % 11);
    const wide = bootstrapMeanInterval(values, { seed: 5, confidence: 0.95 });
    const narrow = bootstrapMeanInterval(values, { seed: 5, confidence: 0.5 });
    expect(narrow.upper - narrow.lower).toBeLessThan(wide.upper - wide.lower);
  });

  it('rejects empty and non-finite input', () => {
    expect(() => bootstrapMeanInterval([], { seed: 1 })).toThrow(RangeError);
    expect(() => bootstrapMeanInterval([1, Number.NaN], { seed: 1 })).toThrow(RangeError);
    expect(() => bootstrapMeanInterval([1], { seed: 1, resamples: 0 })).toThrow(RangeError);
  });

  it('contains the sample mean and repeats itself for a fixed seed', () => {
    const sample = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(sample, fc.integer(), (values, seed) => {
        const interval = bootstrapMeanInterval(values, { seed, resamples: 200 });
        // A resample mean that sums the same values in another order may differ in the last ulp.
        expect(interval.lower).toBeLessThanOrEqual(interval.estimate + 1e-12);
        expect(interval.estimate).toBeLessThanOrEqual(interval.upper + 1e-12);
        expect(bootstrapMeanInterval(values, { seed, resamples: 200 })).toEqual(interval);
      }),
      { numRuns: 200 },
    );
  });
});

describe('accuracyTable', () => {
  const outcomes = (persona: string | undefined, type: GradedPair['type'], correct: number, ties: number, wrong: number): GradedPair[] => [
    ...Array.from({ length: correct }, () => ({ persona, type, correct: true })),
    ...Array.from({ length: ties }, () => ({ persona, type, correct: false, tie: true })),
    ...Array.from({ length: wrong }, () => ({ persona, type, correct: false })),
  ];
  // Ada: personal 8/10 (one of the misses a tie), divergent 3/5. Bo: personal 5/10. One unlabelled pair, won.
  const rows = [
    ...outcomes('Ada', 'personal', 8, 1, 1),
    ...outcomes('Ada', 'divergent', 3, 0, 2),
    ...outcomes('Bo', 'personal', 5, 0, 5),
    ...outcomes(undefined, undefined, 1, 0, 0),
  ];
  const table = accuracyTable(rows, { seed: 11 });

  it('counts per persona × type with Wilson intervals', () => {
    const [ada, bo, unlabelled] = table.personas;
    expect(table.personas.map((p) => p.persona)).toEqual(['Ada', 'Bo', NO_PERSONA]);
    expect(ada?.byType.personal).toEqual({
      n: 10,
      correct: 8,
      ties: 1,
      accuracy: { estimate: 0.8, lower: expect.closeTo(0.4901624715, 9), upper: expect.closeTo(0.9433178485, 9) },
    });
    expect(ada?.byType.divergent?.accuracy.estimate).toBe(0.6);
    expect(Object.keys(ada?.byType ?? {})).toEqual(['personal', 'divergent']);
    // 5/10: symmetric, 0.5 ± 0.263407.
    expect(bo?.byType.personal?.accuracy.lower).toBeCloseTo(0.236593090512564, 12);
    expect(bo?.byType.divergent).toBeUndefined();
    expect(unlabelled?.byType).toEqual({ unspecified: expect.objectContaining({ n: 1, correct: 1 }) });
  });

  it('totals each persona size-weighted, like the authors’ combined accuracy', () => {
    // Ada: (8 + 3) / (10 + 5) = 11/15 = 0.7333, not the unweighted (0.8 + 0.6) / 2 = 0.7.
    expect(table.personas[0]?.total).toMatchObject({ n: 15, correct: 11, ties: 1 });
    expect(table.personas[0]?.total.accuracy.estimate).toBeCloseTo(11 / 15, 15);
  });

  it('summarises across personas: mean of persona accuracies, bootstrap CI, and the pooled rate', () => {
    const personal = table.byType.personal;
    // Mean over Ada and Bo: (0.8 + 0.5) / 2 = 0.65; pooled: 13/20 = 0.65 with Wilson [0.432854, 0.818808].
    expect(personal?.personas).toBe(2);
    expect(personal?.meanOfPersonas.estimate).toBeCloseTo(0.65, 15);
    expect(personal?.pooled.accuracy.lower).toBeCloseTo(0.43285427668523646, 12);
    expect(personal?.pooled.accuracy.upper).toBeCloseTo(0.8188081758989179, 12);
    // A bootstrap over two personas can only land on 0.5, 0.65 or 0.8.
    expect(personal?.meanOfPersonas.lower).toBeCloseTo(0.5, 15);
    expect(personal?.meanOfPersonas.upper).toBeCloseTo(0.8, 15);
    // One persona: the interval is that persona's accuracy.
    expect(table.byType.divergent?.meanOfPersonas).toEqual({ estimate: 0.6, lower: 0.6, upper: 0.6 });
    // Total: mean of (11/15, 5/10, 1/1) = 2.23333 / 3 = 0.744444, but pooled (11 + 5 + 1) / 26 = 0.653846.
    expect(table.total.personas).toBe(3);
    expect(table.total.meanOfPersonas.estimate).toBeCloseTo(0.7444444444444445, 14);
    expect(table.total.pooled.accuracy.estimate).toBeCloseTo(17 / 26, 15);
    expect(Object.keys(table.byType)).toEqual(['personal', 'divergent', 'unspecified']);
  });

  it('counts ties as wrong: 1 correct, 1 tie, 1 wrong is 1/3', () => {
    // Dropping ties would give 1/2; a ≥ rule (tie counted correct) would give 2/3.
    const tied = accuracyTable(outcomes('Cy', 'personal', 1, 1, 1), { seed: 1 });
    expect(tied.personas[0]?.byType.personal).toMatchObject({ n: 3, correct: 1, ties: 1 });
    expect(tied.personas[0]?.byType.personal?.accuracy.estimate).toBeCloseTo(1 / 3, 15);
  });

  it('is deterministic for a seed', () => {
    expect(accuracyTable(rows, { seed: 11 })).toEqual(table);
  });

  it('rejects no rows and rows that are both a tie and correct', () => {
    expect(() => accuracyTable([], { seed: 1 })).toThrow(RangeError);
    expect(() => accuracyTable([{ persona: 'Ada', correct: true, tie: true }], { seed: 1 })).toThrow(/tie is a loss/);
  });
});

describe('pearson', () => {
  it('matches scipy.stats.pearsonr on x = 1..5, y = [2, 4, 5, 4, 5]', () => {
    // Deviations: dx = [−2, −1, 0, 1, 2], dy = [−2, 0, 1, 0, 1]; Sxy = 4 + 0 + 0 + 0 + 2 = 6, Sxx = 10, Syy = 6.
    // r = 6 / √60 = √0.6 = 0.7745966692.
    // t = r·√(3 / 0.4) = √4.5; for 3 df, P(|T| ≥ t) = 1 − (2/π)(θ + sin θ cos θ), θ = atan(t/√3) = atan(√1.5),
    //   sin θ cos θ = √1.5 / 2.5 = 0.4898979, θ = 0.8860771, so p = 1 − 0.6366198·1.3759751 = 0.1240271.
    const { r, p, n } = pearson([1, 2, 3, 4, 5], [2, 4, 5, 4, 5]);
    expect(n).toBe(5);
    expect(r).toBeCloseTo(Math.sqrt(0.6), 14);
    const theta = Math.atan(Math.sqrt(1.5));
    expect(p).toBeCloseTo(1 - (2 / Math.PI) * (theta + Math.sin(theta) * Math.cos(theta)), 13);
    expect(p).toBeCloseTo(0.1240270626575546, 13); // scipy 1.17
  });

  it('matches the 2-df closed form p = 1 − |r|', () => {
    // dx = [−1.5, −0.5, 0.5, 1.5], dy = [−1.5, 0.5, −0.5, 1.5]: Sxy = 4, Sxx = Syy = 5, r = 0.8, p = 0.2.
    expect(pearson([1, 2, 3, 4], [1, 3, 2, 4])).toEqual({ r: expect.closeTo(0.8, 14), p: expect.closeTo(0.2, 14), n: 4 });
  });

  it('gives p = 0 for a perfect (anti)correlation', () => {
    expect(pearson([1, 2, 3, 4, 5], [5, 4, 3, 2, 1])).toEqual({ r: -1, p: 0, n: 5 });
  });

  it('is NaN for fewer than 3 points or a constant input', () => {
    expect(pearson([1, 2], [3, 4])).toEqual({ r: Number.NaN, p: Number.NaN, n: 2 });
    expect(pearson([0.1, 0.1, 0.1], [1, 2, 3])).toEqual({ r: Number.NaN, p: Number.NaN, n: 3 });
    expect(pearson([1, 2, 3], [7, 7, 7]).r).toBeNaN();
  });

  it('rejects inputs of different lengths', () => {
    expect(() => pearson([1, 2, 3], [1, 2])).toThrow(RangeError);
  });
});

describe('winRateMatrix', () => {
  // The paper's Table 3 (row beats column, %), rebuilt from 100 judgements per pairing.
  const labels = ['Z-F', 'Z-T', 'MT-F', 'MT-T'];
  const rowWinsPercent: [string, string, number][] = [
    ['Z-F', 'Z-T', 55],
    ['Z-F', 'MT-F', 53],
    ['Z-F', 'MT-T', 36],
    ['Z-T', 'MT-F', 38],
    ['Z-T', 'MT-T', 42],
    ['MT-F', 'MT-T', 32],
  ];
  const judgements: Judgement[] = rowWinsPercent.flatMap(([a, b, wins]) =>
    Array.from({ length: 100 }, (_, i): Judgement => ({ a, b, winner: i < wins ? 'a' : 'b' })),
  );

  it('reproduces Table 3, including its avg column', () => {
    const matrix = winRateMatrix(judgements, labels);
    const percent = matrix.cells.map((row) => row.map((cell) => (Number.isNaN(cell.winRate) ? null : Math.round(cell.winRate * 100))));
    expect(percent).toEqual([
      [null, 55, 53, 36],
      [45, null, 38, 42],
      [47, 62, null, 32],
      [64, 58, 68, null],
    ]);
    // avg: (55 + 53 + 36)/3 = 48, (45 + 38 + 42)/3 = 41.7, (47 + 62 + 32)/3 = 47, (64 + 58 + 68)/3 = 63.3.
    expect(matrix.rowAverage.map((rate) => Math.round(rate * 100))).toEqual([48, 42, 47, 63]);
    expect(matrix.cells[3]?.[2]).toEqual({ games: 100, wins: 68, losses: 32, ties: 0, winRate: 0.68 });
  });

  it('counts ties separately and as half a win for each side', () => {
    const matrix = winRateMatrix([
      { a: 'x', b: 'y', winner: 'a' },
      { a: 'x', b: 'y', winner: 'tie' },
      { a: 'y', b: 'x', winner: 'a' },
      { a: 'x', b: 'y', winner: 'b' },
    ]);
    // x: 1 win, 1 tie, 2 losses → (1 + ½)/4 = 0.375; y: (2 + ½)/4 = 0.625.
    expect(matrix.labels).toEqual(['x', 'y']);
    expect(matrix.cells[0]?.[1]).toEqual({ games: 4, wins: 1, losses: 2, ties: 1, winRate: 0.375 });
    expect(matrix.cells[1]?.[0]?.winRate).toBe(0.625);
    expect(matrix.cells[0]?.[0]).toMatchObject({ games: 0, winRate: Number.NaN });
  });

  it('rejects unknown contestants, self-matches and duplicate labels', () => {
    expect(() => winRateMatrix([{ a: 'x', b: 'z', winner: 'a' }], ['x', 'y'])).toThrow(RangeError);
    expect(() => winRateMatrix([{ a: 'x', b: 'x', winner: 'a' }])).toThrow(/against itself/);
    expect(() => winRateMatrix([], ['x', 'x'])).toThrow(/distinct/);
  });
});

describe('orderAgreement', () => {
  const both = (firstWinner: Judgement['winner'], secondWinner: Judgement['winner']) => ({
    firstOrder: { a: 'plain', b: 'personalized', winner: firstWinner },
    secondOrder: { a: 'personalized', b: 'plain', winner: secondWinner },
  });

  it('agrees when both orders name the same contestant or both tie', () => {
    // Agree: (a, b) → personalized both times; (b, a) → plain both times; tie/tie. Disagree: a/a is first-slot bias.
    expect(orderAgreement([both('b', 'a'), both('a', 'b'), both('tie', 'tie'), both('a', 'a')])).toEqual({
      pairs: 4,
      agreeing: 3,
      rate: 0.75,
    });
  });

  it('scores a judge that always picks the first slot at 0', () => {
    expect(orderAgreement([both('a', 'a'), both('a', 'a')]).rate).toBe(0);
  });

  it('requires the second order to swap the first', () => {
    expect(() => orderAgreement([{ firstOrder: both('a', 'a').firstOrder, secondOrder: both('a', 'a').firstOrder }])).toThrow(RangeError);
    expect(orderAgreement([]).rate).toBeNaN();
  });
});
