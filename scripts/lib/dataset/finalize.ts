/**
 * The last stage: stage records → pairs, the authors' layouts and the dataset card, every file
 * checked against its schema and written atomically. Runs from the journals alone, so it is
 * repeated whole on every run (cheap) and yields identical bytes for identical records.
 */
import { join } from 'node:path';
import { assemblePairs, judgeRows, provenanceFor, type Assembled } from '../../../src/core/dataset/assemble.ts';
import { datasetCard, type StageFailures } from '../../../src/core/dataset/card.ts';
import { datasetFiles } from '../../../src/core/dataset/outputs.ts';
import type { FilterRecord, JudgeBatchRecord, PersonaRecord, PersonaSelectionRecord, Question, QuestionSetRecord, ResponsesRecord } from '../../../src/core/dataset/records.ts';
import { PROMPTS_VERSION } from '../../../src/core/prompts.ts';
import { AuthorsFormattedRecord, AuthorsRawRecord, PreferencePair } from '../../../src/core/schema.ts';
import { AppError } from '../../../src/core/errors.ts';
import type { StageContext } from './context.ts';
import type { Journal } from './journal.ts';
import { writeFileAtomic } from '../durableFiles.ts';
import { decidedMatches } from './stageJudge.ts';

type Ok<T> = Extract<T, { ok: true }>;

export function okRecords<T extends { key: string; ok: boolean }>(journal: Journal<T>): Map<string, Ok<T>> {
  const map = new Map<string, Ok<T>>();
  for (const [key, record] of journal.latest) if (record.ok) map.set(key, record as Ok<T>);
  return map;
}

/** Failures per stage, from the latest record of every item. */
export function stageFailures(stage: string, journal: Journal<{ key: string; ok: boolean; error?: string }> | undefined, examples = 3): StageFailures {
  const records = journal ? [...journal.latest.values()] : [];
  // Sorted by key: the journal's order is the order items finished in, which varies between runs.
  const failed = records.filter((record) => !record.ok).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { stage, items: records.length, failed: failed.length, examples: failed.slice(0, examples).map((record) => `${record.key}: ${record.error ?? ''}`) };
}

export interface Journals {
  selection?: Journal<PersonaSelectionRecord>;
  questions?: Journal<QuestionSetRecord>;
  responses: Journal<ResponsesRecord>;
  filter: Journal<FilterRecord>;
  judge: Journal<JudgeBatchRecord>;
}

export interface FinalizeResult extends Assembled {
  failures: StageFailures[];
  /** Failed items a re-run will retry (their calls failed). */
  retryable: number;
  files: string[];
}

/** Refuses to write a file that would not read back: every line is parsed with the schema it claims. */
function checkLines(path: string, text: string, check: (value: unknown) => void): void {
  text.split('\n').forEach((line, index) => {
    if (line === '') return;
    try {
      check(JSON.parse(line));
    } catch (error) {
      throw new AppError('internal', `${path}, line ${index + 1} would not match its layout: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
}

export function finalize(context: StageContext, personas: readonly PersonaRecord[], questions: readonly Question[], journals: Journals, configHash: string): FinalizeResult {
  const { config } = context;
  const responses = okRecords(journals.responses);
  const filters = okRecords(journals.filter);
  const matches = decidedMatches(journals.judge);
  const models = context.roles.ids();
  const assembled = assemblePairs({ config, personas, questions, responses, filters, matches, provenance: provenanceFor(config, models, configHash) });

  const rows = judgeRows(questions, personas, responses, filters);
  const latestMatches = new Map<string, { ok: boolean; error?: string; retryable?: boolean }>();
  for (const record of journals.judge.records) for (const result of record.results) latestMatches.set(result.matchId, result);
  const judgeFailed = [...latestMatches.entries()].filter(([, result]) => !result.ok).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const failures: StageFailures[] = [
    ...(journals.selection ? [stageFailures('personas (G.1)', journals.selection)] : []),
    ...(journals.questions ? [stageFailures('questions (G.2)', journals.questions)] : []),
    stageFailures('answers (baseline)', journals.responses),
    stageFailures('reward window + k-means', journals.filter),
    {
      stage: 'judge matches (G.4)',
      items: latestMatches.size,
      failed: judgeFailed.length,
      examples: judgeFailed.slice(0, 3).map(([id, result]) => `${id}: ${result.error ?? ''}`),
    },
    { stage: 'rows without a label', items: rows.length, failed: assembled.unlabeled.length, examples: assembled.unlabeled.slice(0, 3).map((row) => `${row.rowId}: ${row.error}`) },
  ];
  const retryable =
    [journals.selection, journals.questions, journals.responses, journals.filter].reduce(
      (sum, journal) => sum + (journal ? [...journal.latest.values()].filter((record) => !record.ok && record.retryable).length : 0),
      0,
    ) + judgeFailed.filter(([, result]) => result.retryable === true).length;

  for (const pair of assembled.pairs) PreferencePair.parse(pair);
  const { files, formattedDir } = datasetFiles(assembled.pairs, personas, config);
  for (const [path, text] of files) {
    if (path === 'pairs.jsonl') checkLines(path, text, (value) => PreferencePair.parse(value));
    else if (path.startsWith(`${formattedDir}/`)) checkLines(path, text, (value) => AuthorsFormattedRecord.parse(value));
    else if (/^authors\/(train|test)_/u.test(path)) checkLines(path, text, (value) => AuthorsRawRecord.parse(value));
  }
  files.set(
    'DATASET_CARD.md',
    datasetCard({ config, personas, pairs: assembled.pairs, failures, unlabeled: assembled.unlabeled.length, unused: assembled.unused, models, promptsVersion: PROMPTS_VERSION, configHash, formattedDir, embedder: context.roles.embedder.pipeline }),
  );
  for (const [path, text] of files) writeFileAtomic(join(context.outDir, path), text);
  return { ...assembled, failures, retryable, files: [...files.keys()].sort() };
}
