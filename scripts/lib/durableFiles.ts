/**
 * Crash-safe files for every command that resumes (build-dataset's stages, eval's rows): one
 * durability rule, fsync the file and then its folder, so neither the bytes nor the directory
 * entry that names them can be lost once a write is reported done.
 *
 * - Whole files (`writeFileAtomic`): temp file, fsync, rename, fsync of the folder. After a
 *   `kill -9` or a power cut the file is the old version or the new one, never a mix.
 * - JSON Lines (`JsonlAppender`): one line per write, appended synchronously (a kill -9 cannot lose
 *   it: the kernel holds it), then fsynced off the event loop, one fsync per burst of writes;
 *   `append` resolves once that fsync covers the line. A file the appender creates has its folder
 *   fsynced too.
 * - Reading back (`readJsonLines`, `readJsonFile`): everything after the last newline is a line whose
 *   append was interrupted, the only damage a kill can do; it is cut off the file (so the next
 *   append starts a clean line) and reported. Anything else that does not parse is damage this
 *   module did not cause: it stops with the file, line and field named and `fix`, the caller's
 *   advice on what to do.
 */
import { closeSync, existsSync, fsync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, truncateSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { z } from 'zod';
import { AppError } from '../../src/core/errors.ts';

function fsyncFolder(folder: string): void {
  // Makes a rename or a new file's name durable; some filesystems refuse to open folders, which only weakens durability.
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

/** Writes `text` to `path` (creating its folder) so that readers, and a crash, see the old file or the new one. */
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

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  return issue.path.length > 0 ? `field "${issue.path.join('.')}": ${issue.message}` : issue.message;
}

/** The JSON file at `path` parsed with `schema`, or undefined when there is none. */
export function readJsonFile<Schema extends z.ZodType>(path: string, schema: Schema, fix = 'fix or delete it, then re-run'): z.output<Schema> | undefined {
  if (!existsSync(path)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new AppError('invalid-input', `${path} is not valid JSON (${(error as Error).message}): ${fix}.`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new AppError('invalid-input', `${path}: ${firstIssue(parsed.error)}: ${fix}.`);
  return parsed.data;
}

export interface JsonlRead<Row> {
  rows: Row[];
  /** A torn last line (from a killed writer) was cut off. */
  repaired: boolean;
}

/** Every line of `path` parsed with `schema` (none when there is no file), a torn last line cut off. */
export function readJsonLines<Schema extends z.ZodType>(path: string, schema: Schema, fix: string): JsonlRead<z.output<Schema>> {
  if (!existsSync(path)) return { rows: [], repaired: false };
  const bytes = readFileSync(path);
  const complete = bytes.lastIndexOf(0x0a) + 1;
  const repaired = complete < bytes.length;
  if (repaired) truncateSync(path, complete);
  const rows = bytes
    .subarray(0, complete)
    .toString('utf8')
    .split('\n')
    .flatMap((line, index): z.output<Schema>[] => {
      if (line.trim() === '') return [];
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        throw new AppError('invalid-input', `${path}, line ${index + 1}: not JSON (${(error as Error).message}); ${fix}.`);
      }
      const parsed = schema.safeParse(value);
      if (!parsed.success) throw new AppError('invalid-input', `${path}, line ${index + 1}: ${firstIssue(parsed.error)}; ${fix}.`);
      return [parsed.data];
    });
  return { rows, repaired };
}

/** Appends JSON lines to a file; see the header for when a line is durable. */
export class JsonlAppender {
  #fd: number | undefined;
  #written = 0;
  #synced = 0;
  #syncing: Promise<void> | undefined;
  #syncError: Error | undefined;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.#fd = fd;
  }

  /** Opens `path` for appending, creating it and its folder (both made durable) when missing. */
  static open(path: string): JsonlAppender {
    const created = !existsSync(path);
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(path, 'a');
    if (created) fsyncFolder(dirname(path));
    return new JsonlAppender(path, fd);
  }

  /** Writes the line now; its fsync follows off the event loop (`close` waits for it and reports a failure). */
  write(value: unknown): void {
    if (this.#fd === undefined) throw new AppError('internal', `${this.path} is closed.`);
    writeSync(this.#fd, `${JSON.stringify(value)}\n`);
    this.#written++;
    this.#syncing ??= this.#syncLoop(this.#fd);
  }

  /** Writes the line and resolves once it is on disk. */
  async append(value: unknown): Promise<void> {
    this.write(value);
    await this.#flushed(this.#written);
  }

  /** Waits for the last fsync, then closes the file. */
  async close(): Promise<void> {
    await this.#flushed(this.#written);
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  async #flushed(line: number): Promise<void> {
    while (this.#synced < line && this.#syncing) await this.#syncing;
    if (this.#syncError) throw new AppError('internal', `Could not flush ${this.path} to disk: ${this.#syncError.message}.`);
  }

  /** fsyncs until every written line is covered; a failure is kept for `append` and `close` to report. */
  async #syncLoop(fd: number): Promise<void> {
    while (this.#synced < this.#written) {
      const covered = this.#written;
      const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => fsync(fd, resolve));
      if (error) this.#syncError ??= error;
      this.#synced = covered;
    }
    this.#syncing = undefined;
  }
}
