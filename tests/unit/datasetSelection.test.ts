/**
 * Candidate selection and labelling: the reward window (§2.7), the k-means diversity filter (§2.8),
 * the single-elimination bracket and y_l draw (§2.10–2.11), and the judge's batch prompt, verdict
 * parsing and order randomisation (§2.10). Golden values: the reward windows were computed with the
 * authors' numpy code (`np.convolve` with [1, 0, …, −1], argmin); the diversity choices with numpy
 * from the cluster means (noted per case).
 */
import { describe, expect, it } from 'vitest';
import { beatsKey, bracketLevelCount, bracketWinner, chooseLoser, isPowerOfTwo, levelMatches, pairwiseComparisons, type MatchOutcome } from '../../src/core/dataset/bracket.ts';
import { l2Normalize, mostDistinctive, selectDiverse } from '../../src/core/dataset/diversity.ts';
import { judgeBatchMessages, jsonObjectSpans, orderMatch, parseJudgeReply, unswap, type JudgeMatch, type OrderedMatch } from '../../src/core/dataset/judge.ts';
import { selectRewardWindow } from '../../src/core/dataset/rewardWindow.ts';
import { rngFor } from '../../src/core/dataset/seeds.ts';
import { JUDGE_PREFERENCE_KEY } from '../../src/core/prompts.ts';

describe('selectRewardWindow', () => {
  it('keeps the contiguous sorted window with the smallest range, ascending (numpy golden)', () => {
    expect(selectRewardWindow([0.5, -1.2, 3.3, 0.7, 0.6, 2.0, -0.1, 0.55], 3)).toMatchObject({ indices: [0, 7, 4], start: 2 });
  });

  it('takes the first window on ties', () => {
    expect(selectRewardWindow([1, 2, 3, 10, 11, 12], 3)).toMatchObject({ indices: [0, 1, 2], start: 0, range: 2 });
  });

  it('breaks float near-ties like numpy (ranges computed on rewards shifted by their minimum)', () => {
    // 0.7 − 0.4 is 0.2999…93 but 0.4 − 0.1 is 0.3000…04 in doubles: numpy picks start 3.
    expect(selectRewardWindow([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], 4)).toMatchObject({ indices: [3, 4, 5, 6], start: 3 });
  });

  it('matches numpy on 50 rewards with a window of 20', () => {
    const rewards = [
      0.001, 0.299, -0.274, -0.891, -0.455, -0.992, 0.06, 1.34, -0.492, -0.62, 0.49, 0.357, 0.105, -0.93, -0.029, 0.695, -1.344, -0.458, -1.901, -1.29, -1.842, -0.235,
      -1.267, 0.271, 0.157, -0.187, -2.517, -0.539, -0.049, 0.113, -1.53, -0.478, -0.979, -0.809, 1.061, -0.808, -0.033, 0.884, -0.584, -0.112, 0.11, 0.064, -1.225, 0.076,
      1.359, -1.547, 0.859, 0.119, -0.641, 2.0,
    ];
    const window = selectRewardWindow(rewards, 20);
    expect(window.indices).toEqual([8, 31, 17, 4, 2, 21, 25, 39, 28, 36, 14, 0, 6, 41, 43, 12, 40, 29, 47, 24]);
    expect(window.start).toBe(19);
    expect(window.range).toBeCloseTo(0.157 - -0.492, 12);
  });

  it('keeps every candidate, sorted, when there are no more than the window', () => {
    expect(selectRewardWindow([3, 1, 2], 20)).toMatchObject({ indices: [1, 2, 0], range: 2 });
    expect(selectRewardWindow([], 20).indices).toEqual([]);
  });

  it('sorts equal rewards stably', () => {
    expect(selectRewardWindow([1, 1, 1, 5], 3).indices).toEqual([0, 1, 2]);
  });

  it('refuses bad input', () => {
    expect(() => selectRewardWindow([1, Number.NaN], 1)).toThrow(/finite/);
    expect(() => selectRewardWindow([1], 0)).toThrow(/positive integer/);
  });
});

describe('selectDiverse', () => {
  // Ten points on four angular groups, scaled so normalisation matters.
  const groups = [
    [0, 12, 30],
    [88, 100],
    [180, 185, 200],
    [265, 275],
  ];
  const embeddings = groups.flat().map((degrees, i) => {
    const radians = (degrees * Math.PI) / 180;
    return [Math.cos(radians) * (1 + i * 0.1), Math.sin(radians) * (1 + i * 0.1)];
  });
  const groupOf = (index: number) => groups.findIndex((_, g) => groups.slice(0, g + 1).flat().length > index);

  it('picks, per cluster, the member with the smallest summed dot product with the other centres (numpy golden)', () => {
    // numpy: scores per group [-1.048, -1.056, -0.981] → 1; [-0.904, -0.884] → 3; [-0.879, -0.896, -0.905] → 7; [-1.072, -1.090] → 9.
    const result = selectDiverse(embeddings, { k: 4, nInit: 5, maxIterations: 300, seed: 24 });
    if (!result.ok) throw new Error(result.error);
    expect(new Set(result.labels.map((label, index) => `${label}:${groupOf(index)}`)).size).toBe(4);
    expect([...result.indices].sort((a, b) => a - b)).toEqual([1, 3, 7, 9]);
    result.indices.forEach((index, cluster) => expect(result.labels[index]).toBe(cluster));
    result.randomIndices.forEach((index, cluster) => expect(result.labels[index]).toBe(cluster));
  });

  it('is reproducible for a seed', () => {
    const a = selectDiverse(embeddings, { k: 4, nInit: 3, maxIterations: 300, seed: 7 });
    const b = selectDiverse(embeddings, { k: 4, nInit: 3, maxIterations: 300, seed: 7 });
    expect(a).toEqual(b);
  });

  it('returns the first of identical embeddings, as the authors\u2019 row lookup does', () => {
    const data = [[1, 0], [0, 1], [1, 0], [-1, 0], [0, -1]].map(l2Normalize);
    // Cluster 0 = {0, 2} (identical vectors): the chosen member resolves to index 0.
    expect(mostDistinctive(data, [0, 1, 0, 2, 3], [[1, 0], [0, 1], [-1, 0], [0, -1]])[0]).toBe(0);
  });

  it('fails, as data, with fewer distinct embeddings than k', () => {
    const result = selectDiverse([[1, 0], [1, 0], [2, 0], [0, 1], [0, 3]], { k: 4, nInit: 2, maxIterations: 100, seed: 1 });
    expect(result).toEqual({ ok: false, error: expect.stringMatching(/only 2 distinct candidate embedding/) });
  });

  it('refuses a zero vector', () => {
    expect(() => l2Normalize([0, 0])).toThrow(/zero/);
  });
});

describe('bracket', () => {
  it('plays 0 v 1, 2 v 3, then the winners (k = 4)', () => {
    expect(bracketLevelCount(4)).toBe(2);
    expect(levelMatches(4, 0, [])).toEqual([{ a: 0, b: 1 }, { a: 2, b: 3 }]);
    const round1: MatchOutcome[] = [{ level: 0, a: 0, b: 1, winner: 1 }, { level: 0, a: 2, b: 3, winner: 2 }];
    expect(levelMatches(4, 1, round1)).toEqual([{ a: 1, b: 2 }]);
    const all = [...round1, { level: 1, a: 1, b: 2, winner: 2 }];
    expect(bracketWinner(4, all)).toBe(2);
    expect(pairwiseComparisons(4, all)).toEqual({ 0: [], 1: [0], 2: [3, 1], 3: [] });
    expect(beatsKey(2, 1)).toBe('2_beats_1');
  });

  it('generalises to 8 candidates (7 matches) and refuses non-powers of two', () => {
    expect(levelMatches(8, 0, [])).toHaveLength(4);
    expect(isPowerOfTwo(8)).toBe(true);
    expect(isPowerOfTwo(6)).toBe(false);
    expect(() => bracketLevelCount(3)).toThrow(/power of two/);
    expect(() => levelMatches(4, 1, [])).toThrow(/needs the outcome/);
  });

  it('draws y_l uniformly among the non-winners, reproducibly', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 3000; i++) {
      const loser = chooseLoser(4, 2, rngFor(24, 'yl', i));
      counts[loser] = (counts[loser] ?? 0) + 1;
    }
    expect(counts[2]).toBe(0);
    for (const index of [0, 1, 3]) expect(counts[index]).toBeGreaterThan(850);
    expect(chooseLoser(4, 0, rngFor(24, 'yl', 'row'))).toBe(chooseLoser(4, 0, rngFor(24, 'yl', 'row')));
  });
});

describe('judge', () => {
  const match = (overrides: Partial<JudgeMatch> = {}): JudgeMatch => ({ rowId: 'p-x-000', persona: 'Halle Berry', question: 'Best breakfast?', level: 0, a: 0, b: 1, textA: 'Eggs.', textB: 'Oats.', ...overrides });

  it('shows each match in a seeded order that does not depend on batching, and records it', () => {
    const orders = Array.from({ length: 200 }, (_, i) => orderMatch(match({ rowId: `row-${i}` }), 24).swapped);
    const swapped = orders.filter(Boolean).length;
    expect(swapped).toBeGreaterThan(70);
    expect(swapped).toBeLessThan(130);
    expect(orderMatch(match(), 24)).toEqual(orderMatch(match(), 24));
  });

  it('puts the swapped order into the G.4 slots', () => {
    const shown: OrderedMatch = { ...match(), swapped: true };
    const user = judgeBatchMessages([shown]).at(-1)?.content ?? '';
    expect(user).toContain("Please simulate Halle Berry's preference");
    expect(user.indexOf('Oats.')).toBeLessThan(user.indexOf('Eggs.'));
    expect(user).toContain('Output (a) for example 3:\nOats.');
    expect(() => judgeBatchMessages([])).toThrow(/1 to 5/);
  });

  it('unswaps verdicts to candidate indices', () => {
    expect(unswap({ ...match(), swapped: false }, true)).toEqual({ winner: 0, loser: 1 });
    expect(unswap({ ...match(), swapped: false }, false)).toEqual({ winner: 1, loser: 0 });
    expect(unswap({ ...match(), swapped: true }, true)).toEqual({ winner: 1, loser: 0 });
    expect(unswap({ ...match(), swapped: true }, false)).toEqual({ winner: 0, loser: 1 });
  });

  const verdict = (better: unknown, explanation = 'Because.') => JSON.stringify({ 'Concise explanation': explanation, [JUDGE_PREFERENCE_KEY]: better });

  it('reads one verdict per example, in order, through fences and headings', () => {
    const reply = `### Preferred output in JSON format for example 3:\n\`\`\`json\n${verdict(true, 'Has {braces} in "quotes".')}\n\`\`\`\n\n### Preferred output in JSON format for example 4:\n${verdict(false)}`;
    const parsed = parseJudgeReply(reply, 2);
    expect(parsed).toEqual({
      ok: true,
      verdicts: [
        { ok: true, outputAIsBetter: true, explanation: 'Has {braces} in "quotes".', raw: verdict(true, 'Has {braces} in "quotes".') },
        { ok: true, outputAIsBetter: false, explanation: 'Because.', raw: verdict(false) },
      ],
    });
  });

  it('unwraps an array or an object of verdicts and repairs Python booleans and trailing commas', () => {
    expect(parseJudgeReply(`[${verdict(true)}, ${verdict(false)}]`, 2)).toMatchObject({ ok: true, verdicts: [{ outputAIsBetter: true }, { outputAIsBetter: false }] });
    expect(parseJudgeReply(`{"Example 3": ${verdict(false)}, "Example 4": ${verdict(true)}}`, 2)).toMatchObject({ ok: true, verdicts: [{ outputAIsBetter: false }, { outputAIsBetter: true }] });
    expect(parseJudgeReply(`{"Concise explanation": "x", "${JUDGE_PREFERENCE_KEY}": True,}`, 1)).toMatchObject({ ok: true, verdicts: [{ ok: true, outputAIsBetter: true }] });
    expect(parseJudgeReply(verdict('false'), 1)).toMatchObject({ ok: true, verdicts: [{ ok: true, outputAIsBetter: false }] });
  });

  it('fails the whole reply when the verdict count is wrong, and one example when its verdict is unreadable', () => {
    expect(parseJudgeReply(verdict(true), 2)).toEqual({ ok: false, error: 'expected 2 JSON verdict(s), found 1' });
    expect(parseJudgeReply('Output (a) is better.', 1)).toEqual({ ok: false, error: 'expected 1 JSON verdict(s), found 0' });
    const parsed = parseJudgeReply(`${verdict('maybe')}\n${verdict(false)}\n{"oops": }`, 3);
    expect(parsed.ok && parsed.verdicts.map((v) => v.ok)).toEqual([false, true, false]);
    expect(parsed.ok && parsed.verdicts[0]).toMatchObject({ ok: false, error: `no boolean "${JUDGE_PREFERENCE_KEY}"` });
    expect(parsed.ok && parsed.verdicts[2]).toMatchObject({ ok: false, error: 'not valid JSON', raw: '{"oops": }' });
  });

  it('finds top-level objects only', () => {
    expect(jsonObjectSpans('a {"x": {"y": "}"}} b {"z": 1} {unclosed')).toEqual(['{"x": {"y": "}"}}', '{"z": 1}']);
  });
});
