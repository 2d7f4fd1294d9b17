/**
 * The scoring work of a batch evaluation: one job per (prefix, test pair), with the user turn
 * already built, minus the keys a previous run wrote, longest first. Longest first (as
 * lm-evaluation-harness orders requests) means a pair too long for memory fails in the first
 * minutes, not the last hour, and the progress ETA is an upper bound. Length is counted in
 * characters (user turn + the longer answer), a proxy for tokens that needs no tokenizer call.
 */
import { toSerializedError } from '../errors.ts';
import { applyPrefix } from '../prefixes.ts';
import type { PreferencePair } from '../schema.ts';
import type { PairToScore } from '../scorer.ts';
import { foldsFor, sameName, type HeldOut, type PersonaRoute } from './folds.ts';
import { evalPrefixSpec, isShuffled, type EvalPrefix, type PersonaMaterial } from './prefixes.ts';
import { pairRowKey } from './rows.ts';

/** Which fold's model scores a job, in a fold-routed run. */
export interface JobFold {
  fold: string;
  personaSeen: boolean;
  prefixFromSeen: boolean;
}

export interface ScoringJob extends PairToScore {
  /** Also the `id` the scorer echoes back: `pairRowKey(prefix, pair.id, fold)`. */
  key: string;
  pair: PreferencePair & { persona: string };
  prefix: EvalPrefix;
  prefixFrom: string;
  routing?: JobFold;
  /** `eval safety`: the RewardBench subset, written into the row. */
  subset?: string;
  /** Characters of the user turn plus the longer answer: the sort key. */
  length: number;
}

/** A job whose prefix could not be built: written as a failed row without calling the engine. */
export interface UnavailableJob {
  key: string;
  pair: PreferencePair & { persona: string };
  prefix: EvalPrefix;
  prefixFrom: string;
  routing?: JobFold;
  subset?: string;
  code: string;
  reason: string;
}

export interface JobPlan {
  /** Longest first. */
  jobs: ScoringJob[];
  unavailable: UnavailableJob[];
}

export interface JobPlanInput {
  pairs: readonly (PreferencePair & { persona: string })[];
  prefixes: readonly EvalPrefix[];
  material: ReadonlyMap<string, PersonaMaterial>;
  shuffle?: Readonly<Record<string, string>>;
  /** Keys already written: skipped. */
  done?: ReadonlySet<string>;
  /** Fold routing: each pair is scored by the folds `foldsFor` names, only those in `only` when given. */
  folds?: { heldOut: HeldOut; routes: Readonly<Record<string, PersonaRoute>>; only?: string };
}

export function planScoringJobs({ pairs, prefixes, material, shuffle, done = new Set(), folds }: JobPlanInput): JobPlan {
  const jobs: ScoringJob[] = [];
  const unavailable: UnavailableJob[] = [];
  for (const prefix of prefixes) {
    for (const pair of pairs) {
      const prefixFrom = (isShuffled(prefix) ? shuffle?.[pair.persona] : undefined) ?? pair.persona;
      for (const routing of routingsOf(prefix, pair.persona, prefixFrom, folds)) {
        const key = pairRowKey(prefix, pair.id, routing?.fold);
        if (done.has(key)) continue;
        const fold = routing ? { routing } : {};
        let resolved: ReturnType<typeof evalPrefixSpec>;
        try {
          resolved = evalPrefixSpec(prefix, pair.persona, material, shuffle);
        } catch (error) {
          const { code, message } = toSerializedError(error);
          unavailable.push({ key, pair, prefix, prefixFrom, ...fold, code, reason: message });
          continue;
        }
        const userContent = applyPrefix(resolved.spec, pair.prompt);
        jobs.push({
          id: key,
          key,
          userContent,
          chosen: pair.chosen,
          rejected: pair.rejected,
          pair,
          prefix,
          prefixFrom: resolved.from,
          ...fold,
          length: userContent.length + Math.max(pair.chosen.length, pair.rejected.length),
        });
      }
    }
  }
  return { jobs: sortLongestFirst(jobs), unavailable };
}

/** One undefined entry without fold routing; else one per fold that scores the pair under `prefix`. */
function routingsOf(prefix: EvalPrefix, persona: string, prefixFrom: string, folds: JobPlanInput['folds']): (JobFold | undefined)[] {
  if (!folds) return [undefined];
  const route = folds.routes[persona];
  if (!route) return [];
  const heldOut = (fold: string, name: string) => folds.heldOut[fold]?.some((candidate) => sameName(candidate, name)) ?? false;
  return foldsFor(prefix, route)
    .filter((fold) => folds.only === undefined || fold === folds.only)
    .map((fold) => ({ fold, personaSeen: !heldOut(fold, persona), prefixFromSeen: !heldOut(fold, prefixFrom) }));
}

/** Longest first; equal lengths keep their order (Array.prototype.sort is stable). */
export function sortLongestFirst<Job extends { length: number }>(jobs: readonly Job[]): Job[] {
  return [...jobs].sort((a, b) => b.length - a.length);
}
