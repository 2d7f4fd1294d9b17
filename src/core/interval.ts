/** The interval type every statistic reports, and the check its confidence levels share. */

/** A point estimate with the bounds of a two-sided confidence interval around it. */
export interface Interval {
  estimate: number;
  lower: number;
  upper: number;
}

export function assertConfidence(caller: string, confidence: number): void {
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`${caller}: confidence must be strictly between 0 and 1, got ${confidence}.`);
  }
}
