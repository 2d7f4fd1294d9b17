/**
 * The model work of the Elicitation section, on the engine `ModelController.run` hands out (the
 * worker client): writing a question's two answers, the margin between them under a persona
 * prefix (eq. 3's reward difference, the scorer's `margin`), and the persona's accuracy on the
 * held-out test pairs. Plus the one rule that turns a pick into a train pair.
 *
 * The scorer is imported when first needed: it pulls in the Jinja chat-template engine, which the
 * page loads only once a model is.
 */
import type { Aggregation } from '../../core/aggregate.ts';
import type { CancelSignal } from '../../core/cancel.ts';
import { deriveSeed } from '../../core/dataset/seeds.ts';
import type { Engine } from '../../core/engine.ts';
import { AppError, toSerializedError } from '../../core/errors.ts';
import { applyPrefix } from '../../core/prefixes.ts';
import type { PreferencePair } from '../../core/schema.ts';
import type { Convention } from '../../core/scoringInput.ts';
import type { AnnotatedChoice, AnswerMode, ElicitationQuestion, ShownAnswer } from '../storage/elicitationRecords.ts';
import type { SamplingSettings } from '../storage/records.ts';

export interface ScoringChoice {
  convention: Convention;
  aggregation: Aggregation;
}

/** The user turn with the persona prefix (G.10), or the question alone without a persona. */
export function withPersona(question: string, persona: string | null): string {
  return persona ? applyPrefix({ kind: 'persona', text: persona }, question) : question;
}

/** What each side answers and with which seed, before any generation. */
export function plannedAnswers(question: ElicitationQuestion, mode: Exclude<AnswerMode, 'pair-set'>, sampling: SamplingSettings, persona: string | null): [ShownAnswer, ShownAnswer] {
  if (mode === 'samples') {
    const side = (label: string): ShownAnswer => ({ kind: 'sample', userContent: question.text, prompt: '', text: '', seed: deriveSeed(sampling.seed, 'elicitation', question.id, label) });
    return [side('A'), side('B')];
  }
  if (!persona) throw new AppError('invalid-input', 'Plain vs persona needs a persona: infer or write one under Persona, or let the section infer one from your answers first (or choose "two samples").');
  // One seed for both sides, as the comparison panel does: only the prefix differs.
  const seed = deriveSeed(sampling.seed, 'elicitation', question.id);
  return [
    { kind: 'plain', userContent: question.text, prompt: '', text: '', seed },
    { kind: 'persona', userContent: withPersona(question.text, persona), prompt: '', text: '', seed },
  ];
}

/** Generates both answers in turn, streaming each one's text to `onText(side, text)`. */
export async function generateAnswers(
  engine: Pick<Engine, 'generate'>,
  planned: readonly [ShownAnswer, ShownAnswer],
  sampling: SamplingSettings,
  onText: (side: 0 | 1, text: string) => void,
  signal: CancelSignal,
): Promise<[ShownAnswer, ShownAnswer]> {
  const done: ShownAnswer[] = [];
  for (const [index, answer] of planned.entries()) {
    const side = index as 0 | 1;
    let text = '';
    const { maxNewTokens, temperature, topP, topK } = sampling;
    const result = await engine.generate([{ role: 'user', content: answer.userContent }], { maxNewTokens, temperature, topP, topK, seed: answer.seed }, (delta) => onText(side, (text += delta)), signal);
    if (result.finishReason === 'aborted') throw new AppError('aborted', 'Cancelled.');
    done.push({ ...answer, prompt: result.prompt, text: result.text });
  }
  return done as [ShownAnswer, ShownAnswer];
}

/** logp(A) − logp(B) for the question under the persona prefix (none without a persona). */
export async function answerMargin(engine: Engine, question: ElicitationQuestion, answers: readonly [ShownAnswer, ShownAnswer], persona: string | null, scoring: ScoringChoice, signal: CancelSignal): Promise<number> {
  const { ScoreSettings, scorePair } = await import('../../core/scorer.ts');
  const settings = ScoreSettings.parse(scoring);
  const pair = { id: question.id, userContent: withPersona(question.text, persona), chosen: answers[0].text, rejected: answers[1].text };
  return (await scorePair(engine, pair, settings, signal)).margin;
}

export interface TestAccuracy {
  scored: number;
  correct: number;
  ties: number;
  failed: number;
}

/** Scores the test pairs under the persona prefix; a pair that cannot be scored is counted as failed, not as a loss. */
export async function scoreTestPairs(engine: Engine, pairs: readonly PreferencePair[], persona: string | null, scoring: ScoringChoice, signal: CancelSignal): Promise<TestAccuracy> {
  const { ScoreSettings, scorePair } = await import('../../core/scorer.ts');
  const settings = ScoreSettings.parse(scoring);
  const tally: TestAccuracy = { scored: 0, correct: 0, ties: 0, failed: 0 };
  for (const pair of pairs) {
    try {
      const score = await scorePair(engine, { id: pair.id, userContent: withPersona(pair.prompt, persona), chosen: pair.chosen, rejected: pair.rejected }, settings, signal);
      tally.scored++;
      if (score.correct) tally.correct++;
      if (score.tie) tally.ties++;
    } catch (error) {
      if (signal.aborted || toSerializedError(error).code === 'aborted') throw error;
      tally.failed++;
    }
  }
  return tally;
}

/**
 * The train pair a pick makes (null for a skip): the question, the preferred answer as `chosen`,
 * with provenance `annotated`: where the question came from, both answers' prompts and seeds, the
 * model, and why the question was asked.
 */
export function annotatedPair(choice: AnnotatedChoice): PreferencePair | null {
  if (choice.pick === 'skip') return null;
  const [preferred, other] = choice.pick === 'A' ? choice.answers : [choice.answers[1], choice.answers[0]];
  return {
    id: choice.id,
    persona: choice.person,
    split: 'train',
    prompt: choice.question.text,
    chosen: preferred.text,
    rejected: other.text,
    meta: {
      provenance: 'annotated',
      questionSource: choice.question.source,
      questionId: choice.question.id,
      ...(choice.question.selfDescription !== undefined && { selfDescription: choice.question.selfDescription }),
      mode: choice.mode,
      strategy: choice.strategy,
      reason: choice.reason,
      answers: choice.answers.map(({ kind, prompt, seed }) => ({ kind, prompt, ...(seed !== undefined && { seed }) })),
      pick: choice.pick,
      sampling: choice.sampling,
      model: choice.model,
      annotatedAt: choice.createdAt,
    },
  };
}
