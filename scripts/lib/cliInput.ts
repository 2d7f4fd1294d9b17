/**
 * Input helpers shared by CLI commands: reading a file with a one-line error naming it, whole-
 * number flags, importing a pair file with every invalid row and duplicate reported, and picking
 * the split to score.
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import { AppError } from '../../src/core/errors.ts';
import { importPairs, type ImportOptions, type ImportResult } from '../../src/core/importPairs.ts';
import type { PreferencePair } from '../../src/core/schema.ts';
import type { Reporter } from './reporter.ts';

export async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new AppError('invalid-input', `Cannot read the ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
  }
}

export function parseInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw new InvalidArgumentError('expected a whole number.');
  return parsed;
}

/** Imports `text` read from `path`, warning about every invalid row and dropped duplicate. */
export function importReported(text: string, path: string, reporter: Reporter, options: Omit<ImportOptions, 'fileName'> = {}): ImportResult {
  const imported = importPairs(text, { ...options, fileName: path });
  for (const issue of imported.issues) reporter.warn(`${path}: line ${issue.line}${issue.field ? `, field "${issue.field}"` : ''}: ${issue.message}`);
  for (const duplicate of imported.duplicates) {
    reporter.warn(`${path}: line ${duplicate.line} duplicates line ${duplicate.firstLine} (${duplicate.reason}); kept the first.`);
  }
  return imported;
}

export const SPLIT_CHOICES = ['auto', 'train', 'test', 'all'] as const;
export type SplitChoice = (typeof SPLIT_CHOICES)[number];

/** `auto`: the test pairs when there are any, else all. */
export function selectSplit(pairs: readonly PreferencePair[], split: SplitChoice): PreferencePair[] {
  if (split === 'all') return [...pairs];
  const wanted = split === 'auto' ? (pairs.some((pair) => pair.split === 'test') ? 'test' : undefined) : split;
  return wanted ? pairs.filter((pair) => pair.split === wanted) : [...pairs];
}
