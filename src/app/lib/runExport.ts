/**
 * A scoring run as files: one row per (pair, prefix) result, the same fields in CSV (for a
 * spreadsheet) and JSON Lines (for scripts), next to the full JSON document the page already wrote.
 * Pending results are left out; failed ones keep their error.
 *
 * CSV through papaparse: RFC 4180 quoting (a field holding a comma, quote, CR or LF is quoted and
 * its quotes doubled), CRLF line ends. Text cells that a spreadsheet would run as a formula (they
 * start with = + - @, tab or CR) get a leading apostrophe: pasted pairs can come from anywhere, and
 * opening a results file must not run a formula planted in a question. Numbers are written as numbers.
 */
import Papa from 'papaparse';
import type { KindAccuracy } from './accuracy.ts';
import { fileStamp } from './debounce.ts';
import type { PairResult, ScoringRun } from '../storage/records.ts';

export type RunExportFormat = 'json' | 'jsonl' | 'csv';

export const RUN_EXPORT_FORMATS: Record<RunExportFormat, { label: string; extension: string; mime: string }> = {
  json: { label: 'JSON', extension: 'json', mime: 'application/json' },
  jsonl: { label: 'JSON Lines', extension: 'jsonl', mime: 'application/jsonl' },
  csv: { label: 'CSV', extension: 'csv', mime: 'text/csv' },
};

/** One result, flat: what the run was, which pair, which prefix, and the verdict. */
export interface ResultRow {
  run_id: string;
  model: string;
  device: string;
  aggregation: string;
  convention: string;
  prompts_version: string;
  pair_id: string;
  question_type: string;
  question: string;
  preferred: string;
  dispreferred: string;
  prefix: string;
  status: 'scored' | 'failed';
  verdict: 'correct' | 'wrong' | 'tie' | '';
  margin: number | null;
  score_preferred: number | null;
  score_dispreferred: number | null;
  tokens_preferred: number | null;
  tokens_dispreferred: number | null;
  prompt_tokens: number | null;
  method: string;
  /** The engine's run-time check of its scoring method: largest difference from forced decoding. */
  check_max_abs_diff: number | null;
  error: string;
}

export const RESULT_COLUMNS = [
  'run_id', 'model', 'device', 'aggregation', 'convention', 'prompts_version', 'pair_id', 'question_type', 'question', 'preferred',
  'dispreferred', 'prefix', 'status', 'verdict', 'margin', 'score_preferred', 'score_dispreferred', 'tokens_preferred',
  'tokens_dispreferred', 'prompt_tokens', 'method', 'check_max_abs_diff', 'error',
] as const satisfies readonly (keyof ResultRow)[];

/** The run's results in pair order, then prefix order (the matrix read row by row). */
export function resultRows(run: ScoringRun, results: readonly PairResult[]): ResultRow[] {
  const byKey = new Map(results.map((result) => [`${result.kind}\u0000${result.pairId}`, result]));
  return run.pairs.flatMap((pair) =>
    run.prefixes.flatMap(({ kind }): ResultRow[] => {
      const result = byKey.get(`${kind}\u0000${pair.id}`);
      if (!result) return [];
      const common = {
        run_id: run.id,
        model: run.model.label,
        device: run.model.device,
        aggregation: run.aggregation,
        convention: run.convention,
        prompts_version: run.promptsVersion,
        pair_id: pair.id,
        question_type: pair.type ?? '',
        question: pair.prompt,
        preferred: pair.chosen,
        dispreferred: pair.rejected,
        prefix: kind,
        check_max_abs_diff: run.scoringCheck?.maxAbsDiff ?? null,
      };
      if (!result.ok) {
        const none = { margin: null, score_preferred: null, score_dispreferred: null, tokens_preferred: null, tokens_dispreferred: null, prompt_tokens: null };
        return [{ ...common, ...none, status: 'failed', verdict: '', method: '', error: result.error.message }];
      }
      return [{
        ...common,
        status: 'scored',
        verdict: result.correct ? 'correct' : result.tie ? 'tie' : 'wrong',
        margin: result.margin,
        score_preferred: result.chosen.score,
        score_dispreferred: result.rejected.score,
        tokens_preferred: result.chosen.ids.length,
        tokens_dispreferred: result.rejected.ids.length,
        prompt_tokens: result.promptTokens,
        method: result.method,
        error: '',
      }];
    }),
  );
}

export function toCsv(rows: readonly ResultRow[]): string {
  const data = rows.map((row) => RESULT_COLUMNS.map((column) => row[column] ?? ''));
  return `${Papa.unparse({ fields: [...RESULT_COLUMNS], data }, { newline: '\r\n', escapeFormulae: true })}\r\n`;
}

export function toJsonLines(rows: readonly ResultRow[]): string {
  return rows.map((row) => `${JSON.stringify(row)}\n`).join('');
}

/** The run in `format`, with its file name and type. */
export function runExportFile(
  run: ScoringRun,
  results: readonly PairResult[],
  accuracy: readonly KindAccuracy[],
  format: RunExportFormat,
): { text: string; fileName: string; mime: string } {
  const { extension, mime } = RUN_EXPORT_FORMATS[format];
  const fileName = `scoring-run-${fileStamp(run.createdAt)}.${extension}`;
  if (format === 'json') {
    // Top level, so a reader sees at once how the log-probs were computed and how well checked.
    const method = run.scoringCheck?.method ?? results.find((result) => result.ok)?.method ?? null;
    const document = { method, maxAbsDiff: run.scoringCheck?.maxAbsDiff ?? null, run, accuracy, results };
    return { text: `${JSON.stringify(document, null, 2)}\n`, fileName, mime };
  }
  const rows = resultRows(run, results);
  return { text: format === 'csv' ? toCsv(rows) : toJsonLines(rows), fileName, mime };
}
