/**
 * The report as a list of blocks (headings, paragraphs, tables, charts, long texts), built once
 * from the report data model and rendered twice: to Markdown (charts left out, their numbers are
 * in the tables) and to self-contained HTML (charts as inline SVG). One builder keeps the two
 * reports saying the same thing.
 */
import { QUALITY_COLUMNS, type MeanSd } from '../../../src/core/eval/personaQuality.ts';
import type { EvalReport } from '../../../src/core/eval/report.ts';
import type { PairsSummary } from '../../../src/core/eval/summary.ts';
import type { QuestionTypeGroup } from '../../../src/core/stats.ts';
import { barChart, type BarGroup } from './svg.ts';
import { interval, num, percent, personaMean, personaMeanBar, prefixLabel, TYPE_ORDER } from './reportText.ts';
import { safetyBlocks } from './reportSafetyBlocks.ts';
import { agreementBlocks } from './reportAgreementBlocks.ts';
import { elicitationBlocks } from './reportElicitationBlocks.ts';
import { appendixLBlocks, figure5Blocks, figure6Blocks, overlapBlocks, prefixGainBlocks, provenanceBlocks } from './reportFoldBlocks.ts';

export type Block =
  | { kind: 'heading'; level: 1 | 2 | 3; text: string; id?: string }
  | { kind: 'paragraph'; text: string }
  | { kind: 'table'; header: string[]; rows: string[][]; /** 0..1 per cell (null: none), shaded in HTML. */ heat?: (number | null)[][] }
  | { kind: 'chart'; svg: string }
  /** Small multiples, side by side. */
  | { kind: 'charts'; svgs: string[] }
  | { kind: 'text'; title: string; text: string };

const SERIES_COLORS: Record<string, string> = { personal: '#2563eb', divergent: '#f59e0b', unspecified: '#10b981', total: '#6b7280' };
const MAX_LISTED_FAILURES = 200;

export function reportBlocks(report: EvalReport): Block[] {
  const blocks: Block[] = [{ kind: 'heading', level: 1, text: report.title }];
  blocks.push(...runBlocks(report));
  if (report.pairs) {
    const pairs = report.pairs;
    blocks.push(...accuracyBlocks(pairs), ...figure5Blocks(pairs), ...appendixLBlocks(pairs), ...sensitivityBlocks(pairs), ...figure6Blocks(pairs), ...prefixGainBlocks(pairs));
  }
  if (report.provenance) blocks.push(...provenanceBlocks(report.provenance.entries, report.provenance.source));
  if (report.personas) blocks.push(...personaBlocks(report.personas));
  if (report.overlap) blocks.push(...overlapBlocks(report.overlap));
  if (report.generations) blocks.push(...generationBlocks(report.generations));
  if (report.safety) blocks.push(...safetyBlocks(report.safety));
  if (report.agreement) blocks.push(...agreementBlocks(report.agreement));
  if (report.elicitation) blocks.push(...elicitationBlocks(report.elicitation));
  blocks.push(...failureBlocks(report));
  return blocks;
}

function runBlocks(report: EvalReport): Block[] {
  const rows: string[][] = [];
  if (report.run.engine) rows.push(['engine', `${report.run.engine.spec} (${report.run.engine.backend}, scoring: ${report.run.engine.method})`]);
  for (const [fold, spec] of Object.entries(report.run.folds ?? {})) rows.push([`engine, fold ${fold}`, spec]);
  if (report.run.dataset) rows.push(['dataset', `${report.run.dataset.source}: ${report.run.dataset.pairs} pairs, ${report.run.dataset.personas} personas (fingerprint ${report.run.dataset.fingerprint})`]);
  for (const [key, value] of Object.entries(report.run.settings ?? {})) rows.push([key, typeof value === 'string' ? value : JSON.stringify(value)]);
  if (report.run.settings?.promptsVersion === undefined) rows.push(['prompts', report.run.promptsVersion]);
  if (report.pairs) {
    const counts = report.pairs.counts;
    rows.push(['pairs', `${counts.rows} (prefix, pair) rows: ${counts.scored} scored, ${counts.failed} failed, ${counts.ties} ties (ties count as wrong), ${counts.truncatedPrompt} with the prompt truncated, ${counts.truncatedAnswers} with answers truncated`]);
    rows.push(['written by', Object.entries(counts.writtenBySession).map(([session, n]) => `${session}: ${n}`).join(', ')]);
  }
  return [{ kind: 'heading', level: 2, text: 'Run', id: 'run' }, { kind: 'table', header: ['', ''], rows }];
}

function typesOf(summary: PairsSummary): QuestionTypeGroup[] {
  return TYPE_ORDER.filter((type) => summary.accuracy.some((entry) => entry.byType[type] !== undefined));
}

function accuracyBlocks(summary: PairsSummary): Block[] {
  const types = typesOf(summary);
  const noPrefix = summary.baselines.noPrefix;
  const groups: BarGroup[] = summary.accuracy.map((entry) => ({
    label: prefixLabel(entry.prefix),
    bars: [
      ...types.flatMap((type) => {
        const cell = entry.byType[type];
        return cell ? [personaMeanBar(type, cell)] : [];
      }),
      personaMeanBar('total', entry.total),
    ],
  }));
  const series = [...types, 'total'].map((name) => ({ name, color: SERIES_COLORS[name] ?? '#888' }));
  const lines = [
    { value: summary.baselines.random, label: 'random (0.5)', color: '#dc2626' },
    ...(noPrefix ? types.flatMap((type) => (noPrefix.byType[type] === undefined ? [] : [{ value: noPrefix.byType[type] as number, label: `no prefix, ${type}`, color: SERIES_COLORS[type] ?? '#888' }])) : []),
  ];
  const header = ['prefix', ...types.map((type) => `${type} (mean over personas, 95% CI)`), 'total (95% CI)', 'personas', 'scored', 'failed', 'pooled accuracy (Wilson 95% CI)'];
  const rows = summary.accuracy.map((entry) => [
    prefixLabel(entry.prefix),
    ...types.map((type) => personaMean(entry.byType[type])),
    personaMean(entry.total),
    String(entry.total.personas),
    String(entry.scored),
    String(entry.failed),
    interval(entry.total.pooled.accuracy),
  ]);
  return [
    { kind: 'heading', level: 2, text: 'Accuracy by prefix and question type (Figure 3/5)', id: 'accuracy' },
    {
      kind: 'paragraph',
      text: `${summary.folds ? 'Held-out personas only (each scored by the model of the fold that held it out: the paper\u2019s "persona not trained"). ' : ''}Reference-free reward accuracy: a pair is right when the chosen answer's aggregated log-probability is strictly higher (ties lose). Means are over personas, each persona's accuracy first (total = all its pairs, the authors' size-weighted "Total Accuracy"), with seeded 95% percentile-bootstrap intervals over personas (the paper's error bars are seaborn's bootstrap). Dashed lines: random choice (0.5)${noPrefix ? ' and the no-prefix mean per question type' : ''}.`,
    },
    { kind: 'chart', svg: barChart({ title: 'Accuracy by prefix', groups, series, lines, yLabel: 'accuracy (mean over personas)' }) },
    { kind: 'table', header, rows },
    { kind: 'heading', level: 3, text: 'Per persona' },
    {
      kind: 'table',
      header: ['persona', ...summary.accuracy.map((entry) => prefixLabel(entry.prefix))],
      rows: [...new Set(summary.accuracy.flatMap((entry) => entry.personas.map((persona) => persona.persona)))].map((persona) => [
        persona,
        ...summary.accuracy.map((entry) => {
          const cell = entry.personas.find((candidate) => candidate.persona === persona)?.total;
          return cell ? `${num(cell.accuracy.estimate)} (${cell.correct}/${cell.n})` : '–';
        }),
      ]),
    },
  ];
}

function sensitivityBlocks(summary: PairsSummary): Block[] {
  if (summary.sensitivity.length === 0) return [];
  const types = typesOf(summary);
  const blocks: Block[] = [
    { kind: 'heading', level: 2, text: 'Prefix sensitivity: right vs shuffled vs no prefix (Appendix L)', id: 'sensitivity' },
    {
      kind: 'paragraph',
      text: 'Shuffled: each persona is given another persona\u2019s prefix (a seeded permutation; as in the authors\u2019 code, at most one persona may keep its own). If the model uses the prefix, the right one should beat the shuffled one. The difference is computed per persona and averaged, with a bootstrap 95% CI over personas.',
    },
  ];
  const groups: BarGroup[] = summary.sensitivity.flatMap((entry) =>
    entry.variants.map((variant) => ({
      label: `${prefixLabel(entry.base)}: ${variant.variant}`,
      bars: [
        ...types.flatMap((type) => {
          const cell = variant.byType[type];
          return cell ? [personaMeanBar(type, cell)] : [];
        }),
        personaMeanBar('total', variant.total),
      ],
    })),
  );
  blocks.push({
    kind: 'chart',
    svg: barChart({
      title: 'Right vs shuffled prefix',
      groups,
      series: [...types, 'total'].map((name) => ({ name, color: SERIES_COLORS[name] ?? '#888' })),
      lines: [{ value: summary.baselines.random, label: 'random (0.5)', color: '#dc2626' }],
      yLabel: 'accuracy (mean over personas)',
    }),
  });
  blocks.push({
    kind: 'table',
    header: ['prefix', 'variant', ...types, 'total'],
    rows: summary.sensitivity.flatMap((entry) => entry.variants.map((variant) => [prefixLabel(entry.base), variant.variant, ...types.map((type) => interval(variant.byType[type])), interval(variant.total)])),
  });
  blocks.push({
    kind: 'table',
    header: ['prefix', ...types.map((type) => `right − shuffled, ${type}`), 'right − shuffled, total', 'personas', 'kept their own prefix'],
    rows: summary.sensitivity.map((entry) => [
      prefixLabel(entry.base),
      ...types.map((type) => interval(entry.rightMinusShuffled.byType[type])),
      interval(entry.rightMinusShuffled.total),
      String(entry.rightMinusShuffled.total.personas),
      entry.keptOwnPrefix.join(', ') || 'none',
    ]),
  });
  return blocks;
}

function meanSd(value: MeanSd | undefined, digits: number): string {
  return value ? `${num(value.mean, digits)} ± ${num(value.sd, digits)}` : '–';
}

function personaBlocks(quality: NonNullable<EvalReport['personas']>): Block[] {
  const columns = QUALITY_COLUMNS.filter((column) => quality.columns.some((entry) => entry.column === column));
  const find = (column: string) => quality.columns.find((entry) => entry.column === column);
  const label = (column: (typeof QUALITY_COLUMNS)[number]) => prefixLabel(column === 'gold' ? 'gold' : column);
  return [
    { kind: 'heading', level: 2, text: 'Persona quality: ROUGE against the gold persona (Table 2)', id: 'personas' },
    {
      kind: 'paragraph',
      text: `ROUGE-1 F (no stemmer) of each prefix text against the persona\u2019s gold text, and against a random other persona\u2019s gold (seeded derangement, seed ${quality.seed}); mean ± population SD over personas. Words: whitespace split. Texts from ${quality.source}.`,
    },
    {
      kind: 'table',
      header: ['', ...columns.map(label)],
      rows: [
        ['R1', ...columns.map((column) => meanSd(find(column)?.rouge1, 2))],
        ['R1 (random)', ...columns.map((column) => meanSd(find(column)?.rouge1Random, 2))],
        ['words', ...columns.map((column) => meanSd(find(column)?.words, 0))],
        ['personas', ...columns.map((column) => String(find(column)?.rouge1.n ?? 0))],
      ],
    },
    ...(quality.withoutGold.length > 0 ? [{ kind: 'paragraph' as const, text: `Left out for lacking a gold text: ${quality.withoutGold.join(', ')}.` }] : []),
    { kind: 'heading', level: 3, text: 'Examples (Table 11): ROUGE-L against gold' },
    {
      kind: 'table',
      header: ['persona', 'persona', 'persona gpt4', 'few-shot'],
      rows: quality.examples.map((example) => [example.persona, num(example.texts.persona?.rougeL), num(example.texts['persona-gpt4']?.rougeL), num(example.texts['few-shot']?.rougeL)]),
    },
    ...quality.examples.flatMap((example): Block[] => [
      { kind: 'text', title: `${example.persona}: persona gold`, text: example.gold },
      ...(['persona', 'persona-gpt4'] as const).flatMap((column): Block[] => {
        const entry = example.texts[column];
        return entry ? [{ kind: 'text', title: `${example.persona}: ${prefixLabel(column)} (ROUGE-L ${num(entry.rougeL)})`, text: entry.text }] : [];
      }),
    ]),
  ];
}

function generationBlocks(generations: NonNullable<EvalReport['generations']>): Block[] {
  const { matrix } = generations;
  return [
    { kind: 'heading', level: 2, text: 'Generations judged pairwise (Table 3)', id: 'generations' },
    {
      kind: 'paragraph',
      text: `Judge ${generations.judge} with the G.4 prompt, simulating each persona; every pair of contestants on every question is asked in both answer orders. Cells: % of judgements the row won against the column (ties count half); avg: mean over columns. ${generations.questions} question(s); ${generations.judgements.ok} judgement(s) decided, ${generations.judgements.failed} failed; ${generations.generations.failed} generation(s) failed.`,
    },
    {
      kind: 'table',
      header: ['', ...matrix.labels, 'avg'],
      rows: matrix.labels.map((label, i) => [
        label,
        ...matrix.labels.map((_, j) => (i === j ? '–' : `${percent(matrix.cells[i]?.[j]?.winRate)} (${matrix.cells[i]?.[j]?.games ?? 0})`)),
        percent(matrix.rowAverage[i]),
      ]),
      heat: matrix.labels.map((_, i) => [null, ...matrix.labels.map((__, j) => (i === j ? null : (matrix.cells[i]?.[j]?.winRate ?? null))), matrix.rowAverage[i] ?? null]),
    },
    {
      kind: 'paragraph',
      text: `Self-agreement across answer orders: ${generations.agreement.agreeing} of ${generations.agreement.pairs} pairs (${num(generations.agreement.rate)}) got the same winner both ways. Output (a) won ${num(generations.firstPositionWinRate)} of decided judgements (0.5 = no position bias).`,
    },
  ];
}

function failureBlocks(report: EvalReport): Block[] {
  const failures = [
    ...(report.pairs?.failures.map((failure) => ['pair', failure.key, failure.code, failure.reason]) ?? []),
    ...(report.generations?.failures.map((failure) => [failure.kind, failure.key, failure.code, failure.reason]) ?? []),
    ...(report.safety?.failures.map((failure) => ['safety', failure.key, failure.code, failure.reason]) ?? []),
  ];
  if (failures.length === 0) return [];
  const byCode = new Map<string, number>();
  for (const [, , code] of failures) byCode.set(code as string, (byCode.get(code as string) ?? 0) + 1);
  return [
    { kind: 'heading', level: 2, text: 'Failures', id: 'failures' },
    {
      kind: 'paragraph',
      text: `${failures.length} unit(s) failed and are excluded from every number above: ${[...byCode].map(([code, n]) => `${code} ${n}`).join(', ')}.${failures.length > MAX_LISTED_FAILURES ? ` The first ${MAX_LISTED_FAILURES} are listed; all are in the row files.` : ''}`,
    },
    { kind: 'table', header: ['kind', 'key', 'code', 'reason'], rows: failures.slice(0, MAX_LISTED_FAILURES) },
  ];
}
