/**
 * Summaries of a fold-routed run (rows that name their fold), recomputed from the rows alone:
 * - App. L's eight settings per strategy: accuracy by question type with bootstrap CIs over
 *   personas, each row placed in its setting by whether its model trained on the persona and
 *   which prefix it was given (folds.ts);
 * - Figure 5: per strategy, seen persona (the setting-1 rows, or 7 for no prefix) against unseen
 *   persona (3, or 8), the same numbers shown side by side.
 */
import { accuracyTable, QUESTION_TYPES, type AcrossPersonas, type QuestionTypeGroup } from '../stats.ts';
import type { BootstrapOptions } from '../bootstrap.ts';
import { APPENDIX_L_SETTINGS, settingOf, type SettingId } from './folds.ts';
import { basePrefix, sortPrefixes, type BaseEvalPrefix, type EvalPrefix } from './prefixes.ts';
import type { ScoredPairRow } from './rows.ts';

export interface SettingAccuracy {
  setting: SettingId;
  /** 1–8, as numbered in App. L. */
  number: number;
  higherIsBetter: boolean;
  prefix: EvalPrefix;
  scored: number;
  byType: Partial<Record<QuestionTypeGroup, AcrossPersonas>>;
  total: AcrossPersonas;
}

export interface StrategySettings {
  /** The strategy (`none` holds settings 7 and 8). */
  base: BaseEvalPrefix;
  settings: SettingAccuracy[];
}

export interface Figure5Entry {
  prefix: BaseEvalPrefix;
  seen?: SettingAccuracy;
  unseen?: SettingAccuracy;
}

export interface FoldsSummary {
  /** Folds with rows, and how many rows each scored. */
  rowsByFold: Record<string, number>;
  appendixL: StrategySettings[];
  figure5: Figure5Entry[];
}

export function summarizeFolds(scored: readonly ScoredPairRow[], options: BootstrapOptions): FoldsSummary {
  const rowsByFold: Record<string, number> = {};
  const groups = new Map<string, { setting: SettingId; prefix: EvalPrefix; rows: ScoredPairRow[] }>();
  for (const row of scored) {
    if (row.fold === undefined || row.personaSeen === undefined) continue;
    rowsByFold[row.fold] = (rowsByFold[row.fold] ?? 0) + 1;
    const setting = settingOf(row.prefix, row.personaSeen);
    if (!setting) continue;
    const key = `${setting}|${row.prefix}`;
    const group = groups.get(key) ?? { setting, prefix: row.prefix, rows: [] };
    group.rows.push(row);
    groups.set(key, group);
  }
  const accuracies = [...groups.values()].map(({ setting, prefix, rows }): SettingAccuracy => {
    const definition = APPENDIX_L_SETTINGS.find((candidate) => candidate.id === setting) as (typeof APPENDIX_L_SETTINGS)[number];
    const table = accuracyTable(
      rows.map((row) => ({ persona: row.persona, type: row.type, correct: row.correct, tie: row.tie })),
      options,
    );
    return { setting, number: definition.number, higherIsBetter: definition.higherIsBetter, prefix, scored: rows.length, byType: table.byType, total: table.total };
  });
  const bases = sortPrefixes(accuracies.map((entry) => basePrefix(entry.prefix))) as BaseEvalPrefix[];
  const appendixL = bases.map((base): StrategySettings => ({
    base,
    settings: accuracies.filter((entry) => basePrefix(entry.prefix) === base).sort((a, b) => a.number - b.number),
  }));
  const figure5 = appendixL.flatMap(({ base, settings }): Figure5Entry[] => {
    const find = (numbers: readonly number[]) => settings.find((entry) => numbers.includes(entry.number));
    const seen = find([1, 7]);
    const unseen = find([3, 8]);
    return seen || unseen ? [{ prefix: base, ...(seen ? { seen } : {}), ...(unseen ? { unseen } : {}) }] : [];
  });
  return { rowsByFold, appendixL, figure5 };
}

/** Question types present in any setting, in display order. */
export function foldTypes(summary: FoldsSummary): QuestionTypeGroup[] {
  return QUESTION_TYPES.filter((type) => summary.appendixL.some((entry) => entry.settings.some((setting) => setting.byType[type] !== undefined)));
}
