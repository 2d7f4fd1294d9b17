/**
 * A scoring run as a matrix: one row per test pair, one cell per prefix kind of the run, and the
 * questions a reader asks of it (promptfoo's viewer asks the same): which pairs does the model get
 * wrong, which did a prefix flip against no prefix, which are closest to the decision boundary,
 * where is the pair about X. Pure functions of the run and its results, so the page only shows them.
 */
import type { PrefixKind } from '../../core/prefixes.ts';
import type { PairResult, RunPair, ScoringRun } from '../storage/records.ts';

/** A cell's verdict: a tie counts as a loss (eq. 3 needs a strictly higher score), apart for display. */
export type CellState = 'pending' | 'correct' | 'wrong' | 'tie' | 'failed';

export interface MatrixCell {
  kind: PrefixKind;
  state: CellState;
  /** Score of the preferred minus the dispreferred answer, when scored. */
  margin: number | null;
  result: PairResult | undefined;
}

/** How a prefix changed the verdict against the run's no-prefix cell. */
export type Flip = 'helped' | 'hurt';

export interface MatrixRow {
  pair: RunPair;
  /** In the run's prefix order. */
  cells: MatrixCell[];
  /** Prefix kinds whose verdict differs from no prefix's, with the direction. */
  flips: { kind: PrefixKind; flip: Flip }[];
}

export type RowFilter = 'all' | 'wrong' | 'flipped';

export interface MarginSort {
  kind: PrefixKind;
  direction: 'ascending' | 'descending';
}

export interface MatrixQuery {
  filter: RowFilter;
  search: string;
  /** Null: the run's pair order. */
  sort: MarginSort | null;
}

export const BASELINE_KIND: PrefixKind = 'none';

function cellOf(kind: PrefixKind, result: PairResult | undefined): MatrixCell {
  if (!result) return { kind, state: 'pending', margin: null, result };
  if (!result.ok) return { kind, state: 'failed', margin: null, result };
  return { kind, state: result.correct ? 'correct' : result.tie ? 'tie' : 'wrong', margin: result.margin, result };
}

function scored(cell: MatrixCell | undefined): cell is MatrixCell & { state: 'correct' | 'wrong' | 'tie' } {
  return cell !== undefined && (cell.state === 'correct' || cell.state === 'wrong' || cell.state === 'tie');
}

export function buildMatrix(run: Pick<ScoringRun, 'pairs' | 'prefixes'>, results: readonly PairResult[]): MatrixRow[] {
  const byKey = new Map(results.map((result) => [`${result.kind}\u0000${result.pairId}`, result]));
  return run.pairs.map((pair) => {
    const cells = run.prefixes.map(({ kind }) => cellOf(kind, byKey.get(`${kind}\u0000${pair.id}`)));
    const baseline = cells.find((cell) => cell.kind === BASELINE_KIND);
    const flips: MatrixRow['flips'] = [];
    if (scored(baseline)) {
      for (const cell of cells) {
        if (cell.kind === BASELINE_KIND || !scored(cell)) continue;
        const right = cell.state === 'correct';
        if (right !== (baseline.state === 'correct')) flips.push({ kind: cell.kind, flip: right ? 'helped' : 'hurt' });
      }
    }
    return { pair, cells, flips };
  });
}

/** Whether the "flipped by the prefix" filter can mean anything: the run scored no prefix and at least one other kind. */
export function canFindFlips(kinds: readonly PrefixKind[]): boolean {
  return kinds.includes(BASELINE_KIND) && kinds.some((kind) => kind !== BASELINE_KIND);
}

function normalized(text: string): string {
  return text.normalize('NFKC').toLocaleLowerCase().replace(/\s+/g, ' ').trim();
}

function keeps(row: MatrixRow, filter: RowFilter): boolean {
  switch (filter) {
    case 'all':
      return true;
    case 'wrong':
      return row.cells.some((cell) => cell.state === 'wrong' || cell.state === 'tie');
    case 'flipped':
      return row.flips.length > 0;
  }
}

function marginOf(row: MatrixRow, kind: PrefixKind): number | null {
  return row.cells.find((cell) => cell.kind === kind)?.margin ?? null;
}

/** Rows by one kind's margin; rows without a margin there (pending, failed) go last, in run order. */
export function sortByMargin(rows: readonly MatrixRow[], sort: MarginSort): MatrixRow[] {
  const sign = sort.direction === 'ascending' ? 1 : -1;
  return rows
    .map((row, index) => ({ row, index, margin: marginOf(row, sort.kind) }))
    .sort((a, b) => {
      if (a.margin === null || b.margin === null) return (a.margin === null ? 1 : 0) - (b.margin === null ? 1 : 0) || a.index - b.index;
      return sign * (a.margin - b.margin) || a.index - b.index;
    })
    .map(({ row }) => row);
}

/** The rows a query shows: filtered, searched (question text, case- and spacing-insensitive), sorted. */
export function queryMatrix(rows: readonly MatrixRow[], query: MatrixQuery): MatrixRow[] {
  const needle = normalized(query.search);
  const kept = rows.filter((row) => keeps(row, query.filter) && (needle === '' || normalized(row.pair.prompt).includes(needle)));
  return query.sort ? sortByMargin(kept, query.sort) : kept;
}

/** The next sort when a kind's margin header is pressed: ascending (closest calls and losses first), descending, off. */
export function nextSort(current: MarginSort | null, kind: PrefixKind): MarginSort | null {
  if (current?.kind !== kind) return { kind, direction: 'ascending' };
  return current.direction === 'ascending' ? { kind, direction: 'descending' } : null;
}
