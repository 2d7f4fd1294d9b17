/**
 * What each pipeline stage records, one JSON line per finished item, as zod schemas: the runner
 * reads these files back when it resumes, so they are parsed like any other input. A record is
 * either a result or a failure kept as data (`ok: false`, with the error). A `retryable` failure (a
 * provider call that kept failing: network, rate limit, server error) is attempted again by the next
 * run; any other failure (the model's output unusable after every attempt) is final.
 */
import { z } from 'zod';

export const Failure = z.object({
  ok: z.literal(false),
  key: z.string(),
  error: z.string(),
  retryable: z.boolean(),
  /** Raw model output that could not be used, when there was one. */
  raw: z.string().optional(),
});
export type Failure = z.infer<typeof Failure>;

export const Membership = z.object({ axis: z.string(), category: z.string() });

export const PersonaRecord = z.object({
  name: z.string().min(1),
  memberships: z.array(Membership).min(1),
  descriptions: z.array(z.string()),
  cv: z.number().int().nonnegative(),
});
export type PersonaRecord = z.infer<typeof PersonaRecord>;

/** stages/personas.json: the people of this build and where they came from. */
export const PersonasFile = z.object({
  source: z.enum(['roster', 'list', 'generate']),
  personas: z.array(PersonaRecord).min(1),
  /** G.1 replies that yielded no person (generate only), kept for diagnosis. */
  unusableReplies: z.array(z.object({ axis: z.string(), raw: z.string() })).default([]),
});
export type PersonasFile = z.infer<typeof PersonasFile>;

/** One G.1 call's result (generate only), keyed by axis. */
export const PersonaSelectionRecord = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), key: z.string(), axis: z.string(), reply: z.string() }),
  Failure,
]);
export type PersonaSelectionRecord = z.infer<typeof PersonaSelectionRecord>;

/** The questions of one persona (personal) or one axis (divergent), keyed "personal:{name}" / "divergent:{axis}". */
export const QuestionSetRecord = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    key: z.string(),
    questions: z.array(z.string()),
    calls: z.number().int().nonnegative(),
    /** Lines dropped as non-questions plus duplicates, summed over calls. */
    dropped: z.number().int().nonnegative(),
  }),
  Failure,
]);
export type QuestionSetRecord = z.infer<typeof QuestionSetRecord>;

export const Question = z.object({
  id: z.string(),
  type: z.enum(['personal', 'divergent']),
  /** Personal questions: who asks. */
  persona: z.string().optional(),
  /** Divergent questions: the axis they were written for. */
  axis: z.string().optional(),
  prompt: z.string().min(1),
});
export type Question = z.infer<typeof Question>;

export const Candidate = z.object({
  text: z.string(),
  cot: z.number().int().nonnegative(),
  phase: z.union([z.literal(1), z.literal(2)]),
  category: z.string().optional(),
});

/** One question's CoTs and candidate responses, keyed by question id. */
export const ResponsesRecord = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    key: z.string(),
    cots: z.array(z.string()),
    candidates: z.array(Candidate),
    /** Phase-1 samples drawn (personal questions), unusable CoTs included. */
    cotSamples: z.number().int().nonnegative(),
  }),
  Failure,
]);
export type ResponsesRecord = z.infer<typeof ResponsesRecord>;

/** One question's reward window and diversity selection (indices into its candidates), keyed by question id. */
export const FilterRecord = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    key: z.string(),
    /** Candidates scored (non-blank ones), with their rewards. */
    scored: z.array(z.number().int().nonnegative()),
    rewards: z.array(z.number()),
    window: z.array(z.number().int().nonnegative()),
    rewardRange: z.number(),
    diverse: z.array(z.number().int().nonnegative()),
    random: z.array(z.number().int().nonnegative()),
  }),
  Failure,
]);
export type FilterRecord = z.infer<typeof FilterRecord>;

/** What names a match, decided or failed (spread, so `ok` stays the first field). */
const matchFields = {
  matchId: z.string(),
  rowId: z.string(),
  level: z.number().int().nonnegative(),
  a: z.number().int().nonnegative(),
  b: z.number().int().nonnegative(),
  swapped: z.boolean(),
};

export const MatchResult = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    ...matchFields,
    winner: z.number().int().nonnegative(),
    explanation: z.string(),
    /** The verdict's JSON text: the per-pair rationale. */
    raw: z.string(),
    attempt: z.number().int().positive(),
  }),
  z.object({
    ok: z.literal(false),
    ...matchFields,
    error: z.string(),
    retryable: z.boolean(),
    /** The judge's whole reply to the last attempt, when there was one. */
    raw: z.string().optional(),
  }),
]);
export type MatchResult = z.infer<typeof MatchResult>;

/** One judge batch (up to 5 matches, all of one bracket level) with every attempt's outcome, keyed by batch id. */
export const JudgeBatchRecord = z.object({
  key: z.string(),
  level: z.number().int().nonnegative(),
  calls: z.number().int().nonnegative(),
  results: z.array(MatchResult),
});
export type JudgeBatchRecord = z.infer<typeof JudgeBatchRecord>;
