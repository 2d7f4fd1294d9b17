import { describe, expect, it } from 'vitest';
import { elicitationLabel, exportElicitationLabels } from '../../src/core/elicitation/annotations.ts';
import { summarizeElicitationCurve, type ElicitationStepOutcome } from '../../src/core/elicitation/curve.ts';
import { chooseNextQuestion, type ElicitationCandidate } from '../../src/core/elicitation/strategy.ts';
import { importLabels } from '../../src/core/eval/labels.ts';
import { createRng } from '../../src/core/random.ts';
import { bootstrapMeanInterval, wilsonInterval } from '../../src/core/stats.ts';

const candidates: ElicitationCandidate[] = [
  { id: 'q3', prompt: 'Third?', margin: -0.4 },
  { id: 'q1', prompt: 'First?', margin: 1.2 },
  { id: 'q2', prompt: 'Second?', margin: 0.02 },
  { id: 'q4', prompt: 'Fourth?', margin: -3 },
];

describe('chooseNextQuestion', () => {
  it('active picks the smallest |margin| and says why, leaving the generator untouched', () => {
    const rng = createRng(1);
    const choice = chooseNextQuestion(candidates, 'active', rng);
    expect(choice).toEqual({
      id: 'q2',
      strategy: 'active',
      basis: 'uncertainty',
      score: 0.02,
      reason: "The model can't tell which answer you'd prefer: margin 0.02.",
    });
    // The generator was not consumed: its next draw equals a fresh one's first.
    expect(rng.int(0, 1000)).toBe(createRng(1).int(0, 1000));
  });

  it('active breaks ties by id order, whatever the candidates\u2019 order', () => {
    const tied: ElicitationCandidate[] = [
      { id: 'b', prompt: '', margin: -0.5 },
      { id: 'a', prompt: '', margin: 0.5 },
      { id: 'c', prompt: '', margin: 0.7 },
    ];
    expect(chooseNextQuestion(tied, 'active', createRng(0)).id).toBe('a');
    expect(chooseNextQuestion([...tied].reverse(), 'active', createRng(0)).id).toBe('a');
  });

  it('active prefers the widest disagreement between persona versions when two or more were measured', () => {
    const versioned: ElicitationCandidate[] = [
      { id: 'q1', prompt: '', margin: 0.01, versionMargins: [0.2, 0.01] },
      { id: 'q2', prompt: '', margin: 0.9, versionMargins: [-0.6, 0.9] },
      { id: 'q3', prompt: '', margin: 0.3 },
    ];
    const choice = chooseNextQuestion(versioned, 'active', createRng(0));
    expect(choice.id).toBe('q2');
    expect(choice.basis).toBe('disagreement');
    expect(choice.score).toBeCloseTo(1.5, 12);
    expect(choice.reason).toContain('-0.60 to 0.90 across 2 versions');
    // One version only is no disagreement: back to the smallest |margin|.
    const single = versioned.map((candidate) => ({ ...candidate, versionMargins: candidate.versionMargins?.slice(0, 1) }));
    expect(chooseNextQuestion(single, 'active', createRng(0)).id).toBe('q1');
  });

  it('active skips candidates without a margin and falls back to a seeded random draw when none has one', () => {
    expect(chooseNextQuestion([{ id: 'a', prompt: '' }, { id: 'b', prompt: '', margin: 5 }], 'active', createRng(0)).id).toBe('b');
    const unknown = candidates.map(({ id, prompt }) => ({ id, prompt }));
    const first = chooseNextQuestion(unknown, 'active', createRng(7));
    expect(first.basis).toBe('random-fallback');
    expect(first.reason).toMatch(/No margins yet/);
    expect(chooseNextQuestion(unknown, 'active', createRng(7))).toEqual(first);
  });

  it('random is seeded: the same seed gives the same sequence, it ignores the candidates\u2019 order, and every candidate can come up', () => {
    const draw = (seed: number, pool: readonly ElicitationCandidate[]) => {
      const rng = createRng(seed);
      return Array.from({ length: 40 }, () => chooseNextQuestion(pool, 'random', rng).id);
    };
    expect(draw(3, candidates)).toEqual(draw(3, candidates));
    expect(draw(3, [...candidates].reverse())).toEqual(draw(3, candidates));
    expect(draw(3, candidates)).not.toEqual(draw(4, candidates));
    expect(new Set(draw(3, candidates))).toEqual(new Set(['q1', 'q2', 'q3', 'q4']));
    const choice = chooseNextQuestion(candidates, 'random', createRng(3));
    expect(choice.basis).toBe('random');
    expect(choice.score).toBeUndefined();
  });

  it('refuses an empty pool and invalid candidates', () => {
    expect(() => chooseNextQuestion([], 'active', createRng(0))).toThrow(/no question left/);
    expect(() => chooseNextQuestion([{ id: '', prompt: '' }], 'random', createRng(0))).toThrow();
    expect(() => chooseNextQuestion([{ id: 'a', prompt: '', margin: Number.NaN }], 'active', createRng(0))).toThrow();
  });
});

describe('summarizeElicitationCurve', () => {
  const outcome = (strategy: 'active' | 'random', repeat: number, persona: string, shots: number, correct: number, scored = 4, ties = 0): ElicitationStepOutcome => ({
    strategy,
    repeat,
    persona,
    shots,
    correct,
    scored,
    ties,
  });
  const outcomes = [
    outcome('random', 0, 'p1', 0, 2),
    outcome('random', 0, 'p2', 0, 1),
    outcome('random', 1, 'p1', 0, 3),
    outcome('random', 1, 'p2', 0, 2, 4, 1),
    outcome('active', 0, 'p1', 1, 4),
    outcome('active', 0, 'p2', 1, 3),
    outcome('active', 1, 'p1', 1, 1),
    outcome('active', 1, 'p2', 1, 2),
    outcome('active', 1, 'p2', 0, 0, 0),
  ];

  it('per strategy and shots: the mean over repeats of each repeat\u2019s mean persona accuracy, with a bootstrap CI over repeats and a pooled Wilson CI', () => {
    const curves = summarizeElicitationCurve(outcomes, { seed: 5, resamples: 200 });
    expect(curves.map((curve) => curve.strategy)).toEqual(['active', 'random']);
    const random = curves[1]?.points ?? [];
    expect(random.map((point) => point.shots)).toEqual([0]);
    // Repeat 0: (2/4 + 1/4) / 2 = 0.375; repeat 1: (3/4 + 2/4) / 2 = 0.625.
    expect(random[0]?.meanOfRepeats).toEqual(bootstrapMeanInterval([0.375, 0.625], { seed: 5, resamples: 200 }));
    expect(random[0]?.meanOfRepeats.estimate).toBeCloseTo(0.5, 12);
    expect(random[0]?.pooled).toEqual({ n: 16, correct: 8, ties: 1, accuracy: wilsonInterval(8, 16) });
    expect(random[0]).toMatchObject({ repeats: 2, personas: 2 });
    // The outcome with nothing scored does not make a point.
    const active = curves[0]?.points ?? [];
    expect(active.map((point) => point.shots)).toEqual([1]);
    expect(active[0]?.meanOfRepeats.estimate).toBeCloseTo((7 / 8 + 3 / 8) / 2, 12);
  });

  it('refuses impossible counts', () => {
    expect(() => summarizeElicitationCurve([outcome('active', 0, 'p', 1, 3, 4, 2)], { seed: 0 })).toThrow(/more correct and tied/);
  });
});

describe('elicitation answers as agreement labels', () => {
  it('names the preferred answer by its dataset role, null for a skip, and round-trips through importLabels', () => {
    const answers = [
      { pairId: 'p1', annotator: 'me', shown: ['rejected', 'chosen'] as const, pick: 'B' as const },
      { pairId: 'p2', annotator: 'me', shown: ['rejected', 'chosen'] as const, pick: 'A' as const },
      { pairId: 'p3', annotator: 'me', shown: ['chosen', 'rejected'] as const, pick: 'skip' as const },
    ];
    expect(answers.map((answer) => elicitationLabel({ ...answer, shown: [...answer.shown] }).preferred)).toEqual(['chosen', 'rejected', null]);
    const read = importLabels(exportElicitationLabels(answers.map((answer) => ({ ...answer, shown: [...answer.shown] }))));
    expect(read.issues).toEqual([]);
    expect(read.labels).toEqual([
      { pairId: 'p1', annotator: 'me', preferred: 'chosen' },
      { pairId: 'p2', annotator: 'me', preferred: 'rejected' },
      { pairId: 'p3', annotator: 'me', preferred: null },
    ]);
    expect(() => elicitationLabel({ pairId: 'p', annotator: 'me', shown: ['chosen', 'chosen'], pick: 'A' })).toThrow(/chosen and rejected/);
  });
});
