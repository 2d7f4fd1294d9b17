/**
 * Which question to ask next in active persona elicitation (issue 13), one rule for the page and
 * the CLI simulation.
 *
 * - `active`: the question the current persona is least sure about, i.e. the smallest |margin|
 *   between its two candidate answers under the persona prefix (eq. 3's reward difference, as the
 *   scorer computes it: `logp(A) − logp(B)` with the run's aggregation). When candidates carry
 *   margins under two or more persona versions, the question the versions disagree on most (the
 *   widest range of margins) wins instead: a persona that keeps changing its mind is unsure too.
 *   Ties go to the first id in id order, so the pick never depends on the candidates' order.
 * - `random`: a uniform draw with the caller's seeded generator, the baseline the paper implies
 *   (randomly sampled shots).
 * Candidates without the numbers a rule needs are passed over; when none has them, `active` falls
 * back to a random draw and its reason says so, rather than pretending to be informed.
 */
import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { Rng } from '../random.ts';

export const ELICITATION_STRATEGIES = ['active', 'random'] as const;
export const ElicitationStrategy = z.enum(ELICITATION_STRATEGIES);
export type ElicitationStrategy = z.infer<typeof ElicitationStrategy>;

export const ElicitationCandidate = z.object({
  id: z.string().min(1),
  prompt: z.string(),
  /** logp(A) − logp(B) under the current persona prefix (the scorer's margin). */
  margin: z.number().finite().optional(),
  /** The same margin under each persona version so far, oldest first. */
  versionMargins: z.array(z.number().finite()).optional(),
});
export type ElicitationCandidate = z.infer<typeof ElicitationCandidate>;

/** Why a question was picked: what the page shows and the simulation records. */
export const ElicitationBasis = z.enum(['uncertainty', 'disagreement', 'random', 'random-fallback']);
export type ElicitationBasis = z.infer<typeof ElicitationBasis>;

export interface ElicitationChoice {
  id: string;
  strategy: ElicitationStrategy;
  basis: ElicitationBasis;
  /** One sentence for the user. */
  reason: string;
  /** |margin| (uncertainty) or the range of version margins (disagreement); absent for a random draw. */
  score?: number;
}

const byId = (a: ElicitationCandidate, b: ElicitationCandidate) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function formatMargin(value: number): string {
  return value.toFixed(Math.abs(value) < 0.01 && value !== 0 ? 3 : 2);
}

/** The range of margins across persona versions, for candidates measured under at least two. */
function disagreement(candidate: ElicitationCandidate): number | undefined {
  const margins = candidate.versionMargins;
  if (!margins || margins.length < 2) return undefined;
  return Math.max(...margins) - Math.min(...margins);
}

/** The candidate with the highest `score` (first in id order on ties), among those that have one. */
function best(candidates: readonly ElicitationCandidate[], score: (candidate: ElicitationCandidate) => number | undefined) {
  let winner: { candidate: ElicitationCandidate; score: number } | undefined;
  for (const candidate of candidates) {
    const value = score(candidate);
    if (value !== undefined && (winner === undefined || value > winner.score)) winner = { candidate, score: value };
  }
  return winner;
}

function randomPick(sorted: readonly ElicitationCandidate[], rng: Rng, strategy: ElicitationStrategy, fallback: boolean): ElicitationChoice {
  const candidate = sorted[rng.int(0, sorted.length - 1)] as ElicitationCandidate;
  return fallback
    ? { id: candidate.id, strategy, basis: 'random-fallback', reason: 'No margins yet (nothing scored under a persona), so this question was drawn at random.' }
    : { id: candidate.id, strategy, basis: 'random', reason: `Drawn at random from ${sorted.length} question${sorted.length === 1 ? '' : 's'}.` };
}

/**
 * The next question among `candidates` (parsed here: they come from the page's state or a run's
 * files). `rng` is used only for a random draw, so an active pick leaves it untouched.
 * @throws AppError invalid-input when there is no candidate left to ask.
 */
export function chooseNextQuestion(candidates: readonly ElicitationCandidate[], strategy: ElicitationStrategy, rng: Rng): ElicitationChoice {
  const parsedStrategy = ElicitationStrategy.parse(strategy);
  const sorted = z.array(ElicitationCandidate).parse(candidates).sort(byId);
  if (sorted.length === 0) throw new AppError('invalid-input', 'There is no question left to ask: add questions or pairs to choose from.');
  if (parsedStrategy === 'random') return randomPick(sorted, rng, parsedStrategy, false);

  const split = best(sorted, disagreement);
  if (split) {
    const margins = split.candidate.versionMargins as number[];
    return {
      id: split.candidate.id,
      strategy: parsedStrategy,
      basis: 'disagreement',
      score: split.score,
      reason: `Your persona versions disagree most on this one: its margin ranged from ${formatMargin(Math.min(...margins))} to ${formatMargin(Math.max(...margins))} across ${margins.length} versions.`,
    };
  }
  const unsure = best(sorted, (candidate) => (candidate.margin === undefined ? undefined : -Math.abs(candidate.margin)));
  if (unsure) {
    return {
      id: unsure.candidate.id,
      strategy: parsedStrategy,
      basis: 'uncertainty',
      score: -unsure.score,
      reason: `The model can't tell which answer you'd prefer: margin ${formatMargin(unsure.candidate.margin as number)}.`,
    };
  }
  return randomPick(sorted, rng, parsedStrategy, true);
}
