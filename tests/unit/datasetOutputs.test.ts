/**
 * From stage records to files: distributing divergent questions (§2.9), the split (§2.12), pair
 * assembly (y_w = bracket winner, y_l a seeded other, provenance), the authors' layouts (§1.1–1.4,
 * §1.7) and the dataset card's statistics (Table 9 agreement, defined in card.ts).
 */
import { describe, expect, it } from 'vitest';
import { assemblePairs, judgeRows, matchId, provenanceFor } from '../../src/core/dataset/assemble.ts';
import { agreementByAxis, datasetCard, expectedDistinct, firstPositionWinRate, summarize, topKUse } from '../../src/core/dataset/card.ts';
import { parseBuildConfig, type BuildConfig } from '../../src/core/dataset/config.ts';
import { distributeDivergent } from '../../src/core/dataset/distribute.ts';
import { authorsBaseName, datasetFiles, pythonFloat } from '../../src/core/dataset/outputs.ts';
import type { FilterRecord, MatchResult, PersonaRecord, Question, ResponsesRecord } from '../../src/core/dataset/records.ts';
import { splitRows, type SplittableRow } from '../../src/core/dataset/split.ts';
import { AuthorsFormattedRecord, AuthorsRawRecord, PreferencePair } from '../../src/core/schema.ts';

function config(input: Record<string, unknown> = {}): BuildConfig {
  const local = { type: 'local', model: 'm' };
  const parsed = parseBuildConfig({ providers: { generator: local, judge: local, baseline: local, reward: local, embedder: local }, ...input });
  if (!parsed.ok) throw new Error(parsed.issues.join('\n'));
  return parsed.config;
}

const personas: PersonaRecord[] = [
  { name: 'Halle Berry', memberships: [{ axis: 'diet', category: 'Ketogenic' }, { axis: 'politics', category: 'Centrist' }], descriptions: [], cv: 0 },
  { name: 'Ellen DeGeneres', memberships: [{ axis: 'diet', category: 'Veganism' }], descriptions: [], cv: 1 },
  { name: 'Bernie Sanders', memberships: [{ axis: 'politics', category: 'Liberal' }], descriptions: [], cv: 0 },
];

describe('distributeDivergent', () => {
  it('copies each divergent question to every member of its axis', () => {
    const rows = distributeDivergent([{ id: 'd-diet-000', axis: 'diet' }, { id: 'd-politics-000', axis: 'politics' }], personas);
    expect(rows.map((row) => row.id)).toEqual(['d-diet-000@Halle Berry', 'd-diet-000@Ellen DeGeneres', 'd-politics-000@Halle Berry', 'd-politics-000@Bernie Sanders']);
    expect(rows[0]?.item).toBe(rows[1]?.item);
  });
});

describe('splitRows', () => {
  const personal = (persona: string, n: number): SplittableRow[] =>
    Array.from({ length: n }, (_, i) => ({ id: `p-${persona}-${String(i).padStart(3, '0')}`, persona, type: 'personal', questionId: `p-${persona}-${i}`, prompt: `Question ${i} of ${persona}?` }));
  const divergent = (axis: string, members: string[], n: number): SplittableRow[] =>
    Array.from({ length: n }, (_, i) => members.map((persona) => ({ id: `d-${axis}-${String(i).padStart(3, '0')}@${persona}`, persona, type: 'divergent' as const, axis, questionId: `d-${axis}-${i}`, prompt: `Shared ${axis} ${i}?` }))).flat();
  const sizes = { personalTest: 3, personalTrain: 3, divergentTestPerAxis: 2, divergentTrain: 3 };

  it('splits personal questions per persona, duplicates dropped', () => {
    const rows = [...personal('a', 8), { id: 'p-a-dup', persona: 'a', type: 'personal' as const, questionId: 'p-a-dup', prompt: 'question 0 of A?' }];
    const split = splitRows(rows, sizes, 24);
    const mine = rows.map((row) => split.get(row.id));
    expect(mine.filter((s) => s === 'test')).toHaveLength(3);
    expect(mine.filter((s) => s === 'train')).toHaveLength(3);
    expect(split.has('p-a-dup')).toBe(false);
  });

  it('gives every persona of an axis the same divergent test questions, keeps all test rows, caps train rows', () => {
    const rows = [...divergent('diet', ['H', 'E'], 6), ...divergent('politics', ['H', 'B'], 6)];
    const split = splitRows(rows, sizes, 24);
    const testQuestions = (persona: string, axis: string) => rows.filter((row) => row.persona === persona && row.axis === axis && split.get(row.id) === 'test').map((row) => row.questionId).sort();
    expect(testQuestions('H', 'diet')).toEqual(testQuestions('E', 'diet'));
    expect(testQuestions('H', 'politics')).toEqual(testQuestions('B', 'politics'));
    expect(testQuestions('H', 'diet')).toHaveLength(2);
    // H has 2 axes: 4 test rows kept, train pooled (4 + 4) and capped at 3.
    const h = rows.filter((row) => row.persona === 'H').map((row) => split.get(row.id));
    expect(h.filter((s) => s === 'test')).toHaveLength(4);
    expect(h.filter((s) => s === 'train')).toHaveLength(3);
    expect(rows.filter((row) => row.persona === 'E').filter((row) => split.get(row.id) === 'train')).toHaveLength(3);
  });

  it('keeps the axis\u2019s test questions when one persona\u2019s row is missing', () => {
    const full = divergent('diet', ['H', 'E'], 6);
    const a = splitRows(full, sizes, 24);
    // Remove one of E's test rows: the other test questions stay test for both personas.
    const gap = full.find((row) => row.persona === 'E' && a.get(row.id) === 'test');
    const withGap = full.filter((row) => row !== gap);
    const b = splitRows(withGap, sizes, 24);
    for (const row of withGap) expect(b.get(row.id) === 'test').toBe(a.get(row.id) === 'test');
    expect(withGap.filter((row) => b.get(row.id) === 'test')).toHaveLength(3);
  });
});

describe('assemblePairs', () => {
  const cfg = config({ split: { personalTest: 1, personalTrain: 1, divergentTestPerAxis: 1, divergentTrain: 1 } });
  const questions: Question[] = [
    { id: 'p-halle-berry-000', type: 'personal', persona: 'Halle Berry', prompt: 'Best breakfast?' },
    { id: 'd-diet-000', type: 'divergent', axis: 'diet', prompt: 'Best diet?' },
  ];
  const candidates = ['zero', 'one', 'two', 'three', 'four', 'five'].map((text, i) => ({ text, cot: i % 2, phase: 2 as const, category: 'Keto' }));
  const responses = new Map<string, Extract<ResponsesRecord, { ok: true }>>(questions.map((q) => [q.id, { ok: true, key: q.id, cots: ['Axis: diet\nCategories: Keto', 'Axis: diet\nCategories: Keto'], candidates, cotSamples: 0 }]));
  const filters = new Map<string, Extract<FilterRecord, { ok: true }>>(
    questions.map((q) => [q.id, { ok: true, key: q.id, scored: [0, 1, 2, 3, 4, 5], rewards: [0, 1, 2, 3, 4, 5], window: [5, 4, 3, 2, 1], rewardRange: 4, diverse: [5, 3, 1, 0], random: [5, 3, 1, 0] }]),
  );
  const win = (rowId: string, level: number, a: number, b: number, winner: number, swapped = false): [string, MatchResult] => [
    matchId(rowId, level, a, b),
    { ok: true, matchId: matchId(rowId, level, a, b), rowId, level, a, b, swapped, winner, explanation: `${winner} wins`, raw: `{"w": ${winner}}`, attempt: 1 },
  ];
  const matches = new Map<string, MatchResult>([
    win('p-halle-berry-000', 0, 0, 1, 1),
    win('p-halle-berry-000', 0, 2, 3, 2, true),
    win('p-halle-berry-000', 1, 1, 2, 2),
    win('d-diet-000@Halle Berry', 0, 0, 1, 0),
    win('d-diet-000@Halle Berry', 0, 2, 3, 3),
    win('d-diet-000@Halle Berry', 1, 0, 3, 0),
    ['d-diet-000@Ellen DeGeneres#L0:0v1', { ok: false, matchId: 'd-diet-000@Ellen DeGeneres#L0:0v1', rowId: 'd-diet-000@Ellen DeGeneres', level: 0, a: 0, b: 1, swapped: false, error: 'unreadable verdict', retryable: false, raw: 'garbage' }],
  ]);
  const provenance = provenanceFor(cfg, { judge: 'openai:gpt-4-0613' }, 'hash');
  const assembled = assemblePairs({ config: cfg, personas, questions, responses, filters, matches, provenance });

  it('judges personal rows once and divergent rows per member', () => {
    expect(judgeRows(questions, personas, responses, filters).map((row) => row.id)).toEqual(['d-diet-000@Ellen DeGeneres', 'd-diet-000@Halle Berry', 'p-halle-berry-000']);
  });

  it('takes y_w from the bracket and y_l from the others, with the authors\u2019 columns and provenance', () => {
    const personal = assembled.pairs.find((pair) => pair.id === 'p-halle-berry-000');
    // diverse = candidates [5, 3, 1, 0] → texts five, three, one, zero; winner index 2 = "one".
    expect(personal).toMatchObject({ persona: 'Halle Berry', type: 'personal', prompt: 'Best breakfast?', chosen: 'one' });
    expect(['five', 'three', 'zero']).toContain(personal?.rejected);
    expect(personal?.meta).toMatchObject({
      question_id: 'p-halle-berry-000',
      diverse_ys: ['five', 'three', 'one', 'zero'],
      y: ['three', 'one'],
      pairwise_comparisons: { 0: [], 1: [0], 2: [3, 1], 3: [] },
      raw_completions: { '1_beats_0': '{"w": 1}', '2_beats_3': '{"w": 2}', '2_beats_1': '{"w": 2}' },
      yw_index: 2,
      cv: 0,
      provenance: { promptsVersion: 'wikipersonas-acl2025-appG-v1', seed: 24, models: { judge: 'openai:gpt-4-0613' } },
    });
    expect(personal?.meta?.judge).toEqual([
      { level: 0, a: 0, b: 1, swapped: false, winner: 1, explanation: '1 wins', attempt: 1 },
      { level: 0, a: 2, b: 3, swapped: true, winner: 2, explanation: '2 wins', attempt: 1 },
      { level: 1, a: 1, b: 2, swapped: false, winner: 2, explanation: '2 wins', attempt: 1 },
    ]);
    for (const pair of assembled.pairs) expect(PreferencePair.safeParse(pair).success).toBe(true);
  });

  it('leaves rows with a failed match unlabelled, never guessed', () => {
    expect(assembled.unlabeled).toEqual([{ rowId: 'd-diet-000@Ellen DeGeneres', error: 'unreadable verdict' }]);
    expect(assembled.pairs.map((pair) => pair.id).sort()).toEqual(['d-diet-000@Halle Berry', 'p-halle-berry-000']);
  });
});

describe('datasetFiles', () => {
  const cfg = config({ cvFolds: 2 });
  const pair = (id: string, persona: string, type: 'personal' | 'divergent', split: 'train' | 'test', cv: number): PreferencePair => ({
    id,
    persona,
    ...(type === 'divergent' && { axis: 'diet' }),
    type,
    split,
    prompt: `${id}?`,
    chosen: 'yes',
    rejected: 'no',
    meta: { cv, y_cot: ['Axis: diet'], diverse_ys: ['yes', 'no', 'a', 'b'] },
  });
  const pairs = [
    pair('p1', 'Halle Berry', 'personal', 'train', 0),
    pair('p2', 'Halle Berry', 'personal', 'test', 0),
    pair('d1@H', 'Halle Berry', 'divergent', 'test', 0),
    pair('p3', 'Ellen DeGeneres', 'personal', 'train', 1),
    pair('d1@E', 'Ellen DeGeneres', 'divergent', 'train', 1),
  ];
  const { files, formattedDir } = datasetFiles(pairs, personas, cfg);
  const lines = (path: string) => (files.get(path) ?? '').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);

  it('names files with the authors\u2019 grammar', () => {
    expect(pythonFloat(2)).toBe('2.0');
    expect(pythonFloat(0.8)).toBe('0.8');
    expect(authorsBaseName(config(), 50)).toBe('50p_200d_total_50r_tem2.0_top0.8_cot_filtered20m4k_yl-random_cot_annotated');
    const base = authorsBaseName(cfg, 3);
    expect(formattedDir).toBe(`authors/${base}_self-yl`);
    const formatted = [...files.keys()].filter((path) => path.startsWith(`${formattedDir}/`)).map((path) => path.slice(formattedDir.length + 1)).sort();
    expect(formatted).toEqual(
      [
        'train_prefs.json',
        'test_personal_prefs.json',
        'test_common_prefs.json',
        ...['halleberry', 'ellendegeneres', 'berniesanders'].flatMap((flat) => [`train_${flat}_prefs.json`, `test_${flat}_personal_prefs.json`, `test_${flat}_common_prefs.json`]),
        ...['cv0', 'cv1', 'cvdiet', 'cvpolitics'].flatMap((folder) => ['train_meta_prefs.json', 'test_meta_prefs.json', 'train_meta_common_prefs.json', 'train_meta_personal_prefs.json'].map((file) => `${folder}/${file}`)),
      ].sort(),
    );
    expect([...files.keys()].filter((path) => !path.startsWith(`${formattedDir}/`)).sort()).toEqual(['authors/personas.json', `authors/test_${base}.json`, `authors/train_${base}.json`, 'pairs.jsonl']);
  });

  it('writes raw records (§1.3) and formatted records (§1.4) that the authors\u2019 schemas accept', () => {
    const base = authorsBaseName(cfg, 3);
    const raw = lines(`authors/test_${base}.json`);
    expect(raw.map((record) => AuthorsRawRecord.parse(record))).toHaveLength(2);
    expect(raw[1]).toMatchObject({ name: 'Halle Berry', prompt: 'd1@H?', question_type: 'common', axis: 'diet', yw: 'yes', yl: 'no', y_cot: ['Axis: diet'], cv: 0 });
    expect(raw[0]).toMatchObject({ axis: null, question_type: 'personal' });
    const train = lines(`${formattedDir}/train_prefs.json`);
    expect(train[0]).toEqual({
      name: 'Halle Berry',
      prompt: 'p1?',
      chosen: [{ role: 'user', content: 'p1?' }, { role: 'assistant', content: 'yes' }],
      rejected: [{ role: 'user', content: 'p1?' }, { role: 'assistant', content: 'no' }],
      question_type: 'personal',
      cv: 0,
    });
    for (const record of [...train, ...lines(`${formattedDir}/test_common_prefs.json`)]) AuthorsFormattedRecord.parse(record);
    expect(lines(`${formattedDir}/test_common_prefs.json`)).toEqual([expect.not.objectContaining({ question_type: expect.anything() })]);
    expect(lines(`${formattedDir}/test_halleberry_personal_prefs.json`).map((r) => r.prompt)).toEqual(['p2?']);
    expect(lines('authors/personas.json')[0]).toEqual({ name: 'Halle Berry', axis: ['diet: Ketogenic', 'politics: Centrist'], description: [], cv: 0, tag: '<special_person_tag_0>' });
  });

  it('fills CV folders with the training personas\u2019 rows', () => {
    // Fold 0 tests Halle and Bernie: its training persona is Ellen.
    expect(lines(`${formattedDir}/cv0/train_meta_prefs.json`).map((r) => r.prompt)).toEqual(['p3?', 'd1@E?']);
    expect(lines(`${formattedDir}/cv0/test_meta_prefs.json`)).toEqual([]);
    expect(lines(`${formattedDir}/cv0/train_meta_common_prefs.json`)).toEqual([expect.not.objectContaining({ question_type: expect.anything() })]);
    // Fold 1 tests Ellen: Halle's test rows, common before personal, keep question_type.
    expect(lines(`${formattedDir}/cv1/test_meta_prefs.json`).map((r) => [r.prompt, r.question_type])).toEqual([
      ['d1@H?', 'common'],
      ['p2?', 'personal'],
    ]);
    // Leave-one-axis-out "diet" tests Halle and Ellen: only Bernie trains, who has no rows here.
    expect(lines(`${formattedDir}/cvdiet/train_meta_prefs.json`)).toEqual([]);
  });
});

describe('card statistics', () => {
  const divergent = (question: string, persona: string, winner: number, axis = 'diet'): PreferencePair => ({
    id: `${question}@${persona}`,
    persona,
    axis,
    type: 'divergent',
    split: 'test',
    prompt: 'q',
    chosen: 'a',
    rejected: 'b',
    meta: { question_id: question, yw_index: winner, judge: [{ level: 1, a: 0, b: 2, swapped: winner === 2, winner }] },
  });

  it('counts personas per distinct y_w per question (Table 9)', () => {
    // q1: winners 0, 0, 1 → groups 2, 1; q2: 3, 3, 3 → group 3. Sizes [2, 1, 3]: mean 2, sd 1.
    const pairs = [divergent('q1', 'A', 0), divergent('q1', 'B', 0), divergent('q1', 'C', 1), divergent('q2', 'A', 3), divergent('q2', 'B', 3), divergent('q2', 'C', 3)];
    const [diet] = agreementByAxis(pairs, 4);
    expect(diet).toMatchObject({ axis: 'diet', questions: 2, groups: { n: 3, mean: 2, sd: 1 } });
    expect(diet?.chance).toBeCloseTo(6 / (2 * expectedDistinct(3, 4)), 12);
  });

  it('states the chance level under uniform picks', () => {
    expect(5 / expectedDistinct(5, 4)).toBeCloseTo(1.6389, 4);
    expect(4 / expectedDistinct(4, 4)).toBeCloseTo(1.4629, 4);
    expect(summarize([])).toMatchObject({ n: 0 });
  });

  it('measures how often the first-shown output wins', () => {
    // winner 0 shown first (not swapped) wins; winner 2 with swapped = true was shown first too.
    expect(firstPositionWinRate([divergent('q', 'A', 0), divergent('q', 'B', 2), divergent('q', 'C', 1)])).toEqual({ matches: 3, firstShownWins: 2 });
  });

  it('renders counts, agreement and failures into the card', () => {
    const card = datasetCard({
      config: config(),
      personas,
      pairs: [divergent('q1', 'Halle Berry', 0), divergent('q1', 'Ellen DeGeneres', 0)],
      failures: [{ stage: 'judge matches (G.4)', items: 10, failed: 1, examples: ['x#L0: unreadable | verdict'] }],
      unlabeled: 1,
      unused: 0,
      models: { judge: 'openai:gpt-4-0613' },
      promptsVersion: 'v',
      configHash: 'h',
      formattedDir: 'authors/x_self-yl',
      embedder: 'Transformer (≤ 256 tokens) → Pooling (mean) → Dense (1024 → 768, Identity) → Normalize (modules.json)',
    });
    expect(card).toContain('| diet | 2 | 0 | 0 | 0 | 2 |');
    expect(card).toContain('| diet | 1 | 2.00 ± 0.00 | 1.14 |');
    expect(card).toContain('| judge matches (G.4) | 10 | 1 | x#L0: unreadable \\| verdict |');
    expect(card).toContain('| judge | `openai:gpt-4-0613` |');
    expect(card).toContain('| G.3 axis list | the paper\u2019s | "eleven" axes, twelve listed | twenty axes |');
    expect(card).toContain('| answer embeddings | Transformer (≤ 256 tokens) → Pooling (mean) → Dense (1024 → 768, Identity) → Normalize (modules.json) |');
  });

  it('records where the baseline\u2019s top-k went', () => {
    const local = { type: 'local', model: 'm' };
    const withBaseline = (baseline: Record<string, unknown>, responses: Record<string, unknown> = {}) =>
      topKUse(config({ providers: { generator: local, judge: local, baseline, reward: local, embedder: local }, responses }));
    expect(withBaseline({ type: 'openai', baseUrl: 'http://127.0.0.1:8000/v1', model: 'zephyr' })).toBe('50, sent as `top_k`');
    expect(withBaseline({ type: 'openai', baseUrl: 'https://api.openai.com/v1', model: 'gpt-4' })).toBe('50 asked for but not applied: https://api.openai.com/v1 has no `top_k`');
    expect(withBaseline({ type: 'local', model: 'b' }, { topK: 7 })).toBe('7 (local engine: top-k, then top-p)');
    expect(withBaseline({ type: 'local', model: 'b' }, { topK: 0 })).toBe('none (`responses.topK` 0)');
  });
});
