/**
 * Summaries of a batch evaluation, recomputed from the per-pair rows alone (the JSONL is the
 * source of truth; summary.json is derived and can always be rebuilt). This is the report's data
 * model for scoring:
 * - accuracy per prefix × question type: mean over personas with a seeded percentile-bootstrap 95%
 *   interval (the paper's Figure 3/5 error bars are seaborn's bootstrap over personas), pooled
 *   accuracy with a Wilson interval, and per-persona cells;
 * - baselines: random (0.5, the expected accuracy of a coin flip) and no prefix;
 * - prefix sensitivity (Appendix L): right vs shuffled vs no prefix, with the paired difference
 *   right − shuffled bootstrapped over personas;
 * - prefix gain: per-persona total accuracy with a prefix against no prefix on the same model(s),
 *   Pearson r and its p-value, and the mean improvement (a one-run view);
 * - Figure 6 as the paper draws it, when a baseline run is given: per persona, the evaluated
 *   (held-out) model's accuracy with each prefix and without one against the BASELINE model's
 *   (Zephyr's) no-prefix accuracy, with Pearson r and p over personas;
 * - fold-routed runs (rows naming their fold): Figure 5 and App. L's settings (foldSummary.ts);
 *   every other section then uses the held-out rows, the paper's "persona not trained".
 * Failed rows are counted by code and listed; they never enter an accuracy.
 */
import {
  accuracyTable,
  bootstrapMeanInterval,
  pearson,
  QUESTION_TYPES,
  type AcrossPersonas,
  type Correlation,
  type Interval,
  type PersonaAccuracy,
  type QuestionTypeGroup,
} from '../stats.ts';
import { summarizeFolds, type FoldsSummary } from './foldSummary.ts';
import { basePrefix, isReseeded, isShuffled, shuffledPrefix, sortPrefixes, type BaseEvalPrefix, type EvalPrefix } from './prefixes.ts';
import { latestByKey, type EvalPairRow, type ScoredPairRow } from './rows.ts';

export interface SummaryOptions {
  /** Seeds every bootstrap (the same seed everywhere gives paired resamples across prefixes). */
  seed: number;
  resamples?: number;
  confidence?: number;
}

export const RANDOM_BASELINE = 0.5;

export interface PrefixAccuracy {
  prefix: EvalPrefix;
  scored: number;
  failed: number;
  /** Per question type present: mean over personas (bootstrap CI) and pooled (Wilson CI). */
  byType: Partial<Record<QuestionTypeGroup, AcrossPersonas>>;
  /** Per-persona totals (size-weighted over types, the authors' "Total Accuracy"), then their mean. */
  total: AcrossPersonas;
  personas: PersonaAccuracy[];
}

export interface FailureEntry {
  key: string;
  persona: string;
  prefix: EvalPrefix;
  code: string;
  reason: string;
}

export interface PairCounts {
  /** Distinct (prefix, pair) units with a row: the last row of each counts. */
  rows: number;
  scored: number;
  failed: number;
  ties: number;
  truncatedPrompt: number;
  truncatedAnswers: number;
  failedByCode: Record<string, number>;
  /** Rows (as written, superseded ones included) per session: which process scored what. */
  writtenBySession: Record<string, number>;
}

export interface VariantAccuracy {
  variant: 'right' | 'shuffled' | 'none';
  prefix: EvalPrefix;
  byType: Partial<Record<QuestionTypeGroup, PersonaMean>>;
  total: PersonaMean;
}

/** A mean over personas with its bootstrap interval, which needs two personas to say anything. */
export interface PersonaMean extends Interval {
  personas: number;
}

export function personaMeanOf(cell: AcrossPersonas): PersonaMean {
  return { ...cell.meanOfPersonas, personas: cell.personas };
}

export interface PairedDifference extends Interval {
  /** Personas scored under both prefixes. */
  personas: number;
}

export interface SensitivityEntry {
  base: Exclude<BaseEvalPrefix, 'none'>;
  variants: VariantAccuracy[];
  /** Right − shuffled, per persona, then the mean with a bootstrap CI over personas. */
  rightMinusShuffled: { byType: Partial<Record<QuestionTypeGroup, PairedDifference>>; total: PairedDifference };
  /** Personas whose shuffle partner was themselves (the authors' rule allows one). */
  keptOwnPrefix: string[];
}

export interface EquityPoint {
  persona: string;
  baseline: number;
  prefixed: number;
  improvement: number;
}

export interface EquityEntry {
  prefix: EvalPrefix;
  points: EquityPoint[];
  /** Pearson r between no-prefix and prefixed total accuracy over personas (Figure 6); NaN when undefined. */
  correlation: Correlation;
  meanImprovement: Interval;
}

export interface BaselineSummary {
  /** The baseline run's engine spec, e.g. Zephyr's. */
  engine: string;
  /** Its no-prefix accuracy, mean over personas. */
  noPrefix: { byType: Partial<Record<QuestionTypeGroup, number>>; total: number };
}

export interface PairsSummary {
  counts: PairCounts;
  failures: FailureEntry[];
  /** Prefixes with at least one row, in report order. */
  prefixes: EvalPrefix[];
  accuracy: PrefixAccuracy[];
  baselines: {
    random: number;
    /** Mean over personas without a prefix, when `none` was scored. */
    noPrefix?: { byType: Partial<Record<QuestionTypeGroup, number>>; total: number };
  };
  sensitivity: SensitivityEntry[];
  /** Prefixed vs no prefix on the same model(s), per persona (a one-run view, not the paper's Figure 6). */
  prefixGain: EquityEntry[];
  /** Figure 6 as the paper: the evaluated model (held-out rows in a fold-routed run) vs the baseline run's no prefix. */
  figure6?: EquityEntry[];
  baselineRun?: BaselineSummary;
  /** Fold-routed runs only. */
  folds?: FoldsSummary;
}

/** A baseline run's rows (its no-prefix rows are used) and the engine that scored them. */
export interface BaselineRows {
  engine: string;
  rows: readonly EvalPairRow[];
}

export function summarizePairs(allRows: readonly EvalPairRow[], options: SummaryOptions, baseline?: BaselineRows): PairsSummary {
  const rows = latestByKey(allRows);
  const everyScored = rows.filter((row): row is ScoredPairRow => row.ok);
  const folded = everyScored.some((row) => row.fold !== undefined);
  // A fold-routed run's main numbers are the paper's: personas the scoring model did not train on.
  const scored = folded ? everyScored.filter((row) => row.personaSeen === false) : everyScored;
  const failures = rows.flatMap((row): FailureEntry[] =>
    row.ok ? [] : [{ key: row.key, persona: row.persona, prefix: row.prefix, code: row.code, reason: row.reason }],
  );
  const prefixes = sortPrefixes(rows.map((row) => row.prefix));
  const accuracy = prefixes.flatMap((prefix): PrefixAccuracy[] => {
    const ofPrefix = scored.filter((row) => row.prefix === prefix);
    const failed = failures.filter((failure) => failure.prefix === prefix).length;
    if (ofPrefix.length === 0) return [];
    const table = accuracyTable(
      ofPrefix.map((row) => ({ persona: row.persona, type: row.type, correct: row.correct, tie: row.tie })),
      options,
    );
    return [{ prefix, scored: ofPrefix.length, failed, byType: table.byType, total: table.total, personas: table.personas }];
  });
  const byPrefix = new Map(accuracy.map((entry) => [entry.prefix, entry]));
  const none = byPrefix.get('none');
  const baselineNone = baseline ? noPrefixOf(baseline.rows, options) : undefined;
  return {
    counts: countRows(rows, allRows),
    failures,
    prefixes,
    accuracy,
    baselines: {
      random: RANDOM_BASELINE,
      ...(none ? { noPrefix: { byType: mapTypes(none.byType, (cell) => cell.meanOfPersonas.estimate), total: none.total.meanOfPersonas.estimate } } : {}),
    },
    sensitivity: folded ? [] : sensitivity(byPrefix, scored, options),
    prefixGain: none ? equity(byPrefix, personaAccuracies(none, 'total'), options, false) : [],
    ...(baseline && baselineNone
      ? {
          figure6: equity(byPrefix, personaAccuracies(baselineNone, 'total'), options, true),
          baselineRun: { engine: baseline.engine, noPrefix: { byType: mapTypes(baselineNone.byType, (cell) => cell.meanOfPersonas.estimate), total: baselineNone.total.meanOfPersonas.estimate } },
        }
      : {}),
    ...(folded ? { folds: summarizeFolds(everyScored, options) } : {}),
  };
}

/** The no-prefix accuracy of a baseline run's rows (the last row of each key), if it scored any. */
function noPrefixOf(rows: readonly EvalPairRow[], options: SummaryOptions): PrefixAccuracy | undefined {
  const none = latestByKey(rows).filter((row): row is ScoredPairRow => row.ok && row.prefix === 'none');
  if (none.length === 0) return undefined;
  const table = accuracyTable(
    none.map((row) => ({ persona: row.persona, type: row.type, correct: row.correct, tie: row.tie })),
    options,
  );
  return { prefix: 'none', scored: none.length, failed: 0, byType: table.byType, total: table.total, personas: table.personas };
}

function countRows(rows: readonly EvalPairRow[], allRows: readonly EvalPairRow[]): PairCounts {
  const failedByCode: Record<string, number> = {};
  const writtenBySession: Record<string, number> = {};
  let ties = 0;
  let truncatedPrompt = 0;
  let truncatedAnswers = 0;
  for (const row of rows) {
    if (!row.ok) {
      failedByCode[row.code] = (failedByCode[row.code] ?? 0) + 1;
      continue;
    }
    if (row.tie) ties++;
    if (row.truncated.prompt) truncatedPrompt++;
    if (row.truncated.answers) truncatedAnswers++;
  }
  for (const row of allRows) writtenBySession[row.session] = (writtenBySession[row.session] ?? 0) + 1;
  const failed = rows.filter((row) => !row.ok).length;
  return { rows: rows.length, scored: rows.length - failed, failed, ties, truncatedPrompt, truncatedAnswers, failedByCode, writtenBySession };
}

function mapTypes<In, Out>(byType: Partial<Record<QuestionTypeGroup, In>>, map: (value: In) => Out): Partial<Record<QuestionTypeGroup, Out>> {
  const out: Partial<Record<QuestionTypeGroup, Out>> = {};
  for (const type of QUESTION_TYPES) {
    const value = byType[type];
    if (value !== undefined) out[type] = map(value);
  }
  return out;
}

function variantAccuracy(variant: VariantAccuracy['variant'], entry: PrefixAccuracy): VariantAccuracy {
  return { variant, prefix: entry.prefix, byType: mapTypes(entry.byType, personaMeanOf), total: personaMeanOf(entry.total) };
}

/** Per persona accuracy of one type (or the total), keyed by persona. */
function personaAccuracies(entry: PrefixAccuracy, type: QuestionTypeGroup | 'total'): Map<string, number> {
  return new Map(
    entry.personas.flatMap((persona) => {
      const cell = type === 'total' ? persona.total : persona.byType[type];
      return cell ? [[persona.persona, cell.accuracy.estimate] as const] : [];
    }),
  );
}

/** Mean over personas of a − b, for personas scored under both; undefined when none are. */
function pairedDifference(a: PrefixAccuracy, b: PrefixAccuracy, type: QuestionTypeGroup | 'total', options: SummaryOptions): PairedDifference | undefined {
  const left = personaAccuracies(a, type);
  const right = personaAccuracies(b, type);
  const differences = [...left].flatMap(([persona, value]) => {
    const other = right.get(persona);
    return other === undefined ? [] : [value - other];
  });
  if (differences.length === 0) return undefined;
  return { ...bootstrapMeanInterval(differences, options), personas: differences.length };
}

function sensitivity(byPrefix: ReadonlyMap<EvalPrefix, PrefixAccuracy>, scored: readonly ScoredPairRow[], options: SummaryOptions): SensitivityEntry[] {
  return [...byPrefix.values()].flatMap((shuffledEntry): SensitivityEntry[] => {
    if (!isShuffled(shuffledEntry.prefix) || isReseeded(shuffledEntry.prefix)) return [];
    const base = basePrefix(shuffledEntry.prefix) as SensitivityEntry['base'];
    const right = byPrefix.get(base);
    if (!right) return [];
    const none = byPrefix.get('none');
    const total = pairedDifference(right, shuffledEntry, 'total', options);
    if (!total) return [];
    const byType: Partial<Record<QuestionTypeGroup, PairedDifference>> = {};
    for (const type of QUESTION_TYPES) {
      const difference = pairedDifference(right, shuffledEntry, type, options);
      if (difference) byType[type] = difference;
    }
    const keptOwnPrefix = [
      ...new Set(scored.filter((row) => row.prefix === shuffledPrefix(base) && row.prefixFrom === row.persona).map((row) => row.persona)),
    ];
    return [
      {
        base,
        variants: [variantAccuracy('right', right), variantAccuracy('shuffled', shuffledEntry), ...(none ? [variantAccuracy('none', none)] : [])],
        rightMinusShuffled: { byType, total },
        keptOwnPrefix,
      },
    ];
  });
}

/**
 * Per persona, each prefix's total accuracy against `baseline`'s, with Pearson r over personas.
 * `withNone` keeps the no-prefix entry (Figure 6 plots it against another model's no prefix).
 */
function equity(byPrefix: ReadonlyMap<EvalPrefix, PrefixAccuracy>, baseline: ReadonlyMap<string, number>, options: SummaryOptions, withNone: boolean): EquityEntry[] {
  return [...byPrefix.values()].flatMap((entry): EquityEntry[] => {
    if (entry.prefix === 'none' && !withNone) return [];
    const points = [...personaAccuracies(entry, 'total')].flatMap(([persona, prefixed]): EquityPoint[] => {
      const base = baseline.get(persona);
      return base === undefined ? [] : [{ persona, baseline: base, prefixed, improvement: prefixed - base }];
    });
    if (points.length === 0) return [];
    return [
      {
        prefix: entry.prefix,
        points,
        correlation: pearson(
          points.map((point) => point.baseline),
          points.map((point) => point.prefixed),
        ),
        meanImprovement: bootstrapMeanInterval(
          points.map((point) => point.improvement),
          options,
        ),
      },
    ];
  });
}
