/**
 * Log-prob and sampling arithmetic on one row of raw logits, shared by every engine and the
 * smoke harness so that "log-prob of a token" and "top-k / top-p" mean exactly one thing.
 * Rows are the model's float32 logits; sums run in float64 so a 32k-wide softmax loses nothing.
 */

/** log softmax(row)[token], accumulated in float64. */
export function logSoftmaxAt(row: Float32Array, token: number): number {
  // Indexed loops: iterating a typed array with for-of is several times slower on this hot path.
  const length = row.length;
  let max = -Infinity;
  for (let i = 0; i < length; i++) if ((row[i] as number) > max) max = row[i] as number;
  let sum = 0;
  for (let i = 0; i < length; i++) sum += Math.exp((row[i] as number) - max);
  return (row[token] as number) - max - Math.log(sum);
}

/** Sets every logit below the k-th largest to -Infinity (ties with it are kept, as in Hugging Face's top-k). */
export function keepTopK(row: Float32Array, k: number): void {
  let threshold: number;
  if (k === 1) {
    threshold = -Infinity;
    for (const value of row) if (value > threshold) threshold = value;
  } else {
    // The k-th largest from a native numeric sort: a comparator sort of the whole vocabulary per token is slow.
    threshold = Float32Array.from(row).sort().at(-k) as number;
  }
  for (let i = 0; i < row.length; i++) if ((row[i] as number) < threshold) row[i] = -Infinity;
}

/**
 * Logits outside the sampling set → -Infinity: with `topK` > 0 first every logit below the k-th
 * largest (ties with it stay, as HF's TopKLogitsWarper), then the smallest most-likely prefix of
 * what is left whose probability reaches `topP` (at least one token).
 */
export function keepNucleus(row: Float32Array, topP: number, topK = 0): void {
  if (topK > 0 && topK < row.length) keepTopK(row, topK);
  // As Hugging Face, top-p 1 keeps everything (no rounding can drop the tail).
  if (topP >= 1) return;
  const order: number[] = [];
  for (let i = 0; i < row.length; i++) if ((row[i] as number) > -Infinity) order.push(i);
  order.sort((a, b) => (row[b] as number) - (row[a] as number));
  const max = row[order[0] as number] as number;
  let total = 0;
  for (const index of order) total += Math.exp((row[index] as number) - max);
  let cumulative = 0;
  let kept = 0;
  while (kept < order.length && cumulative < topP) {
    cumulative += Math.exp((row[order[kept] as number] as number) - max) / total;
    kept++;
  }
  for (let i = kept; i < order.length; i++) row[order[i] as number] = -Infinity;
}

/** How far apart two sets of per-token log-probs are: the largest and the mean absolute difference. */
export interface LogprobDifference {
  maxAbsDiff: number;
  meanAbsDiff: number;
  /** Tokens compared. */
  tokens: number;
}

/** Compares per-continuation log-probs position by position; shapes must match. */
export function compareLogprobs(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): LogprobDifference {
  if (a.length !== b.length) throw new Error(`compareLogprobs: ${a.length} continuations against ${b.length}`);
  let max = 0;
  let sum = 0;
  let tokens = 0;
  a.forEach((row, i) => {
    const other = b[i] as readonly number[];
    if (row.length !== other.length) throw new Error(`compareLogprobs: continuation ${i} has ${row.length} tokens against ${other.length}`);
    row.forEach((value, t) => {
      const diff = Math.abs(value - (other[t] as number));
      // NaN must never pass as agreement.
      max = Number.isNaN(diff) ? Infinity : Math.max(max, diff);
      sum += Number.isNaN(diff) ? Infinity : diff;
      tokens++;
    });
  });
  return { maxAbsDiff: max, meanAbsDiff: tokens === 0 ? 0 : sum / tokens, tokens };
}
