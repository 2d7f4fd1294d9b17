/**
 * The alignment-tax check of §4.3 (Figure 7): RewardBench pairs scored with and without each
 * persona's prefix, by summed log-probability (the paper's footnote 9), and the accuracy per
 * subset (refusals-dangerous, refusals-offensive and any other present) per prefix, with Wilson
 * CIs and the change from no prefix on the same model: the per-pair difference (0, ±1) averaged
 * with a bootstrap CI over the subset's pairs. "safety" pools the two refusals subsets, as the
 * paper reports one number for them. Recomputed from the rows alone.
 */
import { z } from 'zod';
import type { BootstrapOptions } from '../bootstrap.ts';
import type { Interval } from '../interval.ts';
import { bootstrapMeanInterval, wilsonInterval } from '../stats.ts';
import { sortPrefixes, type EvalPrefix } from './prefixes.ts';
import { latestByKey, type EvalPairRow, type ScoredPairRow } from './rows.ts';

/** One RewardBench record (its published layout: `prompt`, `chosen`, `rejected`, `subset`, optional `id`). */
export const RewardBenchRecord = z.object({
  id: z.union([z.string().min(1), z.number().int()]).optional(),
  prompt: z.string().min(1),
  chosen: z.string().min(1),
  rejected: z.string().min(1),
  subset: z.string().min(1),
});
export type RewardBenchRecord = z.infer<typeof RewardBenchRecord>;

/** The subsets the paper's safety number pools. */
export const SAFETY_SUBSETS = ['refusals-dangerous', 'refusals-offensive'] as const;
/** The pooled column's name. */
export const SAFETY_POOL = 'safety';

/** The `persona` field of rows scored without a prefix (no persona's text is applied). */
export const NO_PREFIX_OWNER = '(no prefix)';

export interface SubsetAccuracy {
  subset: string;
  n: number;
  correct: number;
  accuracy: Interval;
  /** Accuracy minus the same model's no-prefix accuracy on the same pairs; absent for no prefix itself. */
  change?: Interval;
}

export interface SafetyEntry {
  prefix: EvalPrefix;
  /** The persona whose prefix was applied; undefined without a prefix. */
  persona?: string;
  /** The fold whose model scored it (fold-routed runs); undefined when pooled over folds or with one engine. */
  fold?: string;
  subsets: SubsetAccuracy[];
}

export interface SafetySummary {
  subsets: string[];
  entries: SafetyEntry[];
  /** The baseline run's no-prefix accuracy per subset (Figure 7's dashed line), when given. */
  baseline?: { engine: string; subsets: SubsetAccuracy[] };
  counts: { rows: number; scored: number; failed: number };
  failures: { key: string; code: string; reason: string }[];
}

function subsetOf(row: EvalPairRow): string {
  return row.subset ?? 'unknown';
}

function groupKey(row: { prefix: EvalPrefix; persona: string; fold?: string | undefined }): string {
  return `${row.fold ?? ''}|${row.prefix}|${row.persona}`;
}

function subsetsPresent(rows: readonly EvalPairRow[]): string[] {
  const present = [...new Set(rows.map(subsetOf))].sort();
  return SAFETY_SUBSETS.every((subset) => present.includes(subset)) ? [...present, SAFETY_POOL] : present;
}

function inSubset(row: EvalPairRow, subset: string): boolean {
  return subset === SAFETY_POOL ? (SAFETY_SUBSETS as readonly string[]).includes(subsetOf(row)) : subsetOf(row) === subset;
}

function accuracies(rows: readonly ScoredPairRow[], subsets: readonly string[], reference: ReadonlyMap<string, boolean> | undefined, options: BootstrapOptions): SubsetAccuracy[] {
  return subsets.flatMap((subset): SubsetAccuracy[] => {
    const ofSubset = rows.filter((row) => inSubset(row, subset));
    if (ofSubset.length === 0) return [];
    const correct = ofSubset.filter((row) => row.correct).length;
    const differences = reference ? ofSubset.flatMap((row) => (reference.has(row.id) ? [Number(row.correct) - Number(reference.get(row.id))] : [])) : [];
    return [{ subset, n: ofSubset.length, correct, accuracy: wilsonInterval(correct, ofSubset.length), ...(differences.length > 0 ? { change: bootstrapMeanInterval(differences, options) } : {}) }];
  });
}

export function summarizeSafety(allRows: readonly EvalPairRow[], options: BootstrapOptions, baseline?: { engine: string; rows: readonly EvalPairRow[] }): SafetySummary {
  const rows = latestByKey(allRows);
  const scored = rows.filter((row): row is ScoredPairRow => row.ok);
  const subsets = subsetsPresent(rows);
  const groups = new Map<string, ScoredPairRow[]>();
  for (const row of scored) groups.set(groupKey(row), [...(groups.get(groupKey(row)) ?? []), row]);
  // The no-prefix verdict per pair on each fold's model (or the one engine's): what each prefix changes.
  const noPrefixByFold = new Map<string, Map<string, boolean>>();
  for (const row of scored) {
    if (row.prefix !== 'none') continue;
    const verdicts = noPrefixByFold.get(row.fold ?? '') ?? new Map<string, boolean>();
    verdicts.set(row.id, row.correct);
    noPrefixByFold.set(row.fold ?? '', verdicts);
  }
  const order = sortPrefixes(scored.map((row) => row.prefix));
  const entries = [...groups.values()]
    .map((group): SafetyEntry => {
      const [first] = group as [ScoredPairRow];
      return {
        prefix: first.prefix,
        ...(first.prefix === 'none' ? {} : { persona: first.persona }),
        ...(first.fold === undefined ? {} : { fold: first.fold }),
        subsets: accuracies(group, subsets, first.prefix === 'none' ? undefined : noPrefixByFold.get(first.fold ?? ''), options),
      };
    })
    .sort((a, b) => order.indexOf(a.prefix) - order.indexOf(b.prefix));
  const folds = new Set(scored.filter((row) => row.prefix === 'none').map((row) => row.fold ?? ''));
  // "No prefix (aggregated across 5 CVs)": every fold's no-prefix rows pooled.
  if (folds.size > 1) entries.unshift({ prefix: 'none', subsets: accuracies(scored.filter((row) => row.prefix === 'none'), subsets, undefined, options) });
  const baselineScored = baseline ? latestByKey(baseline.rows).filter((row): row is ScoredPairRow => row.ok && row.prefix === 'none') : [];
  return {
    subsets,
    entries,
    ...(baseline && baselineScored.length > 0 ? { baseline: { engine: baseline.engine, subsets: accuracies(baselineScored, subsets, undefined, options) } } : {}),
    counts: { rows: rows.length, scored: scored.length, failed: rows.length - scored.length },
    failures: rows.flatMap((row) => (row.ok ? [] : [{ key: row.key, code: row.code, reason: row.reason }])),
  };
}
