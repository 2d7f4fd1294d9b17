/**
 * What every build stage shares: the config, the output folder, the roles, progress reporting and
 * the cancel signal; and `runItems`, the loop each stage runs its items through: items already
 * finished (in the stage's journal) are skipped, the rest run with bounded concurrency, progress
 * ticks per finished item, and a cancel stops scheduling new items (finished ones are already on
 * disk). Provider failures become data (`Failure` records); a cancellation is never recorded, so the
 * next run redoes the item.
 */
import { join } from 'node:path';
import pLimit from 'p-limit';
import type { BuildConfig } from '../../../src/core/dataset/config.ts';
import type { Failure } from '../../../src/core/dataset/records.ts';
import { AppError, isAbortError } from '../../../src/core/errors.ts';
import type { Reporter } from '../reporter.ts';
import type { Roles } from './roles.ts';

export interface StageContext {
  config: BuildConfig;
  outDir: string;
  roles: Roles;
  reporter: Reporter;
  signal: AbortSignal;
}

export function stagePath(context: Pick<StageContext, 'outDir'>, file: string): string {
  return join(context.outDir, 'stages', file);
}

/** A failed provider call as a record: retryable, since the next run may well succeed. */
export function callFailure(key: string, error: unknown): Failure {
  return { ok: false, key, error: error instanceof Error ? error.message : String(error), retryable: true };
}

/**
 * Failed items grouped by reason, each reason said once without its closing full stop:
 * `diet, politics: connection refused; religion: 429 Too Many Requests`. Past `shown` keys per
 * reason, the rest are counted.
 */
export function groupFailures(failures: readonly { key: string; reason: string }[], shown = 3): string {
  const keysByReason = new Map<string, string[]>();
  for (const { key, reason } of failures) {
    const said = reason.trim().replace(/\.+$/u, '');
    keysByReason.set(said, [...(keysByReason.get(said) ?? []), key]);
  }
  return [...keysByReason]
    .map(([reason, keys]) => `${keys.slice(0, shown).join(', ')}${keys.length > shown ? ` and ${keys.length - shown} more` : ''}: ${reason}`)
    .join('; ');
}

/** Rethrows cancellations (never recorded); returns anything else for recording. */
export function unlessCancelled(error: unknown): unknown {
  if (isAbortError(error)) throw error;
  return error;
}

export function throwIfStopped(signal: AbortSignal): void {
  if (signal.aborted) throw new AppError('aborted', 'Interrupted: run the same command again to resume where it stopped.');
}

/**
 * Runs `work` for every item not yet `done`, at most `concurrency` at once, with a progress bar
 * labelled `label` counting done items out of all items.
 */
export async function runItems<T>(
  context: StageContext,
  label: string,
  items: readonly T[],
  options: { concurrency: number; done: (item: T) => boolean; work: (item: T) => Promise<void> },
): Promise<void> {
  const pending = items.filter((item) => !options.done(item));
  let finished = items.length - pending.length;
  context.reporter.start(label, items.length);
  context.reporter.tick(finished);
  const limit = pLimit(Math.max(1, options.concurrency));
  // An unexpected error stops scheduling (items in flight finish and are kept), then surfaces.
  let firstError: unknown;
  try {
    await Promise.all(
      pending.map((item) =>
        limit(async () => {
          if (context.signal.aborted || firstError !== undefined) return;
          try {
            await options.work(item);
          } catch (error) {
            firstError ??= error;
            return;
          }
          finished++;
          context.reporter.tick(finished);
        }),
      ),
    );
  } finally {
    context.reporter.stop();
  }
  if (firstError !== undefined) throw firstError;
  throwIfStopped(context.signal);
}
