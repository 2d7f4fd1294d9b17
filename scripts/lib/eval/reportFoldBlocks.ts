/**
 * Report blocks of a fold-routed run and of the per-persona comparisons: Figure 5 (seen vs unseen
 * persona), App. L's eight settings, Figure 6 as the paper draws it (the evaluated model against
 * the baseline run's no prefix), the one-run prefix gain, where every prefix text came from, and
 * Table 13 (each prefix against its shuffled counterpart).
 */
import type { ProvenanceEntry } from '../../../src/core/eval/provenance.ts';
import { foldTypes, type SettingAccuracy } from '../../../src/core/eval/foldSummary.ts';
import type { EvalReport } from '../../../src/core/eval/report.ts';
import type { EquityEntry, PairsSummary } from '../../../src/core/eval/summary.ts';
import type { QuestionTypeGroup } from '../../../src/core/stats.ts';
import type { Block } from './reportBlocks.ts';
import { interval, num, personaMean, personaMeanBar, prefixLabel, pValue } from './reportText.ts';
import { barChart, scatterChart, type BarGroup } from './svg.ts';

const SETTING_COLORS = ['#1d4ed8', '#60a5fa', '#059669', '#f59e0b', '#dc2626', '#f97316', '#6b7280', '#111827'];

function settingBars(settings: readonly SettingAccuracy[], type: QuestionTypeGroup | 'total'): BarGroup['bars'] {
  return settings.flatMap((setting) => {
    const cell = type === 'total' ? setting.total : setting.byType[type];
    return cell ? [personaMeanBar(`${setting.number}`, cell)] : [];
  });
}

function baselineLines(summary: PairsSummary, type: QuestionTypeGroup | 'total') {
  const baseline = summary.baselineRun;
  const value = baseline ? (type === 'total' ? baseline.noPrefix.total : baseline.noPrefix.byType[type]) : undefined;
  return [
    { value: summary.baselines.random, label: 'random (0.5)', color: '#dc2626' },
    ...(baseline && value !== undefined ? [{ value, label: `baseline no prefix (${baseline.engine})`, color: '#111827' }] : []),
  ];
}

export function figure5Blocks(summary: PairsSummary): Block[] {
  const folds = summary.folds;
  if (!folds || folds.figure5.length === 0) return [];
  const types = [...foldTypes(folds), 'total'] as const;
  const cell = (setting: SettingAccuracy | undefined, type: QuestionTypeGroup | 'total') => personaMean(type === 'total' ? setting?.total : setting?.byType[type]);
  return [
    { kind: 'heading', level: 2, text: 'Seen vs unseen persona (Figure 5)', id: 'figure5' },
    {
      kind: 'paragraph',
      text: `Each persona scored by the model of the fold that held it out (unseen) and by one that trained on it (seen); means over personas with 95% bootstrap CIs. Rows per fold: ${Object.entries(folds.rowsByFold).map(([fold, n]) => `${fold} ${n}`).join(', ')}.${summary.baselineRun ? ` Dashed: the baseline run's no-prefix mean (${summary.baselineRun.engine}).` : ''}`,
    },
    {
      kind: 'charts',
      svgs: types.map((type) =>
        barChart({
          title: `Figure 5: ${type}`,
          groups: folds.figure5.map((entry) => ({
            label: prefixLabel(entry.prefix),
            bars: [
              ...(entry.seen ? settingBars([entry.seen], type).map((bar) => ({ ...bar, series: 'seen' })) : []),
              ...(entry.unseen ? settingBars([entry.unseen], type).map((bar) => ({ ...bar, series: 'unseen' })) : []),
            ],
          })),
          series: [
            { name: 'seen', color: '#1d4ed8' },
            { name: 'unseen', color: '#f59e0b' },
          ],
          lines: baselineLines(summary, type),
          yLabel: 'accuracy (mean over personas)',
        }),
      ),
    },
    {
      kind: 'table',
      header: ['prefix', ...types.flatMap((type) => [`${type}, seen`, `${type}, unseen`]), 'personas (seen / unseen)'],
      rows: folds.figure5.map((entry) => [
        prefixLabel(entry.prefix),
        ...types.flatMap((type) => [cell(entry.seen, type), cell(entry.unseen, type)]),
        `${entry.seen?.total.personas ?? 0} / ${entry.unseen?.total.personas ?? 0}`,
      ]),
    },
  ];
}

export function appendixLBlocks(summary: PairsSummary): Block[] {
  const folds = summary.folds;
  if (!folds || folds.appendixL.length === 0) return [];
  const types = [...foldTypes(folds), 'total'] as const;
  const numbers = [...new Set(folds.appendixL.flatMap((entry) => entry.settings.map((setting) => setting.number)))].sort((a, b) => a - b);
  return [
    { kind: 'heading', level: 2, text: 'Prefix sensitivity: App. L\u2019s eight settings', id: 'appendix-l' },
    {
      kind: 'paragraph',
      text: 'Settings (App. L; ↑ higher is better, ↓ lower is better): 1 seen persona, seen prefix ↑; 2 seen persona, unseen prefix (the same strategy drawn with another seed) ↑; 3 unseen persona ↑; 4 unseen persona, wrong prefix (another persona\u2019s, the run\u2019s shuffle) ↓; 5 seen persona, wrong seen prefix ↓ (its model trained on the other persona too, where the folds allow); 6 seen persona, wrong unseen prefix (another persona\u2019s, other seed) ↓; 7 seen persona, no prefix ↓; 8 unseen persona, no prefix ↓. Name and tag have no other-seed variant (a persona has one name). Means over personas with 95% bootstrap CIs.',
    },
    {
      kind: 'charts',
      svgs: types.map((type) =>
        barChart({
          title: `App. L: ${type}`,
          groups: folds.appendixL.map((entry) => ({ label: prefixLabel(entry.base), bars: settingBars(entry.settings, type) })),
          series: numbers.map((number) => ({ name: `${number}`, color: SETTING_COLORS[number - 1] ?? '#888' })),
          lines: baselineLines(summary, type),
          yLabel: 'accuracy (mean over personas)',
        }),
      ),
    },
    {
      kind: 'table',
      header: ['prefix', 'setting', 'scored with', ...types.map((type) => `${type} (95% CI)`), 'personas', 'pairs'],
      rows: folds.appendixL.flatMap((entry) =>
        entry.settings.map((setting) => [
          prefixLabel(entry.base),
          `${setting.number} ${setting.higherIsBetter ? '↑' : '↓'} ${settingLabel(setting)}`,
          prefixLabel(setting.prefix),
          ...types.map((type) => personaMean(type === 'total' ? setting.total : setting.byType[type])),
          String(setting.total.personas),
          String(setting.scored),
        ]),
      ),
    },
  ];
}

function settingLabel(setting: SettingAccuracy): string {
  return setting.setting.replace(/-/g, ' ');
}

function equityCharts(entries: readonly EquityEntry[], xLabel: string, yLabel: (entry: EquityEntry) => string): Block {
  return {
    kind: 'charts',
    svgs: entries.map((entry) =>
      scatterChart({
        title: `${prefixLabel(entry.prefix)}: r = ${num(entry.correlation.r, 2)}, p = ${pValue(entry.correlation.p)}`,
        points: entry.points.map((point) => ({ x: point.baseline, y: point.prefixed, label: point.persona })),
        xLabel,
        yLabel: yLabel(entry),
      }),
    ),
  };
}

function equityTable(entries: readonly EquityEntry[]): Block {
  return {
    kind: 'table',
    header: ['prefix', 'Pearson r', 'p', 'personas', 'mean improvement (95% CI)'],
    rows: entries.map((entry) => [prefixLabel(entry.prefix), num(entry.correlation.r), pValue(entry.correlation.p), String(entry.correlation.n), interval({ ...entry.meanImprovement, personas: entry.correlation.n })]),
  };
}

export function figure6Blocks(summary: PairsSummary): Block[] {
  const entries = summary.figure6;
  if (!entries || entries.length === 0 || !summary.baselineRun) return [];
  const evaluated = summary.folds ? 'the model that held the persona out' : 'this run\u2019s engine';
  return [
    { kind: 'heading', level: 2, text: 'Equity against the baseline model (Figure 6)', id: 'figure6' },
    {
      kind: 'paragraph',
      text: `Each point is a persona: its total accuracy under the baseline run's no prefix (${summary.baselineRun.engine}, x) and under ${evaluated} with each prefix and without one (y); dotted: y = x (no improvement), solid: least squares. Pearson r and its two-sided p over personas (one point per persona; the authors' figure duplicated rows, so its p-values are smaller). Lower r with a higher mean means a more equitable improvement.`,
    },
    equityCharts(entries, 'baseline, no prefix (total accuracy)', (entry) => prefixLabel(entry.prefix)),
    equityTable(entries),
  ];
}

export function prefixGainBlocks(summary: PairsSummary): Block[] {
  if (summary.prefixGain.length === 0) return [];
  return [
    { kind: 'heading', level: 2, text: 'Prefix gain per persona: prefixed vs no prefix, same model (one-run view)', id: 'prefix-gain' },
    {
      kind: 'paragraph',
      text: `Each point is a persona: its total accuracy without a prefix (x) and with the prefix (y), both scored by the same model${summary.folds ? ' (the one that held the persona out)' : ''}; dotted: y = x, solid: least squares. This compares a prefix with no prefix on one model; the paper's Figure 6 compares against the baseline model (pass --baseline-run).`,
    },
    equityCharts(summary.prefixGain, 'no prefix (total accuracy)', (entry) => prefixLabel(entry.prefix)),
    equityTable(summary.prefixGain),
  ];
}

export function provenanceBlocks(entries: readonly ProvenanceEntry[], source: string): Block[] {
  if (entries.length === 0) return [];
  return [
    { kind: 'heading', level: 2, text: 'Prefix provenance: who wrote each prefix', id: 'provenance' },
    { kind: 'paragraph', text: `Prefix texts from ${source}. Generated texts name the model that wrote them (the file's provenance); texts given without provenance say so.` },
    {
      kind: 'table',
      header: ['prefix', 'written by', 'personas'],
      rows: entries.flatMap((entry) => entry.writers.map((writer) => [prefixLabel(entry.prefix), writer.writer, String(writer.personas)])),
    },
  ];
}

export function overlapBlocks(overlap: NonNullable<EvalReport['overlap']>): Block[] {
  if (overlap.columns.length === 0) return [];
  return [
    { kind: 'heading', level: 2, text: 'Prefix vs its shuffled counterpart: ROUGE-Lsum (Table 13)', id: 'overlap' },
    {
      kind: 'paragraph',
      text: `Each persona's prefix against the prefix of the persona it was swapped with (${overlap.source}), by ROUGE-Lsum F (rouge_score: sentences split on newlines, union LCS), alone and inside the wrapper prompt with an empty question; len: mean words; len × rouge estimates the words shared. High overlap with the wrapper explains why a wrong prefix can beat none (App. L).`,
    },
    {
      kind: 'table',
      header: ['prefix', 'len', 'rouge', 'len × rouge', 'len, with wrapper', 'rouge, with wrapper', 'len × rouge, with wrapper', 'personas'],
      rows: overlap.columns.map((column) => [
        prefixLabel(column.column),
        num(column.alone.length, 0),
        num(column.alone.rouge, 2),
        num(column.alone.product, 0),
        num(column.withWrapper.length, 0),
        num(column.withWrapper.rouge, 2),
        num(column.withWrapper.product, 0),
        String(column.personas),
      ]),
    },
  ];
}
