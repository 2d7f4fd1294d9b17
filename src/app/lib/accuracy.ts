/**
 * A scoring run's accuracy per prefix kind and question type, with 95% Wilson intervals from the
 * core statistics (one person, so the per-person cells; the bootstrap over personas the paper uses
 * for its error bars needs many people). Failed pairs are counted apart, never as losses.
 */
import type { PrefixKind } from '../../core/prefixes.ts';
import { accuracyTable, type AccuracyCell, type QuestionTypeGroup } from '../../core/stats.ts';
import type { PairResult, RunPair } from '../storage/records.ts';

export type TypeKey = QuestionTypeGroup | 'all';

export interface KindAccuracy {
  kind: PrefixKind;
  cells: Partial<Record<TypeKey, AccuracyCell>>;
  scored: number;
  failed: number;
  meanMargin: number | null;
}

export function runAccuracy(kinds: readonly PrefixKind[], pairs: readonly RunPair[], results: readonly PairResult[]): KindAccuracy[] {
  const typeOf = new Map(pairs.map((pair) => [pair.id, pair.type]));
  return kinds.map((kind) => {
    const own = results.filter((result) => result.kind === kind);
    const scored = own.flatMap((result) => (result.ok ? [result] : []));
    const failed = own.length - scored.length;
    if (scored.length === 0) return { kind, cells: {}, scored: 0, failed, meanMargin: null };
    const table = accuracyTable(
      scored.map((result) => {
        const type = typeOf.get(result.pairId);
        return { correct: result.correct, tie: result.tie, ...(type !== undefined && { type }) };
      }),
      { seed: 0, resamples: 1 },
    );
    const person = table.personas[0];
    const cells: Partial<Record<TypeKey, AccuracyCell>> = { ...person?.byType };
    if (person) cells.all = person.total;
    const meanMargin = scored.reduce((total, result) => total + result.margin, 0) / scored.length;
    return { kind, cells, scored: scored.length, failed, meanMargin };
  });
}

export function formatPercent(value: number | undefined): string {
  return value === undefined || Number.isNaN(value) ? '—' : `${(value * 100).toFixed(0)}%`;
}
