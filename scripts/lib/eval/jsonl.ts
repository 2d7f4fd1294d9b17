/**
 * Crash-safe result files. Rows are appended one JSON line per write and fsynced before the
 * next unit of work starts, so `kill -9` loses at most the row being written; a resumed run
 * reads the file back, drops a torn last line (the only damage such a kill can do) and skips
 * every key already there. Whole-file outputs (summaries, prefix files) are written to a temporary
 * file, fsynced and renamed, so a reader sees either the old file or the new one.
 *
 * Failures handled: a torn last line is cut off (and reported); an unparseable line elsewhere is
 * damage this module did not cause, so it stops with the line number instead of guessing.
 */
import { existsSync } from 'node:fs';
import { open, readFile, rename, truncate, type FileHandle } from 'node:fs/promises';
import type { z } from 'zod';
import { AppError } from '../../../src/core/errors.ts';

export interface JsonlRead<Row> {
  rows: Row[];
  /** A torn last line (from a killed writer) was cut off. */
  repaired: boolean;
}

/** Every row of `path` (none when it does not exist), parsed with `schema`. */
export async function readJsonl<Schema extends z.ZodType>(path: string, schema: Schema): Promise<JsonlRead<z.output<Schema>>> {
  if (!existsSync(path)) return { rows: [], repaired: false };
  let text = await readFile(path, 'utf8');
  let repaired = false;
  if (text !== '' && !text.endsWith('\n')) {
    // The writer appends whole lines ending in "\n"; text after the last one is a torn write.
    const keep = text.lastIndexOf('\n') + 1;
    await truncate(path, Buffer.byteLength(text.slice(0, keep)));
    text = text.slice(0, keep);
    repaired = true;
  }
  const rows = text.split('\n').flatMap((line, index): z.output<Schema>[] => {
    if (line.trim() === '') return [];
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new AppError('invalid-input', `${path}, line ${index + 1}: not JSON (${(error as Error).message}); fix or delete that line, then re-run.`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new AppError('invalid-input', `${path}, line ${index + 1}: field "${issue?.path.join('.') ?? ''}": ${issue?.message ?? 'invalid'}; fix or delete that line, then re-run.`);
    }
    return [parsed.data];
  });
  return { rows, repaired };
}

/** Appends rows to a JSONL file, one fsynced write per row; writes are serialized. */
export class JsonlAppender {
  #queue: Promise<void> = Promise.resolve();

  private constructor(private readonly handle: FileHandle) {}

  static async open(path: string): Promise<JsonlAppender> {
    return new JsonlAppender(await open(path, 'a'));
  }

  /** Resolves once the row is on disk. */
  append(row: unknown): Promise<void> {
    const line = `${JSON.stringify(row)}\n`;
    const written = this.#queue.then(async () => {
      await this.handle.appendFile(line, 'utf8');
      await this.handle.sync();
    });
    // A failed write must reject its caller, not every later append.
    this.#queue = written.catch(() => undefined);
    return written;
  }

  async close(): Promise<void> {
    await this.#queue;
    await this.handle.close();
  }
}

/** Writes `text` to `path` atomically (temporary file, fsync, rename). */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
}
