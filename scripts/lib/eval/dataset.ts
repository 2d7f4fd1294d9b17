/**
 * Loads an evaluation dataset: one pair file (JSON, JSON Lines or CSV in any shape the core
 * imports, including our pair-set JSON with `personas`), or a folder of them as the authors lay
 * theirs out (`train_*.json`, `test_*.json` JSON Lines, spec §1.1, with `personas.json` beside
 * them). In a folder, a file whose name starts with `train`/`test` gives its records that split
 * when they carry none, and a file named `personas*` is read as persona texts.
 *
 * Failures handled: invalid rows are reported with file and line and skipped (the run goes on
 * with the valid ones, as `score` does); a file that holds no pairs at all (empty, an HTML page,
 * broken JSON), a dataset with no valid pair, or a pair without a persona stops with a message
 * saying what to fix.
 */
import { existsSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { AppError } from '../../../src/core/errors.ts';
import { fingerprint } from '../../../src/core/eval/fingerprint.ts';
import { importPersonas } from '../../../src/core/personas.ts';
import type { Persona, PreferencePair, Split } from '../../../src/core/schema.ts';
import { countOf } from '../../../src/core/words.ts';
import { addSkipped, importReported, NO_SKIPPED_ROWS, readText, type SkippedRows } from '../cliInput.ts';
import type { Reporter } from '../reporter.ts';

export type NamedPair = PreferencePair & { persona: string };

export interface EvalDataset {
  source: string;
  pairs: NamedPair[];
  /** Persona texts found in the dataset (a pair set's `personas`, or a `personas*` file). */
  personas: Persona[];
  /** Persona names in order of first appearance: the order of tags, shuffles and reports. */
  names: string[];
  fingerprint: string;
  /** Rows that need fixing (invalid, or reusing another pair's id; reported as warnings): the run exits 2. */
  invalidRows: number;
  /** Rows not used, for the run's closing line (cliInput.ts `reportSkippedRows`). */
  skipped: SkippedRows;
}

const PAIR_FILE = /\.(jsonl?|ndjson|csv|tsv)$/i;

export async function loadEvalDataset(path: string, reporter: Reporter): Promise<EvalDataset> {
  if (!existsSync(path)) throw new AppError('invalid-input', `Cannot read the dataset ${path}: there is no such file or folder.`);
  const files = statSync(path).isDirectory()
    ? (await readdir(path)).filter((name) => PAIR_FILE.test(name)).sort().map((name) => join(path, name))
    : [path];
  const pairs: PreferencePair[] = [];
  const personas: Persona[] = [];
  let invalidRows = 0;
  let skipped = NO_SKIPPED_ROWS;
  for (const file of files) {
    const name = basename(file).toLowerCase();
    const text = await readText(file, 'dataset file');
    if (files.length > 1 && name.startsWith('personas')) {
      personas.push(...importPersonas(text, file));
      continue;
    }
    const split: Split | undefined = name.startsWith('train') ? 'train' : name.startsWith('test') ? 'test' : undefined;
    const imported = importReported(text, file, reporter, split ? { defaults: { split } } : {});
    invalidRows += imported.skipped.invalid + imported.skipped.conflicting;
    skipped = addSkipped(skipped, imported.skipped);
    pairs.push(...imported.pairs);
    personas.push(...(imported.personas ?? []));
  }
  if (pairs.length === 0) {
    throw new AppError('invalid-input', `${path} has no valid pairs (${countOf(skipped.invalid, 'invalid row')} listed above): fix them and re-run.`);
  }
  const unnamed = pairs.filter((pair) => pair.persona === undefined);
  if (unnamed.length > 0) {
    throw new AppError(
      'invalid-input',
      `${countOf(unnamed.length, 'pair')} of ${path} name${unnamed.length === 1 ? 's' : ''} no persona (first: ${unnamed[0]?.id}): eval compares personas, so give each pair a "persona" (or the authors' "name").`,
    );
  }
  const named = pairs as NamedPair[];
  const ids = new Set<string>();
  for (const pair of named) {
    if (ids.has(pair.id)) throw new AppError('invalid-input', `Pair id "${pair.id}" occurs in more than one file of ${path}: ids must be unique across the dataset.`);
    ids.add(pair.id);
  }
  return {
    source: path,
    pairs: named,
    personas,
    names: [...new Set(named.map((pair) => pair.persona))],
    fingerprint: fingerprint(named.flatMap((pair) => [pair.id, pair.persona, pair.split ?? '', pair.type ?? '', pair.prompt, pair.chosen, pair.rejected])),
    invalidRows,
    skipped,
  };
}
