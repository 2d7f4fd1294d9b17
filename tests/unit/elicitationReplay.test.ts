/**
 * The elicitation replay on a stand-in engine whose margins are known: every answer carries its
 * per-token log-prob in its text (`[c=…]` for the chosen, `[r=…]` for the rejected one), and the
 * persona it "infers" says how many shots it saw, which adds 0.1 per shot to chosen answers. So
 * the margin of any pair under any prefix can be stated here, and the tests check the picks, the
 * seeds, resuming and the summary against computations of their own.
 */
import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/core/chat.ts';
import { replayChain, VerdictMemo, type ChainInput, type ElicitationRow } from '../../src/core/elicitation/replay.ts';
import { summarizeElicitation } from '../../src/core/elicitation/replaySummary.ts';
import type { ElicitationStrategy } from '../../src/core/elicitation/strategy.ts';
import type { Engine, GenerateResult, ScoreRequest, ScoreResult } from '../../src/core/engine.ts';
import { PERSONA_INFERENCE_DEFAULTS } from '../../src/core/personaInference.ts';
import type { PreferencePair } from '../../src/core/schema.ts';
import { bootstrapMeanInterval } from '../../src/core/stats.ts';
import { fakeInfo } from '../support/fakeEngine.ts';

const BONUS_PER_SHOT = 0.1;
const decode = (ids: readonly number[]) => String.fromCodePoint(...ids.filter((id) => id > 2));

class KnownMarginEngine implements Engine {
  readonly info = fakeInfo('known-margins');
  generations = 0;
  failAt = new Set<number>();

  async generate(messages: readonly ChatMessage[]): Promise<GenerateResult> {
    this.generations++;
    const user = messages.at(-1)?.content ?? '';
    const shots = user.split('[c=').length - 1;
    const text = this.failAt.has(this.generations) ? '' : `Persona knows ${shots} answers.`;
    return { text, tokenIds: [], promptTokenCount: 0, finishReason: 'eos', prompt: user };
  }

  async score(request: ScoreRequest): Promise<ScoreResult> {
    const known = /Persona knows (\d+)/.exec(decode(request.promptIds));
    const bonus = known ? Number(known[1]) * BONUS_PER_SHOT : 0;
    return {
      logprobs: request.continuations.map((ids) => {
        const text = decode(ids);
        const chosen = /\[c=(-?[\d.]+)\]/.exec(text);
        const value = chosen ? Number(chosen[1]) + bonus : Number(/\[r=(-?[\d.]+)\]/.exec(text)?.[1]);
        return ids.map(() => value);
      }),
      method: 'known-margins',
    };
  }

  async tokenize(text: string): Promise<number[]> {
    return Array.from(text, (char) => char.codePointAt(0) ?? 0);
  }

  async dispose(): Promise<void> {}
}

/** A pair whose margin without a prefix is `margin` (chosen −1 + margin, rejected −1). */
function pair(id: string, margin: number, split: 'train' | 'test'): PreferencePair {
  return { id, persona: 'P', split, prompt: `Question ${id}?`, chosen: `Yes [c=${(-1 + margin).toFixed(2)}]`, rejected: `No [r=-1.00]` };
}

const POOL = [pair('t1', 0.9, 'train'), pair('t2', -0.05, 'train'), pair('t3', 0.5, 'train'), pair('t4', -0.3, 'train'), pair('t5', 0.02, 'train'), pair('t6', -0.9, 'train')];
const TEST = [pair('x1', -0.15, 'test'), pair('x2', -0.25, 'test'), pair('x3', 0.3, 'test'), pair('x4', -0.05, 'test')];
/** The no-prefix margin of every pair, for the expected picks. */
const MARGIN = new Map([...POOL, ...TEST].map((p) => [p.id, Number(/c=(-?[\d.]+)/.exec(p.chosen)?.[1]) + 1]));

async function replay(strategy: ElicitationStrategy, options: Partial<ChainInput> & { engine?: KnownMarginEngine } = {}): Promise<ElicitationRow[]> {
  const rows: ElicitationRow[] = [];
  await replayChain({
    engine: new KnownMarginEngine(),
    strategy,
    repeat: 0,
    persona: 'P',
    pool: POOL,
    test: TEST,
    budget: 4,
    seed: 11,
    inference: { variant: 'paper', maxNewTokens: 32, temperature: 1, topP: 1, topK: PERSONA_INFERENCE_DEFAULTS.topK },
    scoring: { convention: 'authors', aggregation: 'mean' },
    memo: new VerdictMemo(),
    done: [],
    session: 's',
    onRow: async (row) => {
      rows.push(row);
    },
    ...options,
  });
  return rows;
}

describe('replayChain', () => {
  it('active asks the remaining pair with the smallest |margin| under the current persona, and says so', async () => {
    const rows = await replay('active');
    expect(rows.map((row) => row.step)).toEqual([0, 1, 2, 3, 4]);
    // Expected by hand: after k answers every chosen answer gains 0.1·k.
    const asked: string[] = [];
    for (let step = 1; step <= 4; step++) {
      const remaining = POOL.filter((p) => !asked.includes(p.id));
      const margins = remaining.map((p) => ({ id: p.id, margin: (MARGIN.get(p.id) as number) + BONUS_PER_SHOT * (step - 1) }));
      const expected = margins.reduce((best, next) => (Math.abs(next.margin) < Math.abs(best.margin) ? next : best));
      const row = rows[step] as ElicitationRow;
      expect(row.asked?.pairId).toBe(expected.id);
      expect(row.asked?.basis).toBe('uncertainty');
      expect(row.asked?.score).toBeCloseTo(Math.abs(expected.margin), 6);
      expect(row.asked?.reason).toMatch(/can't tell which answer you'd prefer/);
      expect(row.poolMargins?.[expected.id]).toBeUndefined();
      asked.push(expected.id);
    }
    expect(rows.at(-1)?.shotIds).toEqual(asked);
    expect(rows.at(-1)?.personaText).toBe('Persona knows 4 answers.');
  });

  it('scores the test pairs under each step\u2019s persona: accuracy follows the known margins', async () => {
    const rows = await replay('random');
    for (const row of rows) {
      const bonus = BONUS_PER_SHOT * row.step;
      const correct = TEST.filter((p) => (MARGIN.get(p.id) as number) + bonus > 1e-9).length;
      expect(row.test).toEqual({ scored: 4, correct, ties: TEST.filter((p) => Math.abs((MARGIN.get(p.id) as number) + bonus) < 1e-9).length, failed: 0 });
    }
    // Random keeps no pool margins: it needs none.
    expect(rows.every((row) => row.poolMargins === undefined)).toBe(true);
  });

  it('random is seeded: the same seed asks the same questions, another seed (almost surely) others', async () => {
    const first = await replay('random');
    const again = await replay('random');
    expect(again).toEqual(first);
    const orders = await Promise.all([12, 13, 14].map(async (seed) => (await replay('random', { seed })).map((row) => row.asked?.pairId).join()));
    expect(orders.some((order) => order !== first.map((row) => row.asked?.pairId).join())).toBe(true);
    expect(first.slice(1).every((row) => row.asked?.basis === 'random')).toBe(true);
  });

  it('resumes from its last row to the same rows an uninterrupted chain writes', async () => {
    for (const strategy of ['active', 'random'] as const) {
      const whole = await replay(strategy);
      const resumed = await replay(strategy, { done: whole.slice(0, 2) });
      expect(resumed).toEqual(whole.slice(2));
    }
  });

  it('a persona that comes back empty is a failed step; the next step infers again from more shots', async () => {
    const engine = new KnownMarginEngine();
    engine.failAt.add(2);
    const rows = await replay('active', { engine });
    const failed = rows[2] as ElicitationRow;
    expect(failed.failure?.reason).toMatch(/empty persona/);
    expect(failed.personaText).toBe('Persona knows 1 answers.');
    expect(failed.test.scored).toBe(0);
    expect(rows[3]?.failure).toBeUndefined();
    expect(rows[3]?.personaText).toBe('Persona knows 3 answers.');
  });

  it('stops at the pool\u2019s size when the budget is larger', async () => {
    const rows = await replay('active', { budget: 10 });
    expect(rows.at(-1)?.step).toBe(POOL.length);
  });
});

describe('summarizeElicitation', () => {
  it('agrees with the rows: mean over repeats of mean persona accuracy, paired active − random', async () => {
    const rows: ElicitationRow[] = [];
    for (const repeat of [0, 1, 2]) {
      for (const strategy of ['active', 'random'] as const) rows.push(...(await replay(strategy, { repeat })));
    }
    const options = { seed: 3, resamples: 300 };
    const summary = summarizeElicitation(rows, { strategies: ['active', 'random'], repeats: 3, budget: 3 }, options);
    expect(summary.counts).toEqual({ steps: 3 * 2 * 4, personas: 1, failedSteps: 0, failedTestPairs: 0 });
    for (const curve of summary.curves) {
      expect(curve.points.map((point) => point.shots)).toEqual([0, 1, 2, 3]);
      for (const point of curve.points) {
        const ofPoint = rows.filter((row) => row.strategy === curve.strategy && row.step === point.shots);
        const perRepeat = [0, 1, 2].map((repeat) => ofPoint.filter((row) => row.repeat === repeat).map((row) => row.test.correct / row.test.scored)[0] as number);
        expect(point.meanOfRepeats).toEqual(bootstrapMeanInterval(perRepeat, options));
        expect(point.pooled.correct).toBe(ofPoint.reduce((total, row) => total + row.test.correct, 0));
      }
    }
    const at0 = summary.activeMinusRandom.find((entry) => entry.shots === 0);
    expect(at0?.estimate).toBe(0);
    expect(summary.activeBasis).toEqual({ uncertainty: 9 });
    // Nothing random in this stand-in's scoring: a rerun summarises to the same numbers.
    const rerun: ElicitationRow[] = [];
    for (const repeat of [0, 1, 2]) for (const strategy of ['active', 'random'] as const) rerun.push(...(await replay(strategy, { repeat })));
    expect(summarizeElicitation(rerun, { strategies: ['active', 'random'], repeats: 3, budget: 3 }, options)).toEqual(summary);
  });
});
