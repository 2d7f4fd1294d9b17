/**
 * What the Elicitation section keeps in IndexedDB (issue 13), as zod schemas like records.ts:
 * every answered or skipped question with everything needed to reproduce it, and every persona
 * re-inferred from the answers with its test accuracy (one point of the curve).
 *
 * A track is one strategy's elicitation of one person of one pair set: its answers, personas and
 * curve points are kept apart from the other strategy's, so the two curves compare like with like.
 */
import { z } from 'zod';
import { ElicitationPick } from '../../core/elicitation/annotations.ts';
import { ElicitationStrategy } from '../../core/elicitation/strategy.ts';
import { PersonaInferenceRecord } from '../../core/personaInference.ts';
import { ModelStamp, SamplingSettings } from './records.ts';

/** Where the question came from. */
export const QuestionSource = z.enum(['pair-set', 'pasted', 'generated']);
export type QuestionSource = z.infer<typeof QuestionSource>;

/**
 * How the two answers are made: two samples at the chosen temperature; the plain and the
 * persona-prefixed answer; or the pair set's own two answers (so the labels compare with the judge's).
 */
export const AnswerMode = z.enum(['samples', 'plain-vs-persona', 'pair-set']);
export type AnswerMode = z.infer<typeof AnswerMode>;

export const ElicitationQuestion = z.object({
  /** The source pair's id (pair set), else a hash of the text. */
  id: z.string().min(1),
  text: z.string().min(1),
  source: QuestionSource,
  /** For generated questions: the self-description G.2 was given. */
  selfDescription: z.string().optional(),
});
export type ElicitationQuestion = z.infer<typeof ElicitationQuestion>;

export const ShownAnswer = z.object({
  /** `sample`: a sample of the plain question; `plain`/`persona`: unprefixed or persona-prefixed; `chosen`/`rejected`: the pair set's. */
  kind: z.enum(['sample', 'plain', 'persona', 'chosen', 'rejected']),
  /** The user turn the model answered (prefix applied); the question for the pair set's answers. */
  userContent: z.string(),
  /** The exact prompt the model saw (chat template applied); empty for the pair set's answers. */
  prompt: z.string(),
  text: z.string(),
  /** The generation seed; absent for the pair set's answers. */
  seed: z.number().int().optional(),
});
export type ShownAnswer = z.infer<typeof ShownAnswer>;

/** One question shown as A and B and the user's pick, saved the moment it is made. */
export const AnnotatedChoice = z.object({
  id: z.string().min(1),
  pairSetId: z.string(),
  person: z.string().min(1),
  strategy: ElicitationStrategy,
  createdAt: z.number(),
  question: ElicitationQuestion,
  /** Why this question was asked (the selection rule's sentence) and its score (|margin| or disagreement). */
  reason: z.string(),
  selectionScore: z.number().optional(),
  mode: AnswerMode,
  answers: z.tuple([ShownAnswer, ShownAnswer]),
  sampling: SamplingSettings,
  model: ModelStamp,
  pick: ElicitationPick,
});
export type AnnotatedChoice = z.infer<typeof AnnotatedChoice>;

/** A persona inferred (G.5) from a track's answers so far and its accuracy on the held-out test pairs. */
export const ElicitationCheckpoint = z.object({
  id: z.string().min(1),
  pairSetId: z.string(),
  person: z.string().min(1),
  strategy: ElicitationStrategy,
  createdAt: z.number(),
  /** Answered (not skipped) questions the persona was inferred from. */
  answered: z.number().int().nonnegative(),
  /** The annotated pairs G.5 could draw its shots from. */
  annotationIds: z.array(z.string()),
  /** Empty, with no inference, for the start: the test pairs scored without a persona. */
  text: z.string(),
  inference: PersonaInferenceRecord.optional(),
  model: ModelStamp,
  /** Test pairs scored with the persona prefix: how many were right (ties are losses). */
  scored: z.number().int().nonnegative(),
  correct: z.number().int().nonnegative(),
  ties: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
});
export type ElicitationCheckpoint = z.infer<typeof ElicitationCheckpoint>;

/** The section's settings, saved with the page's; each falls back to its default on its own. */
export const ElicitationSettings = z.object({
  source: QuestionSource.catch('pair-set'),
  pastedQuestions: z.string().catch(''),
  selfDescription: z.string().catch(''),
  /** Questions the model wrote from the self-description (G.2), kept so a reload asks the same ones. */
  generatedQuestions: z.array(z.string()).catch([]),
  generatedFrom: z.string().catch(''),
  mode: AnswerMode.catch('samples'),
  strategy: ElicitationStrategy.catch('active'),
  /** Infer the persona again after every `every` answers. */
  every: z.number().int().min(1).max(50).catch(2),
  /** How many questions "Active" scores before it picks one. */
  candidates: z.number().int().min(2).max(12).catch(3),
  sampling: SamplingSettings.catch({ maxNewTokens: 64, temperature: 1, topP: 0.9, topK: 0, seed: 1 }),
});
export type ElicitationSettings = z.infer<typeof ElicitationSettings>;
