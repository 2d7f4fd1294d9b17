/**
 * The run-time check that licenses one-pass scoring on the user's GPU. One-pass and forced
 * decoding compute the same log-probs through different kernels (matrix-matrix and prefill
 * attention against matrix-vector and decode attention), so they agree only up to rounding; a
 * wrong position, a stale KV cache or a library that misbehaves moves tokens by ≳ 1 nat.
 *
 * Tolerances, by the precision the build computes in:
 * - f32 (q4f32_1, q0f32): unit roundoff u = 2⁻²⁴ ≈ 6e-8. Reordered sums of d terms differ by
 *   about √d·u relative (≈ 7e-6 for Zephyr's d = 14336); through 32 layers that leaves logits
 *   within ~1e-4 and log-probs within ~1e-3. Required: max |Δ| ≤ 0.01 and mean |Δ| ≤ 0.002,
 *   ten times the expected error and a hundred times below a bug's.
 * - f16 (q4f16_1): linear layers accumulate in f16 (u = 2⁻¹¹ ≈ 4.9e-4; attention stays f32),
 *   and logits of 10–30 are spaced 0.016–0.03 apart in f16 from rounding alone, so typical
 *   tokens differ by ~1e-2 and a near-tie can move one token by 0.1–0.5. Required: mean |Δ| ≤
 *   0.05 (five times typical, twenty times below a bug's ~1 nat per token) and max |Δ| ≤ 0.5.
 * The same answer scored twice by one pass (after popping it off the KV cache) must repeat
 * within the same tolerance: a pop that leaves stale tokens shows there.
 * These bounds are derived, not yet calibrated on a GPU: `npm run smoke:webllm` prints the
 * measured differences, and the page shows them with every run.
 */
import { compareLogprobs } from '../../core/logits.ts';
import type { ScoringCheck } from '../../core/engine.ts';

export interface Tolerance {
  precision: 'f16' | 'f32';
  maxAbsDiff: number;
  meanAbsDiff: number;
}

const TOLERANCES: Record<Tolerance['precision'], Tolerance> = {
  f32: { precision: 'f32', maxAbsDiff: 0.01, meanAbsDiff: 0.002 },
  f16: { precision: 'f16', maxAbsDiff: 0.5, meanAbsDiff: 0.05 },
};

/** The tolerance for a build's quantization name (q4f16_1, q4f32_1, q0f32, …); unknown names get f16's. */
export function toleranceFor(quantization: string): Tolerance {
  return /f32/.test(quantization) && !/f16/.test(quantization) ? TOLERANCES.f32 : TOLERANCES.f16;
}

/** The path being checked: its method name, how messages call it, and why one pass was not it (if so). */
export interface CheckedPath {
  method: string;
  label: string;
  unavailable: string | undefined;
}

/**
 * Judges a fast path's log-probs against forced decoding on the same continuations. `fast` holds
 * one more row than `forced`: the first continuation scored again at the end (the repeat check).
 */
export function judgeFastPath(path: CheckedPath, forced: readonly number[][], fast: readonly number[][], tolerance: Tolerance, subject: string): ScoringCheck {
  const against = compareLogprobs(forced, fast.slice(0, forced.length));
  const repeat = compareLogprobs([fast[0] as number[]], [fast[forced.length] as number[]]);
  const finite = [against.maxAbsDiff, against.meanAbsDiff, repeat.maxAbsDiff].every(Number.isFinite);
  const agrees = finite && against.maxAbsDiff <= tolerance.maxAbsDiff && against.meanAbsDiff <= tolerance.meanAbsDiff && repeat.maxAbsDiff <= tolerance.maxAbsDiff;
  const measured = `max |Δ| ${format(against.maxAbsDiff)}, mean ${format(against.meanAbsDiff)} over ${against.tokens} tokens, repeat ${format(repeat.maxAbsDiff)}`;
  const limits = `${tolerance.precision} tolerance: max ${tolerance.maxAbsDiff}, mean ${tolerance.meanAbsDiff}`;
  const why = path.unavailable === undefined ? '' : `One-pass scoring is unavailable (${path.unavailable}). `;
  return {
    method: agrees ? path.method : 'forced-decode',
    maxAbsDiff: Number.isFinite(against.maxAbsDiff) ? against.maxAbsDiff : null,
    meanAbsDiff: Number.isFinite(against.meanAbsDiff) ? against.meanAbsDiff : null,
    repeatMaxAbsDiff: Number.isFinite(repeat.maxAbsDiff) ? repeat.maxAbsDiff : null,
    tokens: against.tokens,
    tolerance,
    reason:
      why +
      (!finite
        ? `${path.label} produced non-finite log-probs on this GPU, so scoring uses ${SAFE}.`
        : agrees
          ? `${path.label} agreed with forced decoding on this GPU (${measured}; ${limits}).`
          : `${path.label} disagreed with forced decoding on this GPU (${measured}; ${limits}), so scoring uses ${SAFE}.`),
    subject,
  };
}

const SAFE = 'forced decoding with one prompt prefill per answer (slower, exact)';

/** The check when no faster path could be tried, or one failed: `what` says which, as a sentence without its end. */
export function referenceOnly(what: string, subject: string): ScoringCheck {
  return {
    method: 'forced-decode',
    maxAbsDiff: null,
    meanAbsDiff: null,
    repeatMaxAbsDiff: null,
    tokens: 0,
    reason: `${what}, so scoring uses ${SAFE}.`,
    subject,
  };
}

function format(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return value === 0 ? '0' : value < 1e-3 ? value.toExponential(1) : value.toFixed(3);
}
