/**
 * The pure parts of batch evaluation (src/core/eval): prefix naming and resolution, the
 * Appendix L shuffle, job planning, the summaries against hand-computed values, persona quality
 * (Table 2) against hand-computed ROUGE, and the pairwise judging plan and Table 3 summary.
 */
import { describe, expect, it } from 'vitest';
import { judgeBatches, judgeTasks, selectQuestions, summarizeGenerations } from '../../src/core/eval/generations.ts';
import { planScoringJobs } from '../../src/core/eval/jobs.ts';
import { meanSd, personaQuality } from '../../src/core/eval/personaQuality.ts';
import { wordCount } from '../../src/core/words.ts';
import { evalPrefixSpec, fewShotBlock, parseFewShotBlock, parsePrefixList, type PersonaMaterial } from '../../src/core/eval/prefixes.ts';
import { reportJson, reportSections } from '../../src/core/eval/report.ts';
import { latestByKey, pairRowKey, type EvalPairRow, type GenerationRow, type JudgementRow } from '../../src/core/eval/rows.ts';
import { fixedPoints, shuffleAssignment } from '../../src/core/eval/shuffle.ts';
import { summarizePairs } from '../../src/core/eval/summary.ts';
import { applyPrefix } from '../../src/core/prefixes.ts';
import type { Persona, PreferencePair } from '../../src/core/schema.ts';
import { bootstrapMeanInterval } from '../../src/core/stats.ts';

describe('prefix names', () => {
  it('parses a list into report order and rejects unknown names with the known ones', () => {
    expect(parsePrefixList('gold, none,shuffle-persona,few-shot')).toEqual(['none', 'few-shot', 'gold', 'shuffle-persona']);
    expect(() => parsePrefixList('none,persona-gpt5')).toThrow(/Unknown prefix "persona-gpt5": use none, tag, few-shot/);
    expect(() => parsePrefixList(' , ')).toThrow(/No prefix given/);
  });

  it('resolves strategies to the paper wrappers; shuffled ones take the partner\u2019s material; persona-gpt4 wraps like persona', () => {
    const material = new Map<string, PersonaMaterial>([
      ['Ann', { name: 'Ann', tag: '<special_person_tag_0>', persona: 'Ann persona.', 'persona-gpt4': 'Ann by a big model.', fewShot: [{ prompt: 'q', chosen: 'a' }] }],
      ['Bob', { name: 'Bob', tag: '<special_person_tag_1>', persona: 'Bob persona.', unavailable: { gold: { code: 'internal', reason: 'the API failed' } } }],
    ]);
    const shuffle = { Ann: 'Bob', Bob: 'Ann' };
    expect(applyPrefix(evalPrefixSpec('tag', 'Ann', material).spec, 'Q?')).toBe('<special_person_tag_0> Q?');
    expect(evalPrefixSpec('shuffle-tag', 'Ann', material, shuffle)).toEqual({ spec: { kind: 'tag', tag: '<special_person_tag_1>' }, from: 'Bob' });
    expect(evalPrefixSpec('shuffle-name', 'Bob', material, shuffle)).toEqual({ spec: { kind: 'name', name: 'Ann' }, from: 'Ann' });
    expect(evalPrefixSpec('persona-gpt4', 'Ann', material).spec).toEqual({ kind: 'persona', text: 'Ann by a big model.' });
    expect(applyPrefix(evalPrefixSpec('shuffle-persona', 'Ann', material, shuffle).spec, 'Q?')).toMatch(/^Bob persona\.\n\nRespond to the following prompt from this person\./);
    expect(() => evalPrefixSpec('gold', 'Bob', material)).toThrow('Prefix "gold" of Bob is unavailable: the API failed');
    expect(() => evalPrefixSpec('few-shot', 'Bob', material)).toThrow('Prefix "few-shot" of Bob has no text');
    expect(() => evalPrefixSpec('shuffle-persona', 'Ann', material)).toThrow(/needs a shuffle assignment/);
  });

  it('few-shot blocks round-trip in the authors\u2019 xyw format and refuse text that would not', () => {
    const shots = [
      { prompt: 'Q1\nsecond line', chosen: 'A1' },
      { prompt: 'Q2', chosen: 'A2\n\nwith a paragraph' },
    ];
    const block = fewShotBlock(shots);
    expect(block).toBe('## Prompt:\nQ1\nsecond line\n### Preferred Response:\nA1\n\n## Prompt:\nQ2\n### Preferred Response:\nA2\n\nwith a paragraph');
    expect(parseFewShotBlock(block)).toEqual(shots);
    expect(parseFewShotBlock('just a persona text')).toBeUndefined();
  });
});

describe('shuffleAssignment (Appendix L)', () => {
  const names = ['A', 'B', 'C', 'D', 'E', 'F'];

  it('is a permutation with at most one fixed point (the authors\u2019 rule), the same for the same seed', () => {
    const seen = new Set<string>();
    for (let seed = 0; seed < 200; seed++) {
      const assignment = shuffleAssignment(names, { seed });
      expect(Object.keys(assignment).sort()).toEqual(names);
      expect(Object.values(assignment).sort()).toEqual(names);
      expect(fixedPoints(assignment).length).toBeLessThanOrEqual(1);
      expect(shuffleAssignment(names, { seed })).toEqual(assignment);
      seen.add(JSON.stringify(assignment));
    }
    expect(seen.size).toBeGreaterThan(50);
    // The rule allows one fixed point and some seeds produce one, as the authors' re-draw did.
    expect([...Array(200).keys()].some((seed) => fixedPoints(shuffleAssignment(names, { seed })).length === 1)).toBe(true);
  });

  it('gives a strict derangement with maxFixedPoints 0, and refuses one persona', () => {
    for (let seed = 0; seed < 100; seed++) expect(fixedPoints(shuffleAssignment(names, { seed, maxFixedPoints: 0 }))).toEqual([]);
    expect(shuffleAssignment(['A', 'B'], { seed: 1, maxFixedPoints: 0 })).toEqual({ A: 'B', B: 'A' });
    expect(() => shuffleAssignment(['A'], { seed: 1, maxFixedPoints: 0 })).toThrow(/at least two personas/);
    expect(shuffleAssignment(['A'], { seed: 1 })).toEqual({ A: 'A' });
  });
});

function pair(id: string, persona: string, prompt: string, chosen: string, type: 'personal' | 'divergent' = 'personal'): PreferencePair & { persona: string } {
  return { id, persona, type, split: 'test', prompt, chosen, rejected: 'r' };
}

describe('planScoringJobs', () => {
  const material = new Map<string, PersonaMaterial>([
    ['Ann', { name: 'Ann', tag: 't0', persona: 'P'.repeat(50) }],
    ['Bob', { name: 'Bob', tag: 't1', unavailable: { persona: { code: 'context-exceeded', reason: 'inference prompt too long' } } }],
  ]);
  const pairs = [pair('a1', 'Ann', 'short?', 'x'), pair('a2', 'Ann', 'a much longer question here?', 'x'), pair('b1', 'Bob', 'q?', 'y'.repeat(40))];

  it('builds one job per (prefix, pair), longest first, skipping keys already written', () => {
    const plan = planScoringJobs({ pairs, prefixes: ['none', 'tag'], material, done: new Set([pairRowKey('none', 'a1')]) });
    expect(plan.unavailable).toEqual([]);
    expect(plan.jobs.map((job) => job.key)).toEqual(['tag|b1', 'none|b1', 'tag|a2', 'none|a2', 'tag|a1']);
    const lengths = plan.jobs.map((job) => job.length);
    expect(lengths).toEqual([...lengths].sort((a, b) => b - a));
    expect(plan.jobs[0]).toMatchObject({ id: 'tag|b1', userContent: 't1 q?', chosen: 'y'.repeat(40), prefixFrom: 'Bob' });
  });

  it('turns a prefix that could not be built into failed work with its reason, for that persona only', () => {
    const plan = planScoringJobs({ pairs, prefixes: ['persona'], material });
    expect(plan.jobs.map((job) => job.key)).toEqual(['persona|a2', 'persona|a1']);
    expect(plan.unavailable).toEqual([
      expect.objectContaining({ key: 'persona|b1', code: 'context-exceeded', reason: 'Prefix "persona" of Bob is unavailable: inference prompt too long' }),
    ]);
  });
});

type Row = EvalPairRow;
let counter = 0;
function scored(persona: string, prefix: Row['prefix'], type: 'personal' | 'divergent', correct: boolean, extra: Partial<Row> = {}): Row {
  counter++;
  return {
    ok: true,
    key: `${prefix}|${persona}-${counter}`,
    id: `${persona}-${counter}`,
    persona,
    type,
    prefix,
    prefixFrom: persona,
    session: 's1',
    scores: { chosen: correct ? -1 : -2, rejected: correct ? -2 : -1 },
    margin: correct ? 1 : -1,
    correct,
    tie: false,
    tokens: { prompt: 10, chosen: 5, rejected: 5 },
    truncated: { prompt: false, answers: false },
    convention: 'authors',
    norm: 'mean',
    method: 'test',
    ...extra,
  } as Row;
}

describe('summarizePairs', () => {
  const rows: Row[] = [
    // no prefix — A: personal 1/2, divergent 2/2 (total 3/4); B: personal 0/2, divergent 0/1 as a tie (0/3); C: personal 1/1.
    scored('A', 'none', 'personal', true),
    scored('A', 'none', 'personal', false),
    scored('A', 'none', 'divergent', true),
    scored('A', 'none', 'divergent', true),
    scored('B', 'none', 'personal', false),
    scored('B', 'none', 'personal', false),
    scored('B', 'none', 'divergent', false, { tie: true, margin: 0 }),
    scored('C', 'none', 'personal', true),
    { ok: false, key: 'none|A-long', id: 'A-long', persona: 'A', type: 'personal', prefix: 'none', prefixFrom: 'A', session: 's1', code: 'context-exceeded', reason: 'too long' },
    // persona — A 1/1, B 1/2, C 0/1.
    scored('A', 'persona', 'personal', true),
    scored('B', 'persona', 'personal', true),
    scored('B', 'persona', 'divergent', false),
    scored('C', 'persona', 'personal', false),
    // shuffled persona — A 0/1 (from B), B 2/2 (from A), C 1/1 (kept its own).
    scored('A', 'shuffle-persona', 'personal', false, { prefixFrom: 'B' }),
    scored('B', 'shuffle-persona', 'personal', true, { prefixFrom: 'A' }),
    scored('B', 'shuffle-persona', 'divergent', true, { prefixFrom: 'A' }),
    scored('C', 'shuffle-persona', 'personal', true, { prefixFrom: 'C' }),
  ];
  // A failure later retried successfully: only the last row of a key counts.
  const retried = scored('C', 'persona', 'divergent', true, { session: 's2' });
  const allRows = [...rows, { ...retried, ok: false, code: 'internal', reason: 'flaky', session: 's1' } as Row, retried];
  const summary = summarizePairs(allRows, { seed: 5 });
  const accuracy = (prefix: Row['prefix']) => summary.accuracy.find((entry) => entry.prefix === prefix);

  it('counts rows, failures by code, ties, and rows per session, the last row of a key winning', () => {
    expect(summary.counts).toEqual({
      rows: 18,
      scored: 17,
      failed: 1,
      ties: 1,
      truncatedPrompt: 0,
      truncatedAnswers: 0,
      failedByCode: { 'context-exceeded': 1 },
      writtenBySession: { s1: 18, s2: 1 },
    });
    expect(summary.failures).toEqual([{ key: 'none|A-long', persona: 'A', prefix: 'none', code: 'context-exceeded', reason: 'too long' }]);
    expect(summary.prefixes).toEqual(['none', 'persona', 'shuffle-persona']);
  });

  it('averages per-persona accuracies per question type and in total, with bootstrap CIs over personas', () => {
    const none = accuracy('none');
    expect(none?.byType.personal?.meanOfPersonas.estimate).toBeCloseTo((0.5 + 0 + 1) / 3, 12);
    expect(none?.byType.divergent?.meanOfPersonas.estimate).toBeCloseTo((1 + 0) / 2, 12);
    expect(none?.total.meanOfPersonas.estimate).toBeCloseTo((0.75 + 0 + 1) / 3, 12);
    expect(none?.total.meanOfPersonas).toEqual(bootstrapMeanInterval([0.75, 0, 1], { seed: 5 }));
    expect(none?.total.pooled).toMatchObject({ n: 8, correct: 4, ties: 1 });
    expect(none).toMatchObject({ scored: 8, failed: 1 });
    expect(accuracy('persona')?.total.meanOfPersonas.estimate).toBeCloseTo((1 + 0.5 + 0.5) / 3, 12);
    expect(summary.baselines).toEqual({ random: 0.5, noPrefix: { byType: { personal: 0.5, divergent: 0.5 }, total: (0.75 + 0 + 1) / 3 } });
  });

  it('compares right with shuffled prefixes per persona (Appendix L) and names who kept their own', () => {
    const [entry] = summary.sensitivity;
    expect(entry?.base).toBe('persona');
    expect(entry?.variants.map((variant) => variant.variant)).toEqual(['right', 'shuffled', 'none']);
    // Totals: right A 1, B 0.5, C 0.5; shuffled A 0, B 1, C 1.
    expect(entry?.rightMinusShuffled.total.estimate).toBeCloseTo((1 + -0.5 + -0.5) / 3, 12);
    expect(entry?.rightMinusShuffled.total).toMatchObject({ personas: 3 });
    expect(entry?.rightMinusShuffled.byType.personal?.estimate).toBeCloseTo((1 - 0 + (1 - 1) + (0 - 1)) / 3, 12);
    expect(entry?.keptOwnPrefix).toEqual(['C']);
  });

  it('relates each prefix to the no-prefix baseline per persona (prefix gain on one model): Pearson r, p and mean improvement', () => {
    const persona = summary.prefixGain.find((entry) => entry.prefix === 'persona');
    expect(persona?.points).toEqual([
      { persona: 'A', baseline: 0.75, prefixed: 1, improvement: 0.25 },
      { persona: 'B', baseline: 0, prefixed: 0.5, improvement: 0.5 },
      { persona: 'C', baseline: 1, prefixed: 0.5, improvement: -0.5 },
    ]);
    // Pearson's r by its definition on x = [0.75, 0, 1], y = [1, 0.5, 0.5] (C's retried row counts).
    const x = [0.75, 0, 1];
    const y = [1, 0.5, 0.5];
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const cross = x.reduce((sum, xi, i) => sum + (xi - mean(x)) * ((y[i] as number) - mean(y)), 0);
    const r = cross / Math.sqrt(x.reduce((s, xi) => s + (xi - mean(x)) ** 2, 0) * y.reduce((s, yi) => s + (yi - mean(y)) ** 2, 0));
    expect(persona?.correlation.r).toBeCloseTo(r, 12);
    // One degree of freedom: Student's t is Cauchy, p = 1 − (2/π)·atan(|t|).
    const t = Math.abs(r) * Math.sqrt(1 / (1 - r * r));
    expect(persona?.correlation.p).toBeCloseTo(1 - (2 / Math.PI) * Math.atan(t), 10);
    expect(persona?.meanImprovement.estimate).toBeCloseTo(0.25 / 3, 12);
  });
});

describe('summarizePairs golden Pearson value', () => {
  it('matches scipy.stats.pearsonr on x = [0.75, 0, 1], y = [1, 0.5, 0]', () => {
    const rows: Row[] = [
      ...[true, true, true, false].map((correct) => scored('A', 'none', 'personal', correct)),
      scored('B', 'none', 'personal', false),
      scored('C', 'none', 'personal', true),
      scored('A', 'tag', 'personal', true),
      scored('B', 'tag', 'personal', true),
      scored('B', 'tag', 'personal', false),
      scored('C', 'tag', 'personal', false),
    ];
    const [entry] = summarizePairs(rows, { seed: 1 }).prefixGain;
    // scipy.stats.pearsonr([0.75, 0, 1], [1, 0.5, 0]) → (-0.24019223070763066, 0.8455790416887334)
    expect(entry?.correlation.r).toBeCloseTo(-0.24019223070763066, 12);
    expect(entry?.correlation.p).toBeCloseTo(0.8455790416887334, 10);
  });
});

describe('persona quality (Table 2, Table 11)', () => {
  const personas: Persona[] = [
    { name: 'A', prefixes: { gold: 'the cat sat on the mat', persona: 'the cat ran', xyw_2s: '## Prompt:\nq\n### Preferred Response:\na' } },
    { name: 'B', prefixes: { persona_gold_gpt4: 'a dog ran in the park', persona_xy_4s: 'dog park' } },
    { name: 'C', prefixes: { persona: 'no gold for me' } },
  ];
  const quality = personaQuality(personas, { seed: 3 });

  it('scores ROUGE-1 F against the own gold and a random other persona\u2019s gold, with population SDs', () => {
    expect(quality.randomPartner).toEqual({ A: 'B', B: 'A' });
    const persona = quality.columns.find((column) => column.column === 'persona');
    // A: "the cat ran" vs "the cat sat on the mat": 2 matches, P 2/3, R 2/6, F 4/9; vs B's gold: "the", "ran", F 4/9.
    // B: "dog park" vs its gold: P 1, R 1/3, F 1/2; vs A's gold: no match.
    expect(persona?.personas.map((row) => [row.persona, row.rouge1, row.rouge1Random, row.words])).toEqual([
      ['A', 4 / 9, 4 / 9, 3],
      ['B', 0.5, 0, 2],
    ]);
    expect(persona?.rouge1.mean).toBeCloseTo((4 / 9 + 0.5) / 2, 12);
    expect(persona?.rouge1.sd).toBeCloseTo((0.5 - 4 / 9) / 2, 12);
    expect(persona?.rouge1Random).toEqual({ mean: 2 / 9, sd: 2 / 9, n: 2 });
    const gold = quality.columns.find((column) => column.column === 'gold');
    // Each gold against itself is 1; against the other: only "the" matches, F 1/6.
    expect(gold?.rouge1).toEqual({ mean: 1, sd: 0, n: 2 });
    expect(gold?.rouge1Random.mean).toBeCloseTo(1 / 6, 12);
    expect(quality.columns.map((column) => column.column)).toEqual(['few-shot', 'persona', 'gold']);
    expect(quality.withoutGold).toEqual(['C']);
  });

  it('gives ROUGE-L examples with their texts', () => {
    expect(quality.examples.map((example) => example.persona)).toEqual(['A', 'B']);
    expect(quality.examples[0]?.texts.persona).toEqual({ text: 'the cat ran', rougeL: 4 / 9 });
    expect(personaQuality(personas, { seed: 3, examples: ['b'] }).examples.map((example) => example.persona)).toEqual(['B']);
    expect(() => personaQuality(personas, { seed: 3, examples: ['C'] })).toThrow(/no persona named "C" with a gold text/);
    expect(() => personaQuality(personas.slice(0, 1), { seed: 3 })).toThrow(/needs at least 2/);
  });

  it('counts words by whitespace and computes population statistics', () => {
    expect(wordCount('  two\twords\n')).toBe(2);
    expect(meanSd([1, 3])).toEqual({ mean: 2, sd: 1, n: 2 });
    expect(meanSd([]).mean).toBeNaN();
  });
});

describe('pairwise judging plan and Table 3 summary', () => {
  const questions = [
    { questionId: 'q1', persona: 'Ann', question: 'Q1?' },
    { questionId: 'q2', persona: 'Bob', question: 'Q2?' },
  ];

  it('asks every contestant pair in both orders, never both orders in one call, at most 5 per call', () => {
    const tasks = judgeTasks(questions, ['X', 'Y', 'Z']);
    expect(tasks).toHaveLength(2 * 3 * 2);
    expect(tasks.slice(0, 2).map((task) => [task.a, task.b, task.order])).toEqual([
      ['X', 'Y', 1],
      ['Y', 'X', 2],
    ]);
    const batches = judgeBatches(tasks, 9);
    expect(batches.flat().map((task) => task.key).sort()).toEqual(tasks.map((task) => task.key).sort());
    for (const batch of batches) {
      expect(batch.length).toBeLessThanOrEqual(5);
      const pairsInBatch = batch.map((task) => `${task.questionId}:${[task.a, task.b].sort().join('-')}`);
      expect(new Set(pairsInBatch).size).toBe(batch.length);
    }
    expect(judgeBatches(tasks, 9)).toEqual(batches);
  });

  it('draws distinct test questions per persona, seeded', () => {
    const pairs = [pair('1', 'Ann', 'same?', 'a'), pair('2', 'Ann', 'same?', 'b'), pair('3', 'Ann', 'other?', 'c'), pair('4', 'Bob', 'bob?', 'd', 'divergent')];
    const chosen = selectQuestions(pairs, { perPersona: 5, seed: 1 });
    expect(chosen.map((question) => question.questionId).sort()).toEqual(['1', '3', '4']);
    expect(selectQuestions(pairs, { perPersona: 1, seed: 1, type: 'divergent' })).toEqual([{ questionId: '4', persona: 'Bob', question: 'bob?' }]);
    expect(selectQuestions(pairs, { perPersona: 1, seed: 1 })).toEqual(selectQuestions(pairs, { perPersona: 1, seed: 1 }));
  });

  it('tallies win rates over both orders, the judge\u2019s self-agreement and position bias', () => {
    const base = { persona: 'Ann', questionId: 'q1', judge: 'j', session: 's' };
    const judged = (a: string, b: string, order: 1 | 2, winner: 'a' | 'b'): JudgementRow => ({ ...base, key: `q1|${a}|${b}`, a, b, order, ok: true, winner, explanation: '' });
    const judgements: JudgementRow[] = [
      judged('X', 'Y', 1, 'a'),
      judged('Y', 'X', 2, 'b'), // X again: agrees
      judged('X', 'Z', 1, 'b'),
      judged('Z', 'X', 2, 'b'), // the second slot both times: disagrees
      judged('Y', 'Z', 1, 'a'),
      { ...base, key: 'q1|Z|Y', a: 'Z', b: 'Y', order: 2, ok: false, code: 'judge-unparsed', reason: 'expected 5 JSON verdict(s), found 4', raw: '…' },
    ];
    const generations: GenerationRow[] = ['X', 'Y', 'Z'].map((label) => ({ key: `q1|${label}`, persona: 'Ann', questionId: 'q1', contestant: label, engine: 'e', prefix: 'none', session: 's', ok: true, text: label, finishReason: 'eos', promptTokens: 1, completionTokens: 1, seed: 1 }));
    const summary = summarizeGenerations(generations, judgements, ['X', 'Y', 'Z']);
    const rate = (i: number, j: number) => summary.matrix.cells[i]?.[j]?.winRate;
    expect([rate(0, 1), rate(1, 0), rate(0, 2), rate(2, 0), rate(1, 2), rate(2, 1)]).toEqual([1, 0, 0.5, 0.5, 1, 0]);
    expect(summary.matrix.rowAverage).toEqual([0.75, 0.5, 0.25]);
    expect(summary.agreement).toEqual({ pairs: 2, agreeing: 1, rate: 0.5 });
    expect(summary.firstPositionWinRate).toBeCloseTo(2 / 5, 12);
    expect(summary.judgements).toEqual({ ok: 5, failed: 1, failedByCode: { 'judge-unparsed': 1 } });
    expect(summary.failures).toEqual([{ kind: 'judgement', key: 'q1|Z|Y', code: 'judge-unparsed', reason: 'expected 5 JSON verdict(s), found 4' }]);
  });
});

describe('report model', () => {
  it('lists only the sections with data and writes NaN as null', () => {
    expect(reportSections({ title: 't', run: { promptsVersion: 'v' } })).toEqual([]);
    expect(reportJson({ r: NaN, p: Infinity, ok: 1 })).toBe('{\n  "r": null,\n  "p": null,\n  "ok": 1\n}\n');
  });

  it('keeps the last row per key in first-appearance order', () => {
    expect(latestByKey([{ key: 'a', v: 1 }, { key: 'b', v: 2 }, { key: 'a', v: 3 }])).toEqual([{ key: 'a', v: 3 }, { key: 'b', v: 2 }]);
  });
});
