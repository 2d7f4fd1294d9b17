/**
 * From per-token answer log-probs to one score per answer, and from two scores to a pair verdict
 * (famous-persona spec §4.4–4.5). The paper's main metric is `mean` ("avg" in the authors' code);
 * `sum` is what they use for the RewardBench safety subsets; `norm` is the third mode of their
 * `get_batch_logps`.
 */
import { z } from 'zod';

export const Aggregation = z.enum(['mean', 'sum', 'norm']);
export type Aggregation = z.infer<typeof Aggregation>;

/**
 * One score for an answer from its per-token log-probs: `mean`, `sum`, or `norm` (minus the L2
 * norm of the vector, so that, like the other two, a higher score means a more likely answer).
 * @throws RangeError on an empty list (an answer always has at least its EOS token, so empty
 *   means the caller masked everything away) or on a NaN log-prob (a NaN score would silently
 *   lose every comparison).
 */
export function aggregate(logprobs: readonly number[], how: Aggregation): number {
  if (logprobs.length === 0) {
    throw new RangeError(`aggregate(${how}): no log-probs to aggregate; the answer has no scored tokens.`);
  }
  const nanIndex = logprobs.findIndex(Number.isNaN);
  if (nanIndex !== -1) {
    throw new RangeError(`aggregate(${how}): log-prob at index ${nanIndex} is NaN.`);
  }
  switch (how) {
    case 'mean':
      return sumOf(logprobs) / logprobs.length;
    case 'sum':
      return sumOf(logprobs);
    case 'norm':
      return -Math.sqrt(sumOf(logprobs.map((logprob) => logprob * logprob)));
  }
}

function sumOf(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

export interface Verdict {
  /** Chosen scored strictly higher than rejected: the paper's rule, under which a tie is a loss. */
  correct: boolean;
  /** Equal scores. Never `correct`; flagged so reports can say how many losses were ties. */
  tie: boolean;
  /** chosen − rejected; 0 for a tie (also when both scores are −∞). */
  margin: number;
}

/** @throws RangeError when either score is NaN, which would otherwise count as a silent loss. */
export function verdict(chosenScore: number, rejectedScore: number): Verdict {
  if (Number.isNaN(chosenScore) || Number.isNaN(rejectedScore)) {
    throw new RangeError(`verdict: a score is NaN (chosen ${chosenScore}, rejected ${rejectedScore}).`);
  }
  const tie = chosenScore === rejectedScore;
  return { correct: chosenScore > rejectedScore, tie, margin: tie ? 0 : chosenScore - rejectedScore };
}
