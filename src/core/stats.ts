/**
 * Statistics for reporting results the way the paper does (famous-persona spec §4.6, §6):
 * Wilson intervals for one accuracy, a seeded percentile bootstrap of a mean over personas (the
 * paper's error bars are seaborn's bootstrap), per-persona accuracy tables, Pearson r with its
 * Student-t p-value (Fig. 6), and judge win-rate matrices (Table 3).
 *
 * The two special functions this needs (normal quantile, regularized incomplete beta) live here
 * rather than in a dependency, so the core runs unchanged in the page, the worker and Node; the
 * tests pin them to scipy values.
 */
import { bootstrapInterval, quantileOfSorted, type BootstrapOptions } from './bootstrap.ts';
import { assertConfidence, type Interval } from './interval.ts';

export type { Interval } from './interval.ts';

// ---------------------------------------------------------------------------------------------
// Special functions

// Wichura's AS 241 (PPND16) coefficients, lowest degree first: numerator and denominator of the
// rational approximations for the centre (|p − ½| ≤ 0.425), the near tail and the far tail.
const CENTRAL_NUMERATOR = [
  3.3871328727963665, 133.14166789178438, 1971.5909503065513, 13731.69376550946,
  45921.95393154987, 67265.7709270087, 33430.57558358813, 2509.0809287301227,
];
const CENTRAL_DENOMINATOR = [
  1, 42.31333070160091, 687.1870074920579, 5394.196021424751, 21213.794301586597,
  39307.89580009271, 28729.085735721943, 5226.495278852546,
];
const NEAR_TAIL_NUMERATOR = [
  1.4234371107496835, 4.630337846156546, 5.769497221460691, 3.6478483247632045,
  1.2704582524523684, 0.2417807251774506, 0.022723844989269184, 0.0007745450142783414,
];
const NEAR_TAIL_DENOMINATOR = [
  1, 2.053191626637759, 1.6763848301838038, 0.6897673349851, 0.14810397642748008,
  0.015198666563616457, 0.0005475938084995345, 1.0507500716444169e-9,
];
const FAR_TAIL_NUMERATOR = [
  6.657904643501103, 5.463784911164114, 1.7848265399172913, 0.29656057182850487,
  0.026532189526576124, 0.0012426609473880784, 2.7115555687434876e-5, 2.0103343992922881e-7,
];
const FAR_TAIL_DENOMINATOR = [
  1, 0.599832206555888, 0.1369298809227358, 0.014875361290850615, 0.0007868691311456133,
  1.8463183175100548e-5, 1.421511758316446e-7, 2.0442631033899397e-15,
];

/** coefficients[0] + coefficients[1]·x + … by Horner's rule. */
function polynomial(coefficients: readonly number[], x: number): number {
  return coefficients.reduceRight((accumulated, coefficient) => accumulated * x + coefficient, 0);
}

function rational(numerator: readonly number[], denominator: readonly number[], x: number): number {
  return polynomial(numerator, x) / polynomial(denominator, x);
}

/**
 * Inverse of the standard normal CDF: Wichura's algorithm AS 241, accurate to about 1e-16
 * relative, so `normalQuantile(0.975)` is 1.959963984540054 as in scipy and R.
 * Returns ∓Infinity at 0 and 1.
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`normalQuantile: p must be in [0, 1], got ${p}.`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    return q * rational(CENTRAL_NUMERATOR, CENTRAL_DENOMINATOR, 0.180625 - q * q);
  }
  // Tails: fit in r = sqrt(−log(tail probability)), with a separate fit for the far tail (r > 5).
  const r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  const magnitude =
    r <= 5
      ? rational(NEAR_TAIL_NUMERATOR, NEAR_TAIL_DENOMINATOR, r - 1.6)
      : rational(FAR_TAIL_NUMERATOR, FAR_TAIL_DENOMINATOR, r - 5);
  return q < 0 ? -magnitude : magnitude;
}

// Lanczos approximation (g = 7, 9 terms): about 15 significant digits for x ≥ 0.5.
const LANCZOS_G = 7;
const LANCZOS_COEFFICIENTS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0. */
function logGamma(x: number): number {
  if (x < 0.5) {
    // Reflection, Γ(x)Γ(1−x) = π / sin(πx), because the Lanczos series is accurate only for x ≥ 0.5.
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  }
  const shifted = x - 1;
  let series = LANCZOS_COEFFICIENTS[0] as number;
  for (let i = 1; i < LANCZOS_COEFFICIENTS.length; i++) {
    series += (LANCZOS_COEFFICIENTS[i] as number) / (shifted + i);
  }
  const t = shifted + LANCZOS_G + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (shifted + 0.5) * Math.log(t) - t + Math.log(series);
}

/**
 * The regularized incomplete beta function I_x(a, b) = P(X ≤ x) for X ~ Beta(a, b), via the
 * continued fraction of Numerical Recipes (`betai`/`betacf`, modified Lentz). The fraction
 * converges fast only for x < (a+1)/(a+b+2); above that we use I_x(a,b) = 1 − I_{1−x}(b,a).
 */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0)) throw new RangeError(`regularizedIncompleteBeta: a and b must be > 0, got ${a}, ${b}.`);
  if (!(x >= 0 && x <= 1)) throw new RangeError(`regularizedIncompleteBeta: x must be in [0, 1], got ${x}.`);
  if (x === 0 || x === 1) return x;
  const logPrefactor =
    a * Math.log(x) + b * Math.log1p(-x) - (logGamma(a) + logGamma(b) - logGamma(a + b));
  if (x < (a + 1) / (a + b + 2)) {
    return (Math.exp(logPrefactor) * betaContinuedFraction(x, a, b)) / a;
  }
  return 1 - (Math.exp(logPrefactor) * betaContinuedFraction(1 - x, b, a)) / b;
}

const TINY = 1e-300;
const CONTINUED_FRACTION_TOLERANCE = 1e-15;
const CONTINUED_FRACTION_MAX_TERMS = 10_000;

function betaContinuedFraction(x: number, a: number, b: number): number {
  // Keeps a denominator from being exactly zero, as Lentz's method requires.
  const awayFromZero = (value: number) => (Math.abs(value) < TINY ? TINY : value);
  let c = 1;
  let d = 1 / awayFromZero(1 - ((a + b) * x) / (a + 1));
  let fraction = d;
  for (let m = 1; m <= CONTINUED_FRACTION_MAX_TERMS; m++) {
    // Each step applies the even coefficient d_{2m}, then the odd one d_{2m+1}.
    const even = (m * (b - m) * x) / ((a - 1 + 2 * m) * (a + 2 * m));
    d = 1 / awayFromZero(1 + even * d);
    c = awayFromZero(1 + even / c);
    fraction *= d * c;
    const odd = (-(a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 1 + 2 * m));
    d = 1 / awayFromZero(1 + odd * d);
    c = awayFromZero(1 + odd / c);
    const step = d * c;
    fraction *= step;
    if (Math.abs(step - 1) < CONTINUED_FRACTION_TOLERANCE) return fraction;
  }
  throw new Error(`regularizedIncompleteBeta: continued fraction did not converge for x=${x}, a=${a}, b=${b}.`);
}

// ---------------------------------------------------------------------------------------------
// Intervals

/** The two-sided critical value: 1.959963984540054 for 95%. */
function twoSidedZ(confidence: number): number {
  return normalQuantile(1 - (1 - confidence) / 2);
}

/**
 * Wilson score interval for a proportion. Chosen over the textbook Wald interval p̂ ± z√(p̂(1−p̂)/n)
 * because accuracies here come from 50–200 pairs and can sit near 0 or 1, where Wald collapses to a
 * point or leaves [0, 1]. With n = 0 there is no estimate (NaN) and the interval is all of [0, 1].
 */
export function wilsonInterval(successes: number, n: number, confidence = 0.95): Interval {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`wilsonInterval: n must be a non-negative integer, got ${n}.`);
  if (!Number.isInteger(successes) || successes < 0 || successes > n) {
    throw new RangeError(`wilsonInterval: successes must be an integer in [0, ${n}], got ${successes}.`);
  }
  assertConfidence('wilsonInterval', confidence);
  if (n === 0) return { estimate: NaN, lower: 0, upper: 1 };
  const z = twoSidedZ(confidence);
  const zSquaredOverN = (z * z) / n;
  const estimate = successes / n;
  const shrink = 1 + zSquaredOverN;
  const center = (estimate + zSquaredOverN / 2) / shrink;
  const halfWidth = (z / shrink) * Math.sqrt((estimate * (1 - estimate)) / n + zSquaredOverN / (4 * n));
  // At 0 and n successes the formula is exactly 0 or 1; pin it so rounding cannot leave [0, 1].
  return {
    estimate,
    lower: successes === 0 ? 0 : center - halfWidth,
    upper: successes === n ? 1 : center + halfWidth,
  };
}

export type { BootstrapOptions } from './bootstrap.ts';

/**
 * Percentile bootstrap interval of the mean over units (personas): `bootstrapInterval` with the
 * mean as the statistic, as seaborn computes the paper's error bars.
 */
export function bootstrapMeanInterval(values: readonly number[], options: BootstrapOptions): Interval {
  if (values.length === 0) throw new RangeError('bootstrapMeanInterval: no values; a mean of nothing has no interval.');
  if (!values.every(Number.isFinite)) throw new RangeError('bootstrapMeanInterval: every value must be finite.');
  return bootstrapInterval(values.length, (indices) => {
    let total = 0;
    for (const index of indices) total += values[index] as number;
    return total / indices.length;
  }, options);
}

function meanOf(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0) / values.length;
}

/** numpy's default ("linear") quantile, e.g. 0.5 for the median. */
export function quantile(values: readonly number[], probability: number): number {
  if (values.length === 0) return Number.NaN;
  return quantileOfSorted(Float64Array.from(values).sort(), probability);
}

// ---------------------------------------------------------------------------------------------
// Accuracy tables

/** The persona group for rows that name none (e.g. a single user's own pairs). */
export const NO_PERSONA = '(no persona)';

/** Question types in display order; rows without a type are `unspecified`. */
export const QUESTION_TYPES = ['personal', 'divergent', 'unspecified'] as const;
export type QuestionTypeGroup = (typeof QUESTION_TYPES)[number];

/** One scored pair: `correct` and `tie` from `verdict`, plus the persona and question type it belongs to. */
export interface GradedPair {
  persona?: string;
  type?: 'personal' | 'divergent';
  correct: boolean;
  tie?: boolean;
}

export interface OutcomeCounts {
  n: number;
  correct: number;
  ties: number;
}

export interface AccuracyCell extends OutcomeCounts {
  /** correct / n with its Wilson interval. */
  accuracy: Interval;
}

export interface PersonaAccuracy {
  persona: string;
  /** Only the question types this persona has rows for. */
  byType: Partial<Record<QuestionTypeGroup, AccuracyCell>>;
  /** All of the persona's pairs pooled: the size-weighted mean of its per-type accuracies (the authors' "Total Accuracy"). */
  total: AccuracyCell;
}

export interface AcrossPersonas {
  /** How many personas contribute. */
  personas: number;
  /** Mean of the per-persona accuracies with a percentile-bootstrap interval over personas (how the paper reports). */
  meanOfPersonas: Interval;
  /** Every pair pooled with a Wilson interval; weights personas by their pair counts. */
  pooled: AccuracyCell;
}

export interface AccuracyTable {
  /** In order of first appearance in the rows. */
  personas: PersonaAccuracy[];
  /** Only the question types present in the rows. */
  byType: Partial<Record<QuestionTypeGroup, AcrossPersonas>>;
  total: AcrossPersonas;
}

/**
 * Per persona × question type accuracy, per-persona totals, and across-persona summaries.
 * `confidence` applies to both the Wilson and the bootstrap intervals. Every bootstrap uses the
 * same seed, so columns with the same personas are resampled identically (a paired bootstrap).
 * @throws RangeError on no rows, or on a row that is both a tie and correct (ties are losses).
 */
export function accuracyTable(rows: readonly GradedPair[], options: BootstrapOptions): AccuracyTable {
  if (rows.length === 0) throw new RangeError('accuracyTable: no rows.');
  const confidence = options.confidence ?? 0.95;
  const countsByPersona = new Map<string, Map<QuestionTypeGroup, OutcomeCounts>>();
  for (const row of rows) {
    const persona = row.persona ?? NO_PERSONA;
    if (row.tie && row.correct) {
      throw new RangeError(`accuracyTable: a row of persona "${persona}" is marked both tie and correct; a tie is a loss.`);
    }
    const countsByType = countsByPersona.get(persona) ?? new Map<QuestionTypeGroup, OutcomeCounts>();
    countsByPersona.set(persona, countsByType);
    const type = row.type ?? 'unspecified';
    const counts = countsByType.get(type) ?? { n: 0, correct: 0, ties: 0 };
    countsByType.set(type, {
      n: counts.n + 1,
      correct: counts.correct + (row.correct ? 1 : 0),
      ties: counts.ties + (row.tie ? 1 : 0),
    });
  }

  const personas = [...countsByPersona].map(([persona, countsByType]): PersonaAccuracy => {
    const byType: Partial<Record<QuestionTypeGroup, AccuracyCell>> = {};
    for (const type of QUESTION_TYPES) {
      const counts = countsByType.get(type);
      if (counts) byType[type] = accuracyCell(counts, confidence);
    }
    return { persona, byType, total: accuracyCell(sumCounts([...countsByType.values()]), confidence) };
  });

  const byType: Partial<Record<QuestionTypeGroup, AcrossPersonas>> = {};
  for (const type of QUESTION_TYPES) {
    const cells = personas.flatMap((persona) => persona.byType[type] ?? []);
    if (cells.length > 0) byType[type] = acrossPersonas(cells, options);
  }
  return { personas, byType, total: acrossPersonas(personas.map((persona) => persona.total), options) };
}

function accuracyCell(counts: OutcomeCounts, confidence: number): AccuracyCell {
  return { ...counts, accuracy: wilsonInterval(counts.correct, counts.n, confidence) };
}

function sumCounts(counts: readonly OutcomeCounts[]): OutcomeCounts {
  return counts.reduce((sum, c) => ({ n: sum.n + c.n, correct: sum.correct + c.correct, ties: sum.ties + c.ties }), {
    n: 0,
    correct: 0,
    ties: 0,
  });
}

function acrossPersonas(cells: readonly AccuracyCell[], options: BootstrapOptions): AcrossPersonas {
  return {
    personas: cells.length,
    meanOfPersonas: bootstrapMeanInterval(
      cells.map((cell) => cell.accuracy.estimate),
      options,
    ),
    pooled: accuracyCell(sumCounts(cells), options.confidence ?? 0.95),
  };
}

// ---------------------------------------------------------------------------------------------
// Correlation

export interface Correlation {
  r: number;
  /** Two-sided, from Student's t with n − 2 degrees of freedom (what scipy's `pearsonr` reports). */
  p: number;
  n: number;
}

/**
 * Pearson's r and its two-sided p-value. With t = r√(df/(1−r²)) the tail P(|T| ≥ t) equals
 * I_{df/(df+t²)}(df/2, ½), and df/(df+t²) simplifies to 1 − r², which stays finite at |r| = 1.
 * Fewer than 3 points or a constant input has no defined correlation: r and p are NaN.
 */
export function pearson(x: readonly number[], y: readonly number[]): Correlation {
  if (x.length !== y.length) throw new RangeError(`pearson: x has ${x.length} values but y has ${y.length}.`);
  const n = x.length;
  // Constant inputs are tested exactly: their centered sums can come out as 1e-33 rather than 0.
  if (n < 3 || x.every((value) => value === x[0]) || y.every((value) => value === y[0])) {
    return { r: NaN, p: NaN, n };
  }
  const meanX = meanOf(x);
  const meanY = meanOf(y);
  let crossSum = 0;
  let squaresX = 0;
  let squaresY = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - meanX;
    const dy = (y[i] as number) - meanY;
    crossSum += dx * dy;
    squaresX += dx * dx;
    squaresY += dy * dy;
  }
  // Rounding can push |r| a hair past 1.
  const r = Math.max(-1, Math.min(1, crossSum / Math.sqrt(squaresX * squaresY)));
  const degreesOfFreedom = n - 2;
  return { r, p: regularizedIncompleteBeta(1 - r * r, degreesOfFreedom / 2, 0.5), n };
}

// ---------------------------------------------------------------------------------------------
// Pairwise judge results

export type Winner = 'a' | 'b' | 'tie';

/** One judge call: contestants `a` and `b` (labels such as "MT-T"), in the order the judge saw them. */
export interface Judgement {
  a: string;
  b: string;
  winner: Winner;
}

export interface Tally {
  wins: number;
  losses: number;
  ties: number;
}

export interface WinRateCell extends Tally {
  games: number;
  /** (wins + ties / 2) / games: a tie is half a win for each side. NaN without games. */
  winRate: number;
}

export interface WinRateMatrix {
  labels: string[];
  /** `cells[i][j]`: how `labels[i]` did against `labels[j]`; the diagonal has no games. */
  cells: WinRateCell[][];
  /** Mean of each row's win rates over the opponents it met: the "avg" column of the paper's Table 3. */
  rowAverage: number[];
}

/**
 * Win rates of row over column. Ties are counted separately and as half a win in `winRate`, so
 * `winRate[i][j] + winRate[j][i] = 1` for every pair that met. `labels` fixes the order (and
 * rejects unknown contestants); without it, contestants appear in first-seen order.
 */
export function winRateMatrix(judgements: readonly Judgement[], labels?: readonly string[]): WinRateMatrix {
  const order = labels ? [...labels] : [...new Set(judgements.flatMap((judgement) => [judgement.a, judgement.b]))];
  const indexOf = new Map(order.map((label, index) => [label, index]));
  if (indexOf.size !== order.length) throw new RangeError('winRateMatrix: labels must be distinct.');
  const tallies = order.map(() => order.map((): Tally => ({ wins: 0, losses: 0, ties: 0 })));
  for (const { a, b, winner } of judgements) {
    const row = indexOf.get(a);
    const column = indexOf.get(b);
    if (row === undefined || column === undefined) {
      throw new RangeError(`winRateMatrix: judgement between "${a}" and "${b}" names a contestant not in labels.`);
    }
    if (row === column) throw new RangeError(`winRateMatrix: "${a}" is judged against itself.`);
    const forA = (tallies[row] as Tally[])[column] as Tally;
    const forB = (tallies[column] as Tally[])[row] as Tally;
    if (winner === 'tie') {
      forA.ties++;
      forB.ties++;
    } else {
      const [winnerTally, loserTally] = winner === 'a' ? [forA, forB] : [forB, forA];
      winnerTally.wins++;
      loserTally.losses++;
    }
  }
  const cells = tallies.map((row) =>
    row.map(({ wins, losses, ties }): WinRateCell => {
      const games = wins + losses + ties;
      return { games, wins, losses, ties, winRate: games === 0 ? NaN : (wins + ties / 2) / games };
    }),
  );
  const rowAverage = cells.map((row) => {
    const rates = row.filter((cell) => cell.games > 0).map((cell) => cell.winRate);
    return rates.length === 0 ? NaN : meanOf(rates);
  });
  return { labels: order, cells, rowAverage };
}

export interface BothOrders {
  firstOrder: Judgement;
  /** The same two contestants shown the other way round (`a` and `b` swapped). */
  secondOrder: Judgement;
}

export interface OrderAgreement {
  pairs: number;
  /** Pairs whose two judgements name the same winning contestant, or both say tie. */
  agreeing: number;
  /** agreeing / pairs; NaN without pairs. A judge that always picks the first slot scores 0. */
  rate: number;
}

/** How often a judge asked both answer orders reaches the same verdict: a position-bias check. */
export function orderAgreement(pairs: readonly BothOrders[]): OrderAgreement {
  let agreeing = 0;
  for (const { firstOrder, secondOrder } of pairs) {
    if (secondOrder.a !== firstOrder.b || secondOrder.b !== firstOrder.a) {
      throw new RangeError(
        `orderAgreement: second order must swap the first ("${firstOrder.a}" vs "${firstOrder.b}"), got "${secondOrder.a}" vs "${secondOrder.b}".`,
      );
    }
    if (winningContestant(firstOrder) === winningContestant(secondOrder)) agreeing++;
  }
  return { pairs: pairs.length, agreeing, rate: pairs.length === 0 ? NaN : agreeing / pairs.length };
}

/** The winner's label, or null for a tie. */
function winningContestant({ a, b, winner }: Judgement): string | null {
  return winner === 'tie' ? null : winner === 'a' ? a : b;
}
