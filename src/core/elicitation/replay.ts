/**
 * Replayed elicitation (issue 13's simulation): a dataset's recorded preferences stand in for the
 * user's answers. For one persona, one strategy and one repeat (a "chain"):
 *   step 0: no persona, no prefix; the test pairs are scored plain;
 *   step k: a question is chosen from the persona's train pairs not asked yet (chooseNextQuestion:
 *   active uses the margins of the remaining pairs under step k−1's prefix), its recorded answer
 *   joins the shots, the persona is inferred again from all shots so far with the core's one
 *   persona inference (G.5), and the test pairs are scored with that persona as prefix.
 * One row per step, with everything the next step needs (shots, persona text, pool margins), so a
 * chain resumes from its last row and the summary is recomputed from the rows alone.
 *
 * Seeds (all derived from the run seed, so any step is reproducible on its own): a repeat's seed
 * `deriveSeed(seed, "elicitation-repeat", r)`; a random pick's generator from the repeat seed, the
 * persona and the step; persona inference from the repeat seed with purpose
 * `elicitation-step<k>`, the same for both strategies, so two strategies that asked the same
 * questions infer the same persona and differ only by what they asked.
 *
 * Failures handled: a persona inference that fails or returns nothing is a step row with a
 * `failure` (the previous persona stays in force for the next pick); a test pair that cannot be
 * scored is counted in `test.failed`; cancellation stops the chain after its last full step.
 */
import { z } from 'zod';
import type { CancelSignal } from '../cancel.ts';
import { deriveSeed, rngFor } from '../dataset/seeds.ts';
import type { Engine } from '../engine.ts';
import { AppError, isAbortError, toSerializedError } from '../errors.ts';
import { finiteOrNull } from '../eval/rows.ts';
import { hash64Hex, lengthPrefixed } from '../hash.ts';
import { inferPersona, PersonaInferenceRecord, planPersonaInference, type PersonaInferenceSettings } from '../personaInference.ts';
import { applyPrefix } from '../prefixes.ts';
import type { PreferencePair } from '../schema.ts';
import { scorePair, type ScoreSettings } from '../scorer.ts';
import { chooseNextQuestion, ElicitationBasis, ElicitationStrategy } from './strategy.ts';

export const ElicitationRow = z.object({
  key: z.string().min(1),
  strategy: ElicitationStrategy,
  repeat: z.number().int().nonnegative(),
  persona: z.string().min(1),
  /** Questions answered so far. */
  step: z.number().int().nonnegative(),
  /** The question asked at this step (absent at step 0). */
  asked: z.object({ pairId: z.string(), basis: ElicitationBasis, reason: z.string(), score: z.number().optional() }).optional(),
  /** Every answered pair id, in the order asked. */
  shotIds: z.array(z.string()),
  /** The persona text in force after this step (null: none yet). */
  personaText: z.string().nullable(),
  /** How this step's persona was inferred (absent at step 0 and when inference failed). */
  inference: PersonaInferenceRecord.optional(),
  failure: z.object({ code: z.string(), reason: z.string() }).optional(),
  /** Test pairs under this step's prefix; ties count as wrong. */
  test: z.object({ scored: z.number().int().nonnegative(), correct: z.number().int().nonnegative(), ties: z.number().int().nonnegative(), failed: z.number().int().nonnegative() }),
  /** Active only: the margin of every pair not asked yet under this step's prefix (null: not scorable). */
  poolMargins: z.record(z.string(), z.number().nullable()).optional(),
  session: z.string(),
});
export type ElicitationRow = z.infer<typeof ElicitationRow>;

export function elicitationRowKey(strategy: ElicitationStrategy, repeat: number, persona: string, step: number): string {
  return `${strategy}/${repeat}/${persona}/${step}`;
}

export function repeatSeed(seed: number, repeat: number): number {
  return deriveSeed(seed, 'elicitation-repeat', repeat);
}

/** What one scored pair contributes; memoised per prompt and answers, since chains share many. */
type PairVerdict = { ok: true; correct: boolean; tie: boolean; margin: number | null } | { ok: false };

/** Scores of (user turn, chosen, rejected), shared by the chains of one run. */
export class VerdictMemo {
  readonly #verdicts = new Map<string, PairVerdict>();

  async verdict(engine: Engine, pair: PreferencePair, userContent: string, settings: ScoreSettings, signal?: CancelSignal): Promise<PairVerdict> {
    const key = hash64Hex(lengthPrefixed([userContent, pair.chosen, pair.rejected]));
    const known = this.#verdicts.get(key);
    if (known) return known;
    let verdict: PairVerdict;
    try {
      const result = await scorePair(engine, { id: pair.id, userContent, chosen: pair.chosen, rejected: pair.rejected }, settings, signal);
      verdict = { ok: true, correct: result.correct, tie: result.tie, margin: finiteOrNull(result.margin) };
    } catch (error) {
      if (isAbortError(error)) throw error;
      verdict = { ok: false };
    }
    this.#verdicts.set(key, verdict);
    return verdict;
  }

  /** Forget everything (between personas, whose prompts never repeat). */
  clear(): void {
    this.#verdicts.clear();
  }
}

export interface ChainInput {
  engine: Engine;
  strategy: ElicitationStrategy;
  repeat: number;
  persona: string;
  /** The persona's train pairs: the questions that can be asked, with their recorded answers. */
  pool: readonly PreferencePair[];
  test: readonly PreferencePair[];
  /** Questions to ask (at most the pool's size are). */
  budget: number;
  seed: number;
  /** Decoding and prompt layout; every answered pair is shown as a shot. */
  inference: Omit<PersonaInferenceSettings, 'shots'>;
  scoring: ScoreSettings;
  memo: VerdictMemo;
  /** Rows this chain already has (a resumed run), in any order. */
  done: readonly ElicitationRow[];
  session: string;
  onRow: (row: ElicitationRow) => Promise<void>;
  signal?: CancelSignal;
}

async function scoreTests(input: ChainInput, personaText: string | null): Promise<ElicitationRow['test']> {
  const test = { scored: 0, correct: 0, ties: 0, failed: 0 };
  for (const pair of input.test) {
    const userContent = personaText === null ? pair.prompt : applyPrefix({ kind: 'persona', text: personaText }, pair.prompt);
    const verdict = await input.memo.verdict(input.engine, pair, userContent, input.scoring, input.signal);
    if (!verdict.ok) {
      test.failed++;
      continue;
    }
    test.scored++;
    if (verdict.correct) test.correct++;
    if (verdict.tie) test.ties++;
  }
  return test;
}

async function poolMargins(input: ChainInput, personaText: string | null, remaining: readonly PreferencePair[]): Promise<Record<string, number | null>> {
  const margins: Record<string, number | null> = {};
  for (const pair of remaining) {
    const userContent = personaText === null ? pair.prompt : applyPrefix({ kind: 'persona', text: personaText }, pair.prompt);
    const verdict = await input.memo.verdict(input.engine, pair, userContent, input.scoring, input.signal);
    margins[pair.id] = verdict.ok ? verdict.margin : null;
  }
  return margins;
}

/** The chain's last written step, checked to be contiguous from 0 (rows of another run would not be). */
function lastDone(input: ChainInput): ElicitationRow | undefined {
  const rows = [...input.done].sort((a, b) => a.step - b.step);
  rows.forEach((row, index) => {
    if (row.step !== index) throw new AppError('invalid-input', `Elicitation rows of ${row.key} skip a step (found step ${row.step} after ${index - 1}): delete the run's elicitation.jsonl and start again.`);
  });
  return rows.at(-1);
}

/** Runs (or resumes) one chain, writing one row per step through `onRow`. */
export async function replayChain(input: ChainInput): Promise<void> {
  const { strategy, repeat, persona, pool, engine } = input;
  const steps = Math.min(input.budget, pool.length);
  const seedOfRepeat = repeatSeed(input.seed, repeat);
  const byId = new Map(pool.map((pair) => [pair.id, pair]));
  const last = lastDone(input);
  let shots = (last?.shotIds ?? []).map((id) => {
    const pair = byId.get(id);
    if (!pair) throw new AppError('invalid-input', `Elicitation row ${last?.key} names train pair "${id}", which ${persona} no longer has: the dataset changed; use a new --out folder.`);
    return pair;
  });
  let personaText = last?.personaText ?? null;
  let margins = last?.poolMargins;
  const wantMargins = (step: number) => strategy === 'active' && step < steps;
  const row = (step: number, fields: Pick<ElicitationRow, 'test'> & Partial<Pick<ElicitationRow, 'asked' | 'inference' | 'failure' | 'poolMargins'>>): ElicitationRow => ({
    key: elicitationRowKey(strategy, repeat, persona, step),
    strategy,
    repeat,
    persona,
    step,
    shotIds: shots.map((pair) => pair.id),
    personaText,
    ...fields,
    session: input.session,
  });

  for (let step = last ? last.step + 1 : 0; step <= steps; step++) {
    if (step === 0) {
      const test = await scoreTests(input, null);
      margins = wantMargins(0) ? await poolMargins(input, null, pool) : undefined;
      await input.onRow(row(0, { test, ...(margins ? { poolMargins: margins } : {})}));
      continue;
    }
    const asked = new Set(shots.map((pair) => pair.id));
    const remaining = pool.filter((pair) => !asked.has(pair.id));
    const candidates = remaining.map((pair) => {
      const margin = margins?.[pair.id];
      return { id: pair.id, prompt: pair.prompt, ...(margin === undefined || margin === null ? {} : { margin }) };
    });
    const choice = chooseNextQuestion(candidates, strategy, rngFor(seedOfRepeat, 'elicitation-pick', persona, step));
    shots = [...shots, byId.get(choice.id) as PreferencePair];
    const askedField = { pairId: choice.id, basis: choice.basis, reason: choice.reason, ...(choice.score === undefined ? {} : { score: choice.score }) };
    const plan = planPersonaInference({
      person: persona,
      train: shots,
      seed: seedOfRepeat,
      settings: { ...input.inference, shots: shots.length },
      purpose: `elicitation-step${step}`,
    });
    let failure: ElicitationRow['failure'];
    try {
      const inferred = await inferPersona(engine, plan, undefined, input.signal);
      if (inferred.text === '') failure = { code: 'internal', reason: 'the model returned an empty persona text.' };
      else personaText = inferred.text;
    } catch (error) {
      if (isAbortError(error)) throw error;
      const { code, message } = toSerializedError(error);
      failure = { code, reason: message };
    }
    if (failure) {
      // The previous persona stays in force: its margins, minus the question just asked, guide the next pick.
      const carried = margins ? Object.fromEntries(Object.entries(margins).filter(([id]) => id !== choice.id)) : undefined;
      margins = carried;
      await input.onRow(row(step, { asked: askedField, failure, test: { scored: 0, correct: 0, ties: 0, failed: 0 }, ...(carried ? { poolMargins: carried } : {})}));
      continue;
    }
    const test = await scoreTests(input, personaText);
    margins = wantMargins(step) ? await poolMargins(input, personaText, remaining.filter((pair) => pair.id !== choice.id)) : undefined;
    await input.onRow(row(step, { asked: askedField, inference: plan.record, test, ...(margins ? { poolMargins: margins } : {})}));
  }
}
