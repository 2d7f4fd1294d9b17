/**
 * Throughput shown while work runs: tokens/s while a persona is inferred or text is generated,
 * scored pairs/s and the time left while a run scores, and a run's duration estimated before it
 * starts from the rate measured in earlier runs on the same model. Pure: callers pass the clock.
 */

/** Work done over elapsed time, and the time left for `remaining` more at that rate. */
export interface Rate {
  done: number;
  seconds: number;
  /** Null until something was done in a measurable time. */
  perSecond: number | null;
  /** Seconds left for the remaining work at this rate; null when unknown. */
  etaSeconds: number | null;
}

export function rateOf(done: number, elapsedMs: number, remaining = 0): Rate {
  const seconds = Math.max(0, elapsedMs) / 1000;
  const perSecond = done > 0 && seconds > 0 ? done / seconds : null;
  return { done, seconds, perSecond, etaSeconds: perSecond === null ? null : remaining / perSecond };
}

/** Counts streamed tokens: the engine's own count when it sends one, else one per text delta. */
export class TokenMeter {
  readonly #startedAt: number;
  #tokens = 0;
  #exact = true;

  constructor(startedAt: number) {
    this.#startedAt = startedAt;
  }

  push(tokensSoFar: number | undefined): void {
    if (tokensSoFar === undefined) {
      this.#exact = false;
      this.#tokens += 1;
    } else this.#tokens = Math.max(this.#tokens, tokensSoFar);
  }

  /** The final count from the engine's result, which is exact. */
  finish(tokens: number): void {
    this.#tokens = tokens;
    this.#exact = true;
  }

  read(now: number): TokenRate {
    return { ...rateOf(this.#tokens, now - this.#startedAt), exact: this.#exact };
  }
}

export interface TokenRate extends Rate {
  /** False while the count is one per streamed delta (an engine that does not count tokens). */
  exact: boolean;
}

/** "1.2 s", "45 s", "3 min 20 s", "1 h 5 min". */
export function formatDuration(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes} min${whole % 60 ? ` ${whole % 60} s` : ''}`;
  return `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
}

/** Two significant figures for rates under 10, whole numbers above. */
export function formatRate(perSecond: number): string {
  return perSecond >= 10 ? perSecond.toFixed(0) : perSecond.toPrecision(2);
}

/** "128 tokens · 14 tokens/s" (with "~" while the count is one per delta). */
export function describeTokenRate(rate: TokenRate): string {
  const count = `${rate.exact ? '' : '~'}${rate.done} token${rate.done === 1 ? '' : 's'}`;
  return rate.perSecond === null ? count : `${count} · ${formatRate(rate.perSecond)} tokens/s`;
}
