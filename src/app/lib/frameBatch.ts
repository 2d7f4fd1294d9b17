/**
 * Collects values arriving faster than the screen refreshes (streamed tokens, scored pairs) and
 * hands them over at most once per animation frame, so reactive state (and the DOM) updates once
 * per frame instead of once per token. A hidden tab gets no animation frames; a timer takes over
 * there so work still lands.
 */
export class FrameBatch<T> {
  #pending: T[] = [];
  #scheduled = false;
  readonly #flushTo: (items: T[]) => void;

  constructor(flushTo: (items: T[]) => void) {
    this.#flushTo = flushTo;
  }

  push(item: T): void {
    this.#pending.push(item);
    if (this.#scheduled) return;
    this.#scheduled = true;
    const run = () => this.flush();
    if (typeof document !== 'undefined' && document.visibilityState === 'visible' && typeof requestAnimationFrame === 'function') {
      requestAnimationFrame(run);
    } else {
      setTimeout(run, 100);
    }
  }

  /** Hands over everything pending now (also called when a stream ends). */
  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const items = this.#pending;
    this.#pending = [];
    this.#flushTo(items);
  }
}
