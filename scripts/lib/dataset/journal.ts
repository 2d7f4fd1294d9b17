/**
 * Per-item journals of the dataset build: JSON Lines of finished items (scripts/lib/durableFiles.ts
 * makes them crash-safe), read back on a resume so finished items are skipped. Lines are
 * zod-parsed on reading: a journal edited by hand into something else stops the build with the
 * file and line named, instead of resuming from garbage.
 */
import type { z } from 'zod';
import { JsonlAppender, readJsonLines } from '../durableFiles.ts';

/** What a damaged journal asks the user to do. */
const REDO_STAGE = 'delete the file to redo its stage';
/** What a damaged whole file of a stage (readJsonFile) asks the user to do. */
export const REBUILD_STAGE = 'delete it to rebuild that stage';

/**
 * An append-only journal of finished items. `records` holds every valid line in file order;
 * `latest` the last record per key (a retried item's new record supersedes its old failure).
 */
export class Journal<T extends { key: string }> {
  readonly records: T[] = [];
  readonly latest = new Map<string, T>();
  private file: JsonlAppender | undefined;

  constructor(
    readonly path: string,
    private readonly schema: z.ZodType<T>,
    /** What a damaged file asks the user to do. */
    fix = REDO_STAGE,
  ) {
    for (const record of readJsonLines(path, schema, fix).rows) this.remember(record);
  }

  private remember(record: T): void {
    this.records.push(record);
    this.latest.set(record.key, record);
  }

  /**
   * Appends one record. When this returns the line is in the file; the fsync that makes it
   * survive a power cut runs off the event loop, and `close` waits for it. Waiting for an fsync
   * per record would stall every request in flight for the length of a disk flush.
   */
  append(record: T): void {
    this.file ??= JsonlAppender.open(this.path);
    this.file.write(this.schema.parse(record));
    this.remember(record);
  }

  /** Waits for the last fsync, then closes the file. */
  async close(): Promise<void> {
    await this.file?.close();
    this.file = undefined;
  }
}
