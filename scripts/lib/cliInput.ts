/**
 * Input helpers shared by CLI commands: reading a file with a one-line error naming it and the
 * reason in words, whole-number flags, importing a pair file with every invalid row and dropped
 * duplicate reported (a text that holds no pairs at all stops in one line), the closing count of
 * skipped rows, and picking the split to score.
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import { AppError } from '../../src/core/errors.ts';
import { formatDuplicate, formatImportIssue, importPairs, invalidRowCount, type ImportOptions, type ImportResult } from '../../src/core/importPairs.ts';
import type { PreferencePair } from '../../src/core/schema.ts';
import { countOf } from '../../src/core/words.ts';
import type { Reporter } from './reporter.ts';

const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'there is no such file',
  EISDIR: 'it is a folder, not a file',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
};

/** Why a file could not be read, in words (`there is no such file`, not `ENOENT`). */
export function fileErrorReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return (code !== undefined && FILE_ERRORS[code]) || (error as Error).message;
}

export async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new AppError('invalid-input', `Cannot read the ${what} ${path}: ${fileErrorReason(error)}.`);
  }
}

export function parseInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw new InvalidArgumentError('expected a whole number.');
  return parsed;
}

/** Rows of the input that were not used. `invalid` and `conflicting` need fixing (exit 2); `repeated` are copies. */
export interface SkippedRows {
  invalid: number;
  /** Records that reused another pair's id for different content. */
  conflicting: number;
  /** Copies of earlier records. */
  repeated: number;
}

export const NO_SKIPPED_ROWS: SkippedRows = { invalid: 0, conflicting: 0, repeated: 0 };

export function addSkipped(a: SkippedRows, b: SkippedRows): SkippedRows {
  return { invalid: a.invalid + b.invalid, conflicting: a.conflicting + b.conflicting, repeated: a.repeated + b.repeated };
}

export type ReportedImport = ImportResult & {
  skipped: SkippedRows;
  /** Rows were lost that need fixing (invalid, or reusing another pair's id): the command exits 2. */
  needsFixing: boolean;
};

/**
 * Imports `text` read from `path`, warning about every invalid row and dropped duplicate. A text
 * that cannot hold pairs (empty, an HTML page, broken JSON) stops here with one line.
 */
export function importReported(text: string, path: string, reporter: Reporter, options: Omit<ImportOptions, 'fileName'> = {}): ReportedImport {
  const imported = importPairs(text, { ...options, fileName: path });
  const { fileIssue } = imported;
  if (fileIssue) {
    const sentence = /[.?!]$/.test(fileIssue.message) ? fileIssue.message : `${fileIssue.message}.`;
    throw new AppError('invalid-input', `${path}${fileIssue.line > 1 ? `, line ${fileIssue.line}` : ''}: ${sentence}`);
  }
  for (const issue of imported.issues) reporter.warn(`${path}: ${formatImportIssue(issue)}`);
  for (const duplicate of imported.duplicates) reporter.warn(`${path}: ${formatDuplicate(duplicate)}`);
  const skipped: SkippedRows = {
    invalid: invalidRowCount(imported),
    conflicting: imported.duplicates.filter((duplicate) => duplicate.conflict).length,
    repeated: imported.duplicates.filter((duplicate) => !duplicate.conflict).length,
  };
  return { ...imported, skipped, needsFixing: skipped.invalid > 0 || skipped.conflicting > 0 };
}

/** The line a run ends with when it skipped rows, e.g. `3 rows skipped: 2 invalid, 1 repeating an earlier row (see warnings above)`. */
export function skippedRowsLine(skipped: SkippedRows): string | undefined {
  const total = skipped.invalid + skipped.conflicting + skipped.repeated;
  if (total === 0) return undefined;
  const kinds = [
    skipped.invalid > 0 ? `${skipped.invalid} invalid` : '',
    skipped.conflicting > 0 ? `${skipped.conflicting} reusing another pair's id` : '',
    skipped.repeated > 0 ? `${skipped.repeated} repeating an earlier row` : '',
  ].filter((kind) => kind !== '');
  return `${countOf(total, 'row')} skipped${kinds.length > 1 ? `: ${kinds.join(', ')}` : ''} (see warnings above)`;
}

/** Ends a run with the skipped-rows line, when rows were skipped. */
export function reportSkippedRows(reporter: Reporter, skipped: SkippedRows): void {
  const line = skippedRowsLine(skipped);
  if (line !== undefined) reporter.warn(line);
}

export const SPLIT_CHOICES = ['auto', 'train', 'test', 'all'] as const;
export type SplitChoice = (typeof SPLIT_CHOICES)[number];

/** `auto`: the test pairs when there are any, else all. */
export function selectSplit(pairs: readonly PreferencePair[], split: SplitChoice): PreferencePair[] {
  if (split === 'all') return [...pairs];
  const wanted = split === 'auto' ? (pairs.some((pair) => pair.split === 'test') ? 'test' : undefined) : split;
  return wanted ? pairs.filter((pair) => pair.split === wanted) : [...pairs];
}
