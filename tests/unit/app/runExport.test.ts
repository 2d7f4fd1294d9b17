/**
 * Scoring runs as CSV and JSON Lines (src/app/lib/runExport.ts): one row per result in matrix
 * order, RFC 4180 quoting checked against hand-written text and by reading the file back, formula
 * cells defused, numbers kept as numbers, failures kept with their message.
 */
import Papa from 'papaparse';
import { describe, expect, it } from 'vitest';
import { RESULT_COLUMNS, resultRows, runExportFile, toCsv, toJsonLines } from '../../../src/app/lib/runExport.ts';
import type { PairResult, ScoringRun } from '../../../src/app/storage/records.ts';

const TRICKY = [
  'Plain question?',
  'Commas, "quotes" and a\nnew line',
  'Windows line\r\nend',
  '=HYPERLINK("https://evil.invalid","click")',
  '-1 is a number, +1 too, @mention',
  '  spaces kept  ',
  'Unicode: 日本語 ✓ 👩‍🔬',
  '',
];

const RUN: ScoringRun = {
  id: 'run-1',
  pairSetId: 'set',
  person: 'Ada',
  createdAt: Date.UTC(2026, 0, 2, 3, 4, 5),
  status: 'done',
  model: { id: 'tiny', label: 'Tiny, "test" Llama', backend: 'transformers', device: 'wasm' },
  convention: 'authors',
  aggregation: 'mean',
  seed: 0,
  promptsVersion: 'v1',
  prefixes: [{ kind: 'none', spec: { kind: 'none' } }, { kind: 'gold', spec: { kind: 'gold', text: 'x' } }],
  pairs: TRICKY.map((prompt, index) => ({ id: `p${index}`, prompt, chosen: `chosen ${prompt}`, rejected: 'no', ...(index % 2 === 0 && { type: 'personal' as const }) })),
};

function result(pairId: string, kind: 'none' | 'gold', margin: number): PairResult {
  return {
    runId: RUN.id, kind, pairId, finishedAt: 0, ok: true,
    chosen: { ids: [1, 2, 3], logprobs: [-1, -1, -1], score: -1 + margin },
    rejected: { ids: [4, 5], logprobs: [-1, -1], score: -1 },
    correct: margin > 0, tie: margin === 0, margin, promptTokens: 7, method: 'one-pass',
  };
}

const RESULTS: PairResult[] = [
  ...RUN.pairs.map((pair, index) => result(pair.id, 'none', index % 3 === 0 ? -0.25 : 0.5)),
  ...RUN.pairs.slice(1).map((pair) => result(pair.id, 'gold', 0)),
  { runId: RUN.id, kind: 'gold', pairId: 'p0', finishedAt: 0, ok: false, error: { code: 'context-exceeded', message: 'Too long, "by far"' } },
];

describe('scoring run export', () => {
  const rows = resultRows(RUN, RESULTS);

  it('has one row per result in pair then prefix order, with verdicts, scores and failures', () => {
    expect(rows.map((row) => `${row.pair_id}/${row.prefix}`)).toEqual(RUN.pairs.flatMap((pair) => [`${pair.id}/none`, `${pair.id}/gold`]));
    expect(rows[0]).toMatchObject({ status: 'scored', verdict: 'wrong', margin: -0.25, score_preferred: -1.25, score_dispreferred: -1, tokens_preferred: 3, tokens_dispreferred: 2, question_type: 'personal', model: 'Tiny, "test" Llama' });
    expect(rows[1]).toMatchObject({ status: 'failed', verdict: '', margin: null, error: 'Too long, "by far"' });
    expect(rows[3]).toMatchObject({ prefix: 'gold', verdict: 'tie', question_type: '' });
  });

  it('leaves out results not scored yet', () => {
    expect(resultRows(RUN, RESULTS.slice(0, 2)).map((row) => `${row.pair_id}/${row.prefix}`)).toEqual(['p0/none', 'p1/none']);
  });

  it('quotes CSV fields as RFC 4180 says, checked against hand-written lines', () => {
    const csv = toCsv(rows);
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe(RESULT_COLUMNS.join(','));
    expect(csv.endsWith('\r\n')).toBe(true);
    // A field with a comma or quote is quoted, its quotes doubled; a line break stays inside the quotes.
    expect(csv).toContain(',"Tiny, ""test"" Llama",');
    expect(csv).toContain(',"Commas, ""quotes"" and a\nnew line",');
    expect(csv).toContain(',"Windows line\r\nend",');
    expect(csv).toContain(',"Too long, ""by far"""\r\n');
    // Plain text is not quoted; numbers are plain, negative ones included.
    expect(csv).toContain(',p0,personal,Plain question?,chosen Plain question?,no,none,scored,wrong,-0.25,-1.25,-1,3,2,7,one-pass,,\r\n');
  });

  it('reads back to the same rows, except that formula cells start with an apostrophe', () => {
    const parsed = Papa.parse<Record<string, string>>(toCsv(rows), { header: true, skipEmptyLines: true });
    expect(parsed.errors).toEqual([]);
    expect(parsed.data).toHaveLength(rows.length);
    for (const [index, row] of rows.entries()) {
      const back = parsed.data[index];
      for (const column of RESULT_COLUMNS) {
        const value = row[column];
        const text = value === null ? '' : String(value);
        const defused = typeof value === 'string' && /^[=+\-@\t\r]/.test(value) ? `'${text}` : text;
        expect(back?.[column], `${column} of row ${index}`).toBe(defused);
      }
    }
    expect(parsed.data.find((row) => row.pair_id === 'p3')?.question).toBe(`'${TRICKY[3]}`);
    expect(parsed.data.find((row) => row.pair_id === 'p4')?.question).toBe(`'${TRICKY[4]}`);
    expect(parsed.data.find((row) => row.pair_id === 'p5')?.question).toBe(TRICKY[5]);
  });

  it('writes JSON Lines: one object per result that parses back equal', () => {
    const text = toJsonLines(rows);
    const lines = text.split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1).map((line) => JSON.parse(line) as unknown)).toEqual(rows);
  });

  it('names each format’s file after the run and keeps the full JSON document', () => {
    const accuracy: never[] = [];
    const csv = runExportFile(RUN, RESULTS, accuracy, 'csv');
    const jsonl = runExportFile(RUN, RESULTS, accuracy, 'jsonl');
    const json = runExportFile(RUN, RESULTS, accuracy, 'json');
    expect([csv.fileName, jsonl.fileName, json.fileName].map((name) => name.replace(/^scoring-run-[\w-]+/, ''))).toEqual(['.csv', '.jsonl', '.json']);
    expect(csv.fileName.replace(/\.csv$/, '')).toBe(json.fileName.replace(/\.json$/, ''));
    expect([csv.mime, jsonl.mime, json.mime]).toEqual(['text/csv', 'application/jsonl', 'application/json']);
    expect(JSON.parse(json.text)).toEqual({ method: 'one-pass', maxAbsDiff: null, run: RUN, accuracy, results: RESULTS });
    // A run the engine checked carries the check's method and difference, in every format.
    const checked: ScoringRun = { ...RUN, scoringCheck: { method: 'forced-decode', maxAbsDiff: 0.7, meanAbsDiff: 0.1, repeatMaxAbsDiff: 0, tokens: 4, reason: 'disagreed', subject: 'tiny' } };
    expect(JSON.parse(runExportFile(checked, RESULTS, accuracy, 'json').text)).toMatchObject({ method: 'forced-decode', maxAbsDiff: 0.7 });
    expect(resultRows(checked, RESULTS)[0]?.check_max_abs_diff).toBe(0.7);
  });
});
