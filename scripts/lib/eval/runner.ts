/**
 * The scoring loop of `eval`: scores the planned jobs (longest first; the engine computes each
 * pair's shared prompt once) and appends one fsynced row per job as it finishes, so the JSONL is
 * always the complete record of finished work. Jobs whose prefix could not be built are written
 * as failed rows first, without an engine call. A failed pair (too long, engine error) is a row
 * with its code and reason; only cancellation stops the loop.
 */
import type { Engine } from '../../../src/core/engine.ts';
import { isAbortError } from '../../../src/core/errors.ts';
import type { JobPlan, ScoringJob, UnavailableJob } from '../../../src/core/eval/jobs.ts';
import { finiteOrNull, type EvalPairRow } from '../../../src/core/eval/rows.ts';
import { scorePairs, type PairScore, type ScoreSettings } from '../../../src/core/scorer.ts';
import type { Reporter } from '../reporter.ts';
import type { JsonlAppender } from '../durableFiles.ts';

export interface ScoringRunInput {
  engine: Engine;
  plan: JobPlan;
  settings: ScoreSettings;
  rows: JsonlAppender;
  session: string;
  reporter: Reporter;
  signal?: AbortSignal;
}

export interface ScoringRunResult {
  scored: number;
  failed: number;
  interrupted: boolean;
  seconds: number;
}

/** The fields every row of a job carries, scored or failed (in the order they are written). */
function rowBase(job: ScoringJob | UnavailableJob, session: string) {
  return {
    key: job.key,
    id: job.pair.id,
    persona: job.pair.persona,
    ...(job.pair.type ? { type: job.pair.type } : {}),
    prefix: job.prefix,
    prefixFrom: job.prefixFrom,
    ...job.routing,
    ...('subset' in job && job.subset !== undefined ? { subset: job.subset } : {}),
    session,
  };
}

export function scoredRow(job: ScoringJob, result: PairScore, session: string): EvalPairRow {
  return {
    ok: true,
    ...rowBase(job, session),
    scores: { chosen: finiteOrNull(result.chosen.score), rejected: finiteOrNull(result.rejected.score) },
    margin: finiteOrNull(result.margin),
    correct: result.correct,
    tie: result.tie,
    tokens: { prompt: result.promptIds.length, chosen: result.chosen.ids.length, rejected: result.rejected.ids.length },
    truncated: result.truncated,
    convention: result.convention,
    norm: result.aggregation,
    method: result.method,
  };
}

export function failedRow(job: ScoringJob | UnavailableJob, code: string, reason: string, session: string): EvalPairRow {
  return { ok: false, ...rowBase(job, session), code, reason };
}

export async function runScoring({ engine, plan, settings, rows, session, reporter, signal }: ScoringRunInput): Promise<ScoringRunResult> {
  const started = performance.now();
  let scored = 0;
  let failed = 0;
  for (const job of plan.unavailable) {
    await rows.append(failedRow(job, job.code, job.reason, session));
    failed++;
  }
  const byKey = new Map(plan.jobs.map((job) => [job.key, job]));
  reporter.start('Scoring pairs', plan.jobs.length);
  let interrupted = false;
  try {
    for await (const outcome of scorePairs(engine, plan.jobs, settings, signal)) {
      const job = byKey.get(outcome.ok ? outcome.result.id : outcome.id) as ScoringJob;
      if (outcome.ok) {
        await rows.append(scoredRow(job, outcome.result, session));
        scored++;
      } else {
        await rows.append(failedRow(job, outcome.error.code, outcome.error.message, session));
        failed++;
        reporter.warn(`${job.prefix} ${job.pair.id}: ${outcome.error.message}`);
      }
      reporter.tick(scored + failed - plan.unavailable.length);
    }
  } catch (error) {
    if (!isAbortError(error)) throw error;
    interrupted = true;
  } finally {
    reporter.stop();
  }
  return { scored, failed, interrupted, seconds: (performance.now() - started) / 1000 };
}
