/**
 * One counter of model calls, kept per provider (scripts/lib/providers.ts: `ProviderStats`, printed
 * after an eval) and per role of a dataset build (scripts/lib/dataset/roles.ts: `RoleUsage`, in the
 * build's summary): what the model answered, what the request cache answered, what failed, tokens,
 * and the cost from a price when there is one.
 */
import type { Pricing } from '../../src/core/dataset/config.ts';
import { costOf } from '../../src/core/dataset/plan.ts';

export class UsageCounter {
  /** Calls the model answered (cache misses that succeeded). */
  calls = 0;
  /** HTTP requests sent, retries included. */
  requests = 0;
  retries = 0;
  /** Calls that stopped with an error (after their retries). */
  failures = 0;
  /** Calls the request cache answered. */
  cacheHits = 0;
  /** Texts scored or embedded (reward, embedder). */
  items = 0;
  promptTokens = 0;
  completionTokens = 0;

  constructor(private readonly price: Pricing | undefined) {}

  /** Counts a call the model answered, with the tokens it reports. */
  answered(tokens: { promptTokens: number; completionTokens: number } = { promptTokens: 0, completionTokens: 0 }): void {
    this.calls++;
    this.promptTokens += tokens.promptTokens;
    this.completionTokens += tokens.completionTokens;
  }

  /** USD for the calls made; undefined without a price. */
  costUsd(): number | undefined {
    return this.price ? costOf(this.promptTokens, this.completionTokens, this.price) : undefined;
  }
}
