/**
 * Reference-free reward (the paper's eq. 3) for one preference pair on any Engine: builds the
 * scoring tokens of the chosen convention, asks the engine for teacher-forced log-probs with
 * the prompt shared, aggregates them and gives the verdict. Batch callers get failures as
 * data (`{ ok: false }`) so one bad pair never aborts a run.
 */
import { z } from 'zod';
import { aggregate, verdict, Aggregation } from './aggregate.ts';
import type { CancelSignal } from './cancel.ts';
import { templateFromInfo } from './chatTemplate.ts';
import type { Engine, ScoringCheck } from './engine.ts';
import { toSerializedError, type SerializedError } from './errors.ts';
import { Convention, planScoring, TruncationLimits, type TruncationReport } from './scoringInput.ts';

export const ScoreSettings = z.object({
  convention: Convention.default('authors'),
  aggregation: Aggregation.default('mean'),
  /** Omit to score whole sequences; the authors' values are AUTHORS_LIMITS. */
  limits: TruncationLimits.optional(),
});
export type ScoreSettings = z.output<typeof ScoreSettings>;

export interface ScoredAnswer {
  /** Exactly the scored tokens. */
  ids: number[];
  logprobs: number[];
  score: number;
}

export interface PairScore {
  id: string;
  /** Tokens the model conditions on for the chosen answer, BOS included. */
  promptIds: number[];
  chosen: ScoredAnswer;
  rejected: ScoredAnswer;
  correct: boolean;
  tie: boolean;
  margin: number;
  truncated: TruncationReport;
  convention: Convention;
  aggregation: Aggregation;
  method: string;
  /** The engine's run-time check behind `method` (WebLLM's one-pass against forced decoding). */
  check?: ScoringCheck;
}

export interface PairToScore {
  id: string;
  /** The user turn with the prefix already applied. */
  userContent: string;
  chosen: string;
  rejected: string;
}

export async function scorePair(engine: Engine, pair: PairToScore, settings: ScoreSettings, signal?: CancelSignal): Promise<PairScore> {
  const plan = await planScoring((text) => engine.tokenize(text), pair.userContent, [pair.chosen, pair.rejected], {
    convention: settings.convention,
    template: templateFromInfo(engine.info.chatTemplate),
    special: { bos: engine.info.bosTokenId, eos: engine.info.eosTokenId },
    ...(settings.limits ? { limits: settings.limits } : {}),
  });
  const { logprobs, method, check } = await engine.score({ promptIds: plan.sharedPromptIds, continuations: plan.continuations }, signal);
  const [chosen, rejected] = plan.answers.map((answer, i): ScoredAnswer => {
    // Continuations may begin with prompt tokens that differ per answer (boundary merge): not scored.
    const scored = (logprobs[i] ?? []).slice(-answer.answerIds.length);
    return { ids: answer.answerIds, logprobs: scored, score: aggregate(scored, settings.aggregation) };
  }) as [ScoredAnswer, ScoredAnswer];
  return {
    id: pair.id,
    promptIds: plan.answers[0]?.promptIds ?? plan.sharedPromptIds,
    chosen,
    rejected,
    ...verdict(chosen.score, rejected.score),
    truncated: plan.truncated,
    convention: settings.convention,
    aggregation: settings.aggregation,
    method,
    ...(check ? { check } : {}),
  };
}

export type PairOutcome = { ok: true; result: PairScore } | { ok: false; id: string; error: SerializedError };

/** Scores pairs in order, yielding each outcome as it finishes; failures are outcomes too. */
export async function* scorePairs(
  engine: Engine,
  pairs: Iterable<PairToScore>,
  settings: ScoreSettings,
  signal?: CancelSignal,
): AsyncGenerator<PairOutcome> {
  for (const pair of pairs) {
    try {
      yield { ok: true, result: await scorePair(engine, pair, settings, signal) };
    } catch (error) {
      const serialized = toSerializedError(error);
      if (serialized.code === 'aborted') throw error;
      yield { ok: false, id: pair.id, error: serialized };
    }
  }
}
