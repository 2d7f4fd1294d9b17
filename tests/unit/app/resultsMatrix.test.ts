/**
 * The results matrix (src/app/lib/resultsMatrix.ts): rows of test pairs, a cell per prefix kind,
 * the "only wrong" and "flipped by the prefix" filters, search over the question and sorting by
 * one kind's margin. Built from hand-written results whose verdicts are known.
 */
import { describe, expect, it } from 'vitest';
import type { PrefixKind } from '../../../src/core/prefixes.ts';
import { buildMatrix, canFindFlips, nextSort, queryMatrix, sortByMargin, type MatrixQuery } from '../../../src/app/lib/resultsMatrix.ts';
import type { PairResult, RunPair, ScoringRun } from '../../../src/app/storage/records.ts';

const PAIRS: RunPair[] = [
  { id: 'p1', prompt: 'How should I plan my week?', chosen: 'a', rejected: 'b', type: 'personal' },
  { id: 'p2', prompt: 'Which  CITY should I visit?', chosen: 'a', rejected: 'b', type: 'divergent' },
  { id: 'p3', prompt: 'What should I cook tonight?', chosen: 'a', rejected: 'b' },
  { id: 'p4', prompt: 'Café or tea house?', chosen: 'a', rejected: 'b' },
];

function run(kinds: PrefixKind[]): Pick<ScoringRun, 'pairs' | 'prefixes'> {
  return { pairs: PAIRS, prefixes: kinds.map((kind) => ({ kind, spec: { kind: 'none' } })) };
}

function scored(pairId: string, kind: PrefixKind, margin: number): PairResult {
  const answer = (score: number) => ({ ids: [1, 2], logprobs: [score, score], score });
  return { runId: 'r', kind, pairId, finishedAt: 0, ok: true, chosen: answer(margin), rejected: answer(0), correct: margin > 0, tie: margin === 0, margin, promptTokens: 5, method: 'one-pass' };
}

function failed(pairId: string, kind: PrefixKind): PairResult {
  return { runId: 'r', kind, pairId, finishedAt: 0, ok: false, error: { code: 'context-exceeded', message: 'too long' } };
}

// none vs persona: p1 right under both; p2 wrong without, right with (helped); p3 right without,
// a tie with (hurt); p4 wrong under both, and its persona cell failed.
const RESULTS = [
  scored('p1', 'none', 0.5), scored('p1', 'persona', 0.25),
  scored('p2', 'none', -0.3), scored('p2', 'persona', 0.1),
  scored('p3', 'none', 0.05), scored('p3', 'persona', 0),
  scored('p4', 'none', -1), failed('p4', 'persona'),
];
const ALL: MatrixQuery = { filter: 'all', search: '', sort: null };
const ids = (rows: { pair: RunPair }[]) => rows.map((row) => row.pair.id);

describe('the results matrix', () => {
  it('has a row per pair and a cell per prefix kind, in run order, with each verdict and margin', () => {
    const rows = buildMatrix(run(['none', 'persona']), RESULTS);
    expect(ids(rows)).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(rows.map((row) => row.cells.map((cell) => cell.state))).toEqual([
      ['correct', 'correct'],
      ['wrong', 'correct'],
      ['correct', 'tie'],
      ['wrong', 'failed'],
    ]);
    expect(rows[1]?.cells.map((cell) => cell.margin)).toEqual([-0.3, 0.1]);
    expect(rows[3]?.cells[1]?.margin).toBeNull();
  });

  it('marks cells still to score as pending', () => {
    const rows = buildMatrix(run(['none', 'persona']), RESULTS.slice(0, 3));
    expect(rows[1]?.cells.map((cell) => cell.state)).toEqual(['wrong', 'pending']);
    expect(rows[2]?.cells.map((cell) => cell.state)).toEqual(['pending', 'pending']);
  });

  it('"only wrong" keeps pairs with any wrong or tied cell', () => {
    expect(ids(queryMatrix(buildMatrix(run(['none', 'persona']), RESULTS), { ...ALL, filter: 'wrong' }))).toEqual(['p2', 'p3', 'p4']);
  });

  it('"flipped by the prefix" keeps pairs a prefix turned right or wrong against no prefix, with the direction', () => {
    const rows = buildMatrix(run(['none', 'persona']), RESULTS);
    const flipped = queryMatrix(rows, { ...ALL, filter: 'flipped' });
    expect(ids(flipped)).toEqual(['p2', 'p3']);
    expect(flipped.map((row) => row.flips)).toEqual([[{ kind: 'persona', flip: 'helped' }], [{ kind: 'persona', flip: 'hurt' }]]);
    // A failed cell flips nothing: there is no verdict to compare.
    expect(rows[3]?.flips).toEqual([]);
  });

  it('finds no flips without a no-prefix column, and says so', () => {
    const rows = buildMatrix(run(['persona']), RESULTS);
    expect(queryMatrix(rows, { ...ALL, filter: 'flipped' })).toEqual([]);
    expect(canFindFlips(['persona'])).toBe(false);
    expect(canFindFlips(['none'])).toBe(false);
    expect(canFindFlips(['none', 'gold'])).toBe(true);
  });

  it('searches the question ignoring case, accents of composition and runs of spaces', () => {
    const rows = buildMatrix(run(['none', 'persona']), RESULTS);
    expect(ids(queryMatrix(rows, { ...ALL, search: 'which city' }))).toEqual(['p2']);
    expect(ids(queryMatrix(rows, { ...ALL, search: '  SHOULD I ' }))).toEqual(['p1', 'p2', 'p3']);
    expect(ids(queryMatrix(rows, { ...ALL, search: 'cafe\u0301' }))).toEqual(['p4']);
    expect(ids(queryMatrix(rows, { ...ALL, search: 'nothing like this' }))).toEqual([]);
    // Filters and search combine.
    expect(ids(queryMatrix(rows, { ...ALL, filter: 'wrong', search: 'should' }))).toEqual(['p2', 'p3']);
  });

  it('sorts by one kind’s margin either way, rows without a margin last in run order', () => {
    const rows = buildMatrix(run(['none', 'persona']), RESULTS);
    expect(ids(sortByMargin(rows, { kind: 'none', direction: 'ascending' }))).toEqual(['p4', 'p2', 'p3', 'p1']);
    expect(ids(sortByMargin(rows, { kind: 'none', direction: 'descending' }))).toEqual(['p1', 'p3', 'p2', 'p4']);
    expect(ids(sortByMargin(rows, { kind: 'persona', direction: 'ascending' }))).toEqual(['p3', 'p2', 'p1', 'p4']);
    expect(ids(sortByMargin(rows, { kind: 'persona', direction: 'descending' }))).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(ids(queryMatrix(rows, { filter: 'wrong', search: '', sort: { kind: 'none', direction: 'ascending' } }))).toEqual(['p4', 'p2', 'p3']);
  });

  it('a margin header cycles ascending, descending, off; another header starts ascending', () => {
    const first = nextSort(null, 'none');
    expect(first).toEqual({ kind: 'none', direction: 'ascending' });
    const second = nextSort(first, 'none');
    expect(second).toEqual({ kind: 'none', direction: 'descending' });
    expect(nextSort(second, 'none')).toBeNull();
    expect(nextSort(second, 'persona')).toEqual({ kind: 'persona', direction: 'ascending' });
  });
});
