/**
 * What a build has spent, across every run over one output folder: usage.jsonl holds, per run and
 * role, the calls, tokens and cost so far. A run writes its role's line each time a call reaches a
 * model (answered or failed: what costs money), and every role's line when it ends (cache hits
 * included), so a build resumed after Ctrl-C or kill -9, or re-run when finished, still knows what
 * the earlier runs cost. summary.json states this run's usage and the total over all runs.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { ROLE_NAMES } from '../../../src/core/dataset/config.ts';
import { Journal } from './journal.ts';

const count = z.number().int().nonnegative();

export const RoleUsage = z.object({
  role: z.enum(ROLE_NAMES),
  provider: z.string(),
  /** Calls that reached the model (cache misses that succeeded). */
  calls: count,
  cached: count,
  failed: count,
  /** Texts scored or embedded (reward, embedder). */
  items: count,
  promptTokens: count,
  completionTokens: count,
  /** USD for the calls made; absent without pricing. */
  costUsd: z.number().nonnegative().optional(),
});
export type RoleUsage = z.infer<typeof RoleUsage>;

const UsageLine = RoleUsage.extend({ key: z.string(), run: z.string() });
type UsageLine = z.infer<typeof UsageLine>;

export interface TotalUsage {
  /** Runs that made or answered at least one call. */
  runs: number;
  /** Of those, runs before this one: the total says more than this run's usage. */
  earlierRuns: number;
  usage: RoleUsage[];
}

export const USAGE_FILE = 'usage.jsonl';

export class UsageLedger {
  private readonly journal: Journal<UsageLine>;

  constructor(
    outDir: string,
    /** Names this run's lines; later lines of a run supersede its earlier ones. */
    readonly run = `${new Date().toISOString()} pid ${process.pid}`,
  ) {
    this.journal = new Journal(join(outDir, USAGE_FILE), UsageLine, 'delete it to start the count of calls and cost afresh');
  }

  record(usage: RoleUsage): void {
    this.journal.append({ key: `${this.run}\t${usage.role}`, run: this.run, ...usage });
  }

  /** Each run's last line per role, summed per role. */
  total(): TotalUsage {
    const latest = [...this.journal.latest.values()];
    const usage = ROLE_NAMES.flatMap((role): RoleUsage[] => {
      const lines = latest.filter((line) => line.role === role);
      if (lines.length === 0) return [];
      const costs = lines.flatMap((line) => (line.costUsd === undefined ? [] : [line.costUsd]));
      const sum = (field: 'calls' | 'cached' | 'failed' | 'items' | 'promptTokens' | 'completionTokens') => lines.reduce((total, line) => total + line[field], 0);
      return [
        {
          role,
          provider: [...new Set(lines.map((line) => line.provider))].join(', '),
          calls: sum('calls'),
          cached: sum('cached'),
          failed: sum('failed'),
          items: sum('items'),
          promptTokens: sum('promptTokens'),
          completionTokens: sum('completionTokens'),
          ...(costs.length > 0 && { costUsd: costs.reduce((total, cost) => total + cost, 0) }),
        },
      ];
    });
    const runs = new Set(latest.map((line) => line.run));
    return { runs: runs.size, earlierRuns: runs.size - (runs.has(this.run) ? 1 : 0), usage };
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}
