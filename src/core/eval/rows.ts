/**
 * The rows batch evaluation streams to disk, one JSON object per line, and reads back to resume
 * and to recompute every summary. A row is either a result or `{ ok: false, code, reason }`: a
 * pair too long for the model, a failed generation or judge call is recorded, counted and shown,
 * never dropped. `key` identifies the unit of work; a later row with the same key supersedes an
 * earlier one (a retried failure), and a resumed run skips keys already written.
 *
 * Scores and margins may be ±Infinity (a log-prob of −∞ in float32); JSON has no such number, so
 * they are written as null and the verdict fields (`correct`, `tie`) carry the decision.
 */
import { z } from 'zod';
import { Aggregation } from '../aggregate.ts';
import { QuestionType } from '../schema.ts';
import { Convention } from '../scoringInput.ts';
import { EvalPrefix } from './prefixes.ts';

/** A finite number, or null for ±Infinity/NaN (which JSON cannot hold). */
const Score = z.number().nullable();

/** The fields every row of the per-pair file carries, scored or not. */
const PairRowBase = z.object({
  key: z.string().min(1),
  id: z.string().min(1),
  persona: z.string().min(1),
  type: QuestionType.optional(),
  prefix: EvalPrefix,
  /** Whose prefix material was used: the persona itself, or its shuffle partner. */
  prefixFrom: z.string(),
  /** Fold-routed runs: the fold whose model scored the row, and whether it trained on the persona and on `prefixFrom`. */
  fold: z.string().optional(),
  /** `eval safety`: the RewardBench subset of the pair. */
  subset: z.string().optional(),
  personaSeen: z.boolean().optional(),
  prefixFromSeen: z.boolean().optional(),
  /** Which process wrote the row (resume accounting). */
  session: z.string(),
});

export const ScoredPairRow = PairRowBase.extend({
  ok: z.literal(true),
  scores: z.object({ chosen: Score, rejected: Score }),
  margin: Score,
  correct: z.boolean(),
  tie: z.boolean(),
  /** Tokens conditioned on (BOS included) and scored per answer, after truncation. */
  tokens: z.object({ prompt: z.number().int().nonnegative(), chosen: z.number().int().positive(), rejected: z.number().int().positive() }),
  truncated: z.object({ prompt: z.boolean(), answers: z.boolean() }),
  convention: Convention,
  norm: Aggregation,
  method: z.string(),
});
export type ScoredPairRow = z.infer<typeof ScoredPairRow>;

export const FailedPairRow = PairRowBase.extend({
  ok: z.literal(false),
  /** An ErrorCode (`context-exceeded`, …) or `internal`. */
  code: z.string(),
  reason: z.string(),
});
export type FailedPairRow = z.infer<typeof FailedPairRow>;

export const EvalPairRow = z.discriminatedUnion('ok', [ScoredPairRow, FailedPairRow]);
export type EvalPairRow = z.infer<typeof EvalPairRow>;

export function pairRowKey(prefix: EvalPrefix, pairId: string, fold?: string): string {
  return fold === undefined ? `${prefix}|${pairId}` : `${fold}|${prefix}|${pairId}`;
}

/** A JSON-safe score: ±Infinity and NaN become null. */
export function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

/** The last row of every key, in order of each key's first appearance. */
export function latestByKey<Row extends { key: string }>(rows: readonly Row[]): Row[] {
  const latest = new Map<string, Row>();
  for (const row of rows) latest.set(row.key, row);
  return [...latest.values()];
}

// ---------------------------------------------------------------------------------------------
// Generations and judgements (Table 3)

const GenerationRowBase = z.object({
  key: z.string().min(1),
  persona: z.string().min(1),
  questionId: z.string().min(1),
  contestant: z.string().min(1),
  engine: z.string(),
  prefix: EvalPrefix,
  session: z.string(),
});

export const GenerationRow = z.discriminatedUnion('ok', [
  GenerationRowBase.extend({
    ok: z.literal(true),
    text: z.string(),
    finishReason: z.string(),
    promptTokens: z.number().int().nonnegative(),
    completionTokens: z.number().int().nonnegative(),
    seed: z.number().int(),
  }),
  GenerationRowBase.extend({ ok: z.literal(false), code: z.string(), reason: z.string() }),
]);
export type GenerationRow = z.infer<typeof GenerationRow>;

export function generationKey(questionId: string, contestant: string): string {
  return `${questionId}|${contestant}`;
}

const JudgementRowBase = z.object({
  key: z.string().min(1),
  persona: z.string().min(1),
  questionId: z.string().min(1),
  /** Shown as Output (a) and Output (b). */
  a: z.string().min(1),
  b: z.string().min(1),
  /** 1: the first order asked; 2: the same contestants swapped. */
  order: z.union([z.literal(1), z.literal(2)]),
  judge: z.string(),
  session: z.string(),
});

export const JudgementRow = z.discriminatedUnion('ok', [
  JudgementRowBase.extend({
    ok: z.literal(true),
    winner: z.enum(['a', 'b']),
    explanation: z.string(),
  }),
  JudgementRowBase.extend({
    ok: z.literal(false),
    code: z.string(),
    reason: z.string(),
    /** The judge's whole answer when there was one, so it can be re-parsed without a new call. */
    raw: z.string().optional(),
  }),
]);
export type JudgementRow = z.infer<typeof JudgementRow>;

export function judgementKey(questionId: string, a: string, b: string): string {
  return `${questionId}|${a}|${b}`;
}
