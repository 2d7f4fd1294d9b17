/**
 * Agreement between coders who label the same units (App. D, Table 6: people against the GPT-4
 * judge and against each other): the raw agreement rate, Cohen's κ for two coders, and
 * Krippendorff's α (nominal) for any number of coders with missing labels. Each comes with a
 * seeded percentile-bootstrap interval over units (bootstrap.ts).
 *
 * A code is any string (a category); null marks a unit the coder did not label. κ and the rate
 * use the units both coders labelled; α uses every unit that at least two coders labelled
 * (Krippendorff's "pairable" values), as his definition requires.
 */
import { bootstrapInterval, type BootstrapOptions } from './bootstrap.ts';
import type { Interval } from './interval.ts';

export type Code = string | null;

export interface PairAgreement {
  /** Units both coders labelled. */
  units: number;
  /** Share of those units with the same code. */
  rate: Interval;
  /** (p_o − p_e) / (1 − p_e); NaN when p_e = 1 (both coders used one and the same category) or no unit is shared. */
  kappa: Interval;
}

export interface MultiAgreement {
  coders: number;
  /** Units with at least two labels. */
  pairableUnits: number;
  /** Krippendorff's nominal α; NaN when undefined (no pairable unit, or a single value in the data). */
  alpha: Interval;
}

function assertSameLength(caller: string, rows: readonly (readonly Code[])[]): void {
  const length = rows[0]?.length ?? 0;
  if (rows.some((row) => row.length !== length)) throw new RangeError(`${caller}: every coder needs one entry per unit (null when missing).`);
}

/** The share of units (among those both labelled) on which `a` and `b` agree; NaN with none. */
export function agreementRate(a: readonly Code[], b: readonly Code[]): number {
  assertSameLength('agreementRate', [a, b]);
  let shared = 0;
  let same = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === null || b[i] === null) continue;
    shared++;
    if (a[i] === b[i]) same++;
  }
  return shared === 0 ? NaN : same / shared;
}

/**
 * Cohen's κ of two coders over the units both labelled: observed agreement p_o against the
 * agreement p_e = Σ_c p_a(c)·p_b(c) expected from each coder's own category shares (what
 * sklearn's `cohen_kappa_score` computes).
 */
export function cohenKappa(a: readonly Code[], b: readonly Code[]): number {
  assertSameLength('cohenKappa', [a, b]);
  const countsA = new Map<string, number>();
  const countsB = new Map<string, number>();
  let shared = 0;
  let same = 0;
  for (let i = 0; i < a.length; i++) {
    const codeA = a[i];
    const codeB = b[i];
    if (codeA === null || codeA === undefined || codeB === null || codeB === undefined) continue;
    shared++;
    if (codeA === codeB) same++;
    countsA.set(codeA, (countsA.get(codeA) ?? 0) + 1);
    countsB.set(codeB, (countsB.get(codeB) ?? 0) + 1);
  }
  if (shared === 0) return NaN;
  const observed = same / shared;
  let expected = 0;
  for (const [code, count] of countsA) expected += (count / shared) * ((countsB.get(code) ?? 0) / shared);
  return expected === 1 ? NaN : (observed - expected) / (1 - expected);
}

/**
 * Krippendorff's α for nominal data: 1 − D_o/D_e from the coincidence matrix, where each unit
 * with m_u ≥ 2 labels adds every ordered pair of its labels with weight 1/(m_u − 1), and
 * α = 1 − (n − 1)·Σ_{c≠k} o_ck / Σ_{c≠k} n_c·n_k. `coders[i][u]` is coder i's code for unit u.
 */
export function krippendorffAlpha(coders: readonly (readonly Code[])[]): number {
  assertSameLength('krippendorffAlpha', coders);
  const units = coders[0]?.length ?? 0;
  return alphaOfUnits(Array.from({ length: units }, (_, unit) => unit), coders);
}

function alphaOfUnits(units: readonly number[], coders: readonly (readonly Code[])[]): number {
  const totals = new Map<string, number>();
  let disagreeing = 0;
  let pairable = 0;
  for (const unit of units) {
    const counts = new Map<string, number>();
    let labelled = 0;
    for (const coder of coders) {
      const code = coder[unit];
      if (code === null || code === undefined) continue;
      counts.set(code, (counts.get(code) ?? 0) + 1);
      labelled++;
    }
    if (labelled < 2) continue;
    pairable += labelled;
    // Ordered pairs with different codes: labelled² − Σ count², each weighted 1/(m_u − 1).
    let sameSquares = 0;
    for (const [code, count] of counts) {
      sameSquares += count * count;
      totals.set(code, (totals.get(code) ?? 0) + count);
    }
    disagreeing += (labelled * labelled - sameSquares) / (labelled - 1);
  }
  if (pairable < 2) return NaN;
  let expectedPairs = pairable * pairable;
  for (const count of totals.values()) expectedPairs -= count * count;
  return expectedPairs === 0 ? NaN : 1 - ((pairable - 1) * disagreeing) / expectedPairs;
}

/** Rate and κ of two coders with bootstrap intervals over the units both labelled. */
export function pairAgreement(a: readonly Code[], b: readonly Code[], options: BootstrapOptions): PairAgreement {
  assertSameLength('pairAgreement', [a, b]);
  const shared = a.flatMap((code, i) => (code !== null && b[i] !== null && b[i] !== undefined ? [i] : []));
  if (shared.length === 0) {
    const none = { estimate: NaN, lower: NaN, upper: NaN };
    return { units: 0, rate: none, kappa: none };
  }
  const pick = (codes: readonly Code[], indices: readonly number[]) => indices.map((index) => codes[shared[index] as number] as Code);
  return {
    units: shared.length,
    rate: bootstrapInterval(shared.length, (indices) => agreementRate(pick(a, indices), pick(b, indices)), options),
    kappa: bootstrapInterval(shared.length, (indices) => cohenKappa(pick(a, indices), pick(b, indices)), options),
  };
}

/** Krippendorff's α of every coder with a bootstrap interval over the pairable units. */
export function multiAgreement(coders: readonly (readonly Code[])[], options: BootstrapOptions): MultiAgreement {
  assertSameLength('multiAgreement', coders);
  const units = coders[0]?.length ?? 0;
  const pairable = Array.from({ length: units }, (_, unit) => unit).filter((unit) => coders.filter((coder) => coder[unit] !== null && coder[unit] !== undefined).length >= 2);
  if (pairable.length === 0) return { coders: coders.length, pairableUnits: 0, alpha: { estimate: NaN, lower: NaN, upper: NaN } };
  return {
    coders: coders.length,
    pairableUnits: pairable.length,
    alpha: bootstrapInterval(pairable.length, (indices) => alphaOfUnits(indices.map((index) => pairable[index] as number), coders), options),
  };
}
