/**
 * Crash-safe files for the dataset build: whole files written atomically (temp file, fsync, rename,
 * fsync of the folder) and per-item journals (JSON Lines, one append per finished item, fsynced).
 *
 * After a `kill -9` at any moment: a whole file is either the old or the new version, never a mix;
 * a journal holds every item whose append returned, plus possibly one torn last line, which is
 * discarded (and cut off the file before the next append, so the file stays valid JSON Lines).
 * Lines are zod-parsed on reading: a journal edited by hand into something else stops the build with
 * the file and line named, instead of resuming from garbage.
 */
import { closeSync, existsSync, fsync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, truncateSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { z } from 'zod';
import { AppError } from '../../../src/core/errors.ts';

function fsyncFolder(folder: string): void {
  // Makes the rename itself durable; some filesystems refuse to open folders, which only weakens durability.
  try {
    const fd = openSync(folder, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not supported here: the rename is still atomic.
  }
}

/** Writes `text` to `path` so that readers (and a crash) see the old file or the new one, nothing between. */
export function writeFileAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${process.pid}`;
  const fd = openSync(temp, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  fsyncFolder(dirname(path));
}

/** Parses a JSON file written by `writeFileAtomic`, or undefined when it does not exist. */
export function readJsonFile<S extends z.ZodType>(path: string, schema: S): z.output<S> | undefined {
  if (!existsSync(path)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new AppError('invalid-input', `${path} is not valid JSON (${(error as Error).message}): delete it to rebuild that stage.`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new AppError('invalid-input', `${path} does not match this version's layout (${parsed.error.issues[0]?.message ?? 'invalid'}): delete it to rebuild that stage.`);
  return parsed.data;
}

/**
 * An append-only JSON Lines journal of finished items. `records` holds every valid line in file
 * order; `latest` the last record per key (a retried item's new record supersedes its old failure).
 */
export class Journal<T extends { key: string }> {
  readonly records: T[] = [];
  readonly latest = new Map<string, T>();
  private fd: number | undefined;

  constructor(
    readonly path: string,
    private readonly schema: z.ZodType<T>,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    if (!existsSync(path)) return;
    const bytes = readFileSync(path);
    // Everything after the last newline is a line whose append was interrupted: cut it off.
    const complete = bytes.lastIndexOf(0x0a) + 1;
    if (complete < bytes.length) truncateSync(path, complete);
    bytes
      .subarray(0, complete)
      .toString('utf8')
      .split('\n')
      .forEach((line, index) => {
        if (line.trim() === '') return;
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch (error) {
          throw new AppError('invalid-input', `${path}, line ${index + 1}: not JSON (${(error as Error).message}); delete the file to redo its stage.`);
        }
        const parsed = this.schema.safeParse(value);
        if (!parsed.success) {
          throw new AppError('invalid-input', `${path}, line ${index + 1}: ${parsed.error.issues[0]?.message ?? 'invalid record'}; delete the file to redo its stage.`);
        }
        this.remember(parsed.data);
      });
  }

  private remember(record: T): void {
    this.records.push(record);
    this.latest.set(record.key, record);
  }

  /**
   * Appends one record. When this returns the line is in the file (a kill -9 cannot lose it: the
   * kernel holds it); the fsync that makes it survive a power cut runs off the event loop, one for
   * every burst of appends, and `close` waits for it. A synchronous fsync per record would stall
   * every request in flight for the length of a disk flush.
   */
  append(record: T): void {
    const line = `${JSON.stringify(this.schema.parse(record))}\n`;
    this.fd ??= openSync(this.path, 'a');
    writeSync(this.fd, line);
    this.remember(record);
    this.requestSync(this.fd);
  }

  private dirty = false;
  private syncing: Promise<void> | undefined;
  private syncError: Error | undefined;

  private requestSync(fd: number): void {
    this.dirty = true;
    if (this.syncing) return;
    this.syncing = new Promise<void>((resolve) => {
      const flush = () => {
        this.dirty = false;
        fsync(fd, (error) => {
          if (error) this.syncError ??= error;
          if (this.dirty) flush();
          else {
            this.syncing = undefined;
            resolve();
          }
        });
      };
      flush();
    });
  }

  /** Waits for the last fsync, then closes the file. */
  async close(): Promise<void> {
    while (this.syncing) await this.syncing;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    if (this.syncError) throw new AppError('internal', `Could not flush ${this.path} to disk: ${this.syncError.message}.`);
  }
}
