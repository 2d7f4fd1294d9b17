/**
 * The dataset card (Markdown) and the statistics in it: counts per axis, question type and split;
 * length statistics; label agreement per axis (paper Table 9); the judge's position behaviour; what
 * failed. Everything is computed from the pairs and stage failures, so the card of a resumed build
 * is identical to that of an uninterrupted one (call counts and costs, which differ, are reported by
 * the command and in summary.json instead).
 *
 * Agreement, as Table 9 (paper App. E.6): for each divergent question, the axis's personas each pick
 * a y_w among the same k candidates. Group them by the candidate they picked and count the personas
 * in each group: one number per distinct y_w. The table reports the mean and the standard deviation
 * (n − 1) of these numbers over all questions of the axis. Higher means more personas share a
 * winner, i.e. more agreement. With n personas choosing uniformly among k candidates the expected
 * value is about n / (k·(1 − (1 − 1/k)^n)) (1.64 for 5 personas and k = 4, 1.46 for 4); the paper's
 * "around 1.25" is n/k, which counts unchosen candidates as zero-sized groups, but then every
 * question would average exactly n/k, so the card uses chosen candidates only and prints the chance
 * value next to each axis.
 */
import { acceptsTopK } from '../providers.ts';
import type { PreferencePair } from '../schema.ts';
import { wordCount } from '../words.ts';
import type { BuildConfig } from './config.ts';
import type { PersonaRecord } from './records.ts';
import { axesOf } from './roster.ts';

export interface Summary {
  n: number;
  mean: number;
  sd: number;
}

/** Mean and sample standard deviation (n − 1; 0 for fewer than 2 values). */
export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  if (n === 0) return { n: 0, mean: Number.NaN, sd: Number.NaN };
  const mean = values.reduce((sum, value) => sum + value, 0) / n;
  const variance = n < 2 ? 0 : values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (n - 1);
  return { n, mean, sd: Math.sqrt(variance) };
}

export interface AxisAgreement {
  axis: string;
  /** Divergent questions with at least one labelled persona. */
  questions: number;
  /** Personas per distinct y_w, pooled over questions. */
  groups: Summary;
  /** The pooled mean expected if every persona picked uniformly at random. */
  chance: number;
}

/** Expected number of distinct picks when n personas pick uniformly among k candidates. */
export function expectedDistinct(n: number, k: number): number {
  return k * (1 - (1 - 1 / k) ** n);
}

export function agreementByAxis(pairs: readonly PreferencePair[], k: number): AxisAgreement[] {
  const byQuestion = new Map<string, { axis: string; winners: number[] }>();
  for (const pair of pairs) {
    const questionId = pair.meta?.question_id;
    const winner = pair.meta?.yw_index;
    if (pair.type !== 'divergent' || pair.axis === undefined || typeof questionId !== 'string' || typeof winner !== 'number') continue;
    const entry = byQuestion.get(questionId) ?? { axis: pair.axis, winners: [] };
    entry.winners.push(winner);
    byQuestion.set(questionId, entry);
  }
  const byAxis = new Map<string, { sizes: number[]; personas: number; distinctExpected: number; questions: number }>();
  for (const { axis, winners } of byQuestion.values()) {
    const counts = new Map<number, number>();
    for (const winner of winners) counts.set(winner, (counts.get(winner) ?? 0) + 1);
    const entry = byAxis.get(axis) ?? { sizes: [], personas: 0, distinctExpected: 0, questions: 0 };
    entry.sizes.push(...counts.values());
    entry.personas += winners.length;
    entry.distinctExpected += expectedDistinct(winners.length, k);
    entry.questions++;
    byAxis.set(axis, entry);
  }
  return [...byAxis.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([axis, entry]) => ({ axis, questions: entry.questions, groups: summarize(entry.sizes), chance: entry.personas / entry.distinctExpected }));
}

/** Share of decided matches won by the candidate shown as Output (a): 0.5 means no position preference. */
export function firstPositionWinRate(pairs: readonly PreferencePair[]): { matches: number; firstShownWins: number } {
  let matches = 0;
  let firstShownWins = 0;
  for (const pair of pairs) {
    const judge = pair.meta?.judge;
    if (!Array.isArray(judge)) continue;
    for (const match of judge as unknown[]) {
      if (typeof match !== 'object' || match === null) continue;
      const { a, winner, swapped } = match as { a?: unknown; winner?: unknown; swapped?: unknown };
      if (typeof a !== 'number' || typeof winner !== 'number' || typeof swapped !== 'boolean') continue;
      matches++;
      const shownFirst = swapped ? winner !== a : winner === a;
      if (shownFirst) firstShownWins++;
    }
  }
  return { matches, firstShownWins };
}

export interface StageFailures {
  stage: string;
  items: number;
  failed: number;
  examples: string[];
}

export interface CardInput {
  config: BuildConfig;
  personas: readonly PersonaRecord[];
  pairs: readonly PreferencePair[];
  failures: readonly StageFailures[];
  /** Rows whose bracket did not finish, and labelled rows beyond the split sizes. */
  unlabeled: number;
  unused: number;
  models: Record<string, string>;
  promptsVersion: string;
  configHash: string;
  formattedDir: string;
  /** What the embedder computes (its sentence-transformers modules, or the default without them). */
  embedder: string;
}

/** Whether and how the CoT answers were sampled with top-k (the authors' `generate` used 50). */
export function topKUse(config: BuildConfig): string {
  const { topK } = config.responses;
  if (topK === 0) return 'none (`responses.topK` 0)';
  const baseline = config.providers.baseline;
  if (baseline.type === 'local') return `${topK} (local engine: top-k, then top-p)`;
  return acceptsTopK(baseline.baseUrl) ? `${topK}, sent as \`top_k\`` : `${topK} asked for but not applied: ${baseline.baseUrl} has no \`top_k\``;
}

const PERSONA_SOURCES = { roster: 'Table 7, verbatim', list: 'the config\u2019s list', generate: 'G.1 replies' } as const;

/** Where the paper and the authors' code differ or are silent, and what this build did. */
function methodRows(input: CardInput): string[][] {
  const { config } = input;
  return [
    ['category labels', PERSONA_SOURCES[config.personas.source], 'Table 7', 'their personas.json (not released)'],
    ['G.3 axis list', config.responses.cotAxisList === 'paper' ? 'the paper\u2019s' : 'the authors\u2019', '"eleven" axes, twelve listed', 'twenty axes'],
    ['CoT answers: top-k', topKUse(config), 'not stated', '50 (Hugging Face `generate` default)'],
    ['answer embeddings', input.embedder, 'sentence-t5-xxl', '`SentenceTransformer.encode`: mean pooling → Dense (1024 → 768) → Normalize'],
  ];
}

const fixed = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
const meanSd = (summary: Summary) => (summary.n === 0 ? '–' : `${fixed(summary.mean, 1)} ± ${fixed(summary.sd, 1)}`);

function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function datasetCard(input: CardInput): string {
  const { config, personas, pairs } = input;
  const axes = axesOf(personas);
  const count = (filter: (pair: PreferencePair) => boolean) => pairs.filter(filter).length;
  const personasOf = (axis: string) => new Set(personas.filter((p) => p.memberships.some((m) => m.axis === axis)).map((p) => p.name));

  const countRows = axes.map((axis) => {
    const members = personasOf(axis);
    const mine = (pair: PreferencePair) => members.has(pair.persona ?? '');
    return [
      axis,
      members.size,
      count((p) => mine(p) && p.type === 'personal' && p.split === 'train'),
      count((p) => mine(p) && p.type === 'personal' && p.split === 'test'),
      count((p) => p.axis === axis && p.type === 'divergent' && p.split === 'train'),
      count((p) => p.axis === axis && p.type === 'divergent' && p.split === 'test'),
    ];
  });
  const total = [
    '**all**',
    personas.length,
    count((p) => p.type === 'personal' && p.split === 'train'),
    count((p) => p.type === 'personal' && p.split === 'test'),
    count((p) => p.type === 'divergent' && p.split === 'train'),
    count((p) => p.type === 'divergent' && p.split === 'test'),
  ];

  const lengthRows = (['personal', 'divergent'] as const).map((type) => {
    const rows = pairs.filter((pair) => pair.type === type);
    const difference = summarize(rows.map((pair) => wordCount(pair.chosen) - wordCount(pair.rejected)));
    return [
      type,
      rows.length,
      meanSd(summarize(rows.map((pair) => wordCount(pair.prompt)))),
      meanSd(summarize(rows.map((pair) => wordCount(pair.chosen)))),
      meanSd(summarize(rows.map((pair) => wordCount(pair.rejected)))),
      meanSd(difference),
    ];
  });

  const agreement = agreementByAxis(pairs, config.filter.k);
  const position = firstPositionWinRate(pairs);
  const failureRows = input.failures.map(({ stage, items, failed, examples }) => [stage, items, failed, examples.map((e) => e.replaceAll('|', '\\|').replaceAll('\n', ' ')).join('; ') || '–']);

  return `# ${config.name}: a WikiPersona-style preference dataset

Built with the pipeline of *WikiPersonas* (Tang et al., 2025): personas on ${axes.length} axes, personal and
divergent questions from a generator model, chain-of-thought candidate answers from a baseline model,
a generic-reward window and k-means diversity filter, and a judge model simulating each persona's
preference in a single-elimination bracket. y_w is the bracket winner, y_l a random other candidate.

## Provenance

| role | model |
| --- | --- |
${Object.entries(input.models).map(([role, model]) => `| ${role} | \`${model}\` |`).join('\n')}

Prompts: \`${input.promptsVersion}\` (paper Appendix G). Seed: ${config.seed}. Config hash: \`${input.configHash}\`.
Sampling: questions ${config.questions.perCall} per call (temperature ${config.questions.temperature}); ${config.responses.cotsPerQuestion} CoTs × ${config.responses.answersPerCot} answers per question (temperature ${config.responses.temperature}, top-p ${config.responses.topP}, top-k ${config.responses.topK || 'none'}, ${config.responses.maxTokens} tokens); reward window ${config.filter.rewardWindow}; k = ${config.filter.k}; judge batches of ${config.judge.batchSize}.

## Method

Where the paper's text and the authors' code differ or are silent: what this build did.

${table(['choice', 'this build', 'paper', 'authors\u2019 code'], methodRows(input))}

## Counts

Pairs per axis, question type and split. A multi-axis persona's personal pairs appear under each of
their axes; divergent pairs are counted under the axis of their question.

${table(['axis', 'personas', 'personal train', 'personal test', 'divergent train', 'divergent test'], [...countRows, total])}

${pairs.length} pairs in total from ${personas.length} personas. ${input.unlabeled} judged row(s) have no label (a match failed, see
below); ${input.unused} labelled row(s) exceed the split sizes and are not in the dataset.

## Lengths

Whitespace-separated words, mean ± standard deviation; the last column is y_w − y_l per pair.

${table(['type', 'pairs', 'prompt', 'y_w (chosen)', 'y_l (rejected)', 'y_w − y_l'], lengthRows)}

## Label agreement per axis (Table 9)

For each divergent question, the axis's personas are grouped by the candidate they chose as y_w; the
numbers below are the sizes of those groups (personas per distinct y_w), mean ± sd over all
questions of the axis. Higher = more personas agree. "chance" is the expected mean if every persona
picked uniformly among the ${config.filter.k} candidates.

${agreement.length === 0 ? '_No divergent pairs._' : table(['axis', 'questions', 'personas per y_w', 'chance'], agreement.map((row) => [row.axis, row.questions, `${fixed(row.groups.mean)} ± ${fixed(row.groups.sd)}`, fixed(row.chance)]))}

Judge position: the candidate shown as Output (a) won ${position.firstShownWins} of ${position.matches} matches (${fixed(position.matches === 0 ? Number.NaN : (100 * position.firstShownWins) / position.matches, 1)}%; 50% = no position preference). Each match's order is a seeded coin, recorded in \`meta.judge[].swapped\`.

## Failures

Failed items are left out and listed here; nothing was labelled at random.

${table(['stage', 'items', 'failed', 'examples'], failureRows)}

## Files

- \`pairs.jsonl\`: one \`PreferencePair\` per line (id, persona, axis, type, split, prompt, chosen, rejected), with the
  authors' columns (\`y_cot\`, \`diverse_ys\`, \`pairwise_comparisons\`, \`raw_completions\`, …), the judge's rationale per
  match (\`meta.judge\`) and the provenance in \`meta\`.
- \`authors/\`: the layouts of the authors' code: \`personas.json\`, raw annotated \`train_*.json\` / \`test_*.json\`, and
  \`${input.formattedDir.replace(/^authors\//u, '')}/\` with \`train_prefs.json\`, \`test_personal_prefs.json\`,
  \`test_common_prefs.json\`, per-persona files and \`cv*/\` folders (${config.cvFolds} persona folds and one leave-one-axis-out
  folder per axis).
`;
}
