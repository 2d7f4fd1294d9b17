/**
 * The elicitation accuracy curve (issue 13): per strategy and number of answered questions, the
 * accuracy on held-out test pairs of the persona inferred from the answers so far. Built from
 * step outcomes alone (the simulation's per-step rows, the page's scored persona versions), so a
 * summary can always be recomputed from its rows.
 *
 * The unit of the interval is a repeat (one replay of elicitation over every persona with its own
 * seed): a repeat's accuracy at k answers is the mean of its personas' accuracies, and the curve
 * point is the mean over repeats with the project's seeded percentile bootstrap. The pooled
 * accuracy (every test pair of every repeat, Wilson interval) is reported beside it; it is the
 * only interval a single run has, e.g. one user's page.
 */
import { z } from 'zod';
import { bootstrapMeanInterval, wilsonInterval, type AccuracyCell, type BootstrapOptions, type Interval } from '../stats.ts';
import { ELICITATION_STRATEGIES, ElicitationStrategy } from './strategy.ts';

/** One persona's test accuracy after `shots` answers, in one repeat of one strategy. */
export const ElicitationStepOutcome = z.object({
  strategy: ElicitationStrategy,
  repeat: z.number().int().nonnegative(),
  persona: z.string().min(1),
  /** Answered questions so far; 0 is the start (no persona, no prefix). */
  shots: z.number().int().nonnegative(),
  /** Test pairs scored and how many of them the prefixed model got right (ties are losses). */
  scored: z.number().int().nonnegative(),
  correct: z.number().int().nonnegative(),
  /** Scored pairs whose two answers scored the same (counted as losses). */
  ties: z.number().int().nonnegative(),
});
export type ElicitationStepOutcome = z.infer<typeof ElicitationStepOutcome>;

export interface ElicitationCurvePoint {
  shots: number;
  repeats: number;
  personas: number;
  /** Mean over repeats of the repeat's mean persona accuracy, with a bootstrap CI over repeats. */
  meanOfRepeats: Interval;
  /** Every test pair pooled, with a Wilson interval. */
  pooled: AccuracyCell;
}

export interface ElicitationCurve {
  strategy: ElicitationStrategy;
  /** Ascending in `shots`. */
  points: ElicitationCurvePoint[];
}

function mean(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0) / values.length;
}

/** Parsed outcomes, with impossible counts refused. */
function checked(outcomes: readonly ElicitationStepOutcome[]): ElicitationStepOutcome[] {
  const parsed = z.array(ElicitationStepOutcome).parse(outcomes);
  for (const outcome of parsed) {
    if (outcome.correct + outcome.ties > outcome.scored) {
      throw new RangeError(`summarizeElicitationCurve: ${outcome.persona} has more correct and tied (${outcome.correct} + ${outcome.ties}) than scored (${outcome.scored}) pairs.`);
    }
  }
  return parsed;
}

/** Per repeat (ascending), the mean accuracy of its personas after `shots` answers under `strategy`. */
export function repeatAccuracies(outcomes: readonly ElicitationStepOutcome[], strategy: ElicitationStrategy, shots: number): Map<number, number> {
  const byRepeat = new Map<number, number[]>();
  for (const outcome of outcomes) {
    if (outcome.strategy !== strategy || outcome.shots !== shots || outcome.scored === 0) continue;
    byRepeat.set(outcome.repeat, [...(byRepeat.get(outcome.repeat) ?? []), outcome.correct / outcome.scored]);
  }
  return new Map([...byRepeat.keys()].sort((a, b) => a - b).map((repeat) => [repeat, mean(byRepeat.get(repeat) as number[])]));
}

/**
 * One curve per strategy present (in ELICITATION_STRATEGIES order). Outcomes with nothing scored
 * carry no accuracy and are left out of the means (they still show in the rows).
 */
export function summarizeElicitationCurve(outcomes: readonly ElicitationStepOutcome[], options: BootstrapOptions): ElicitationCurve[] {
  const parsed = checked(outcomes);
  const confidence = options.confidence ?? 0.95;
  return ELICITATION_STRATEGIES.flatMap((strategy): ElicitationCurve[] => {
    const ofStrategy = parsed.filter((outcome) => outcome.strategy === strategy && outcome.scored > 0);
    if (ofStrategy.length === 0) return [];
    const shotCounts = [...new Set(ofStrategy.map((outcome) => outcome.shots))].sort((a, b) => a - b);
    const points = shotCounts.map((shots): ElicitationCurvePoint => {
      const atShots = ofStrategy.filter((outcome) => outcome.shots === shots);
      const repeatMeans = [...repeatAccuracies(atShots, strategy, shots).values()];
      const n = atShots.reduce((total, outcome) => total + outcome.scored, 0);
      const correct = atShots.reduce((total, outcome) => total + outcome.correct, 0);
      const ties = atShots.reduce((total, outcome) => total + outcome.ties, 0);
      return {
        shots,
        repeats: repeatMeans.length,
        personas: new Set(atShots.map((outcome) => outcome.persona)).size,
        meanOfRepeats: bootstrapMeanInterval(repeatMeans, options),
        pooled: { n, correct, ties, accuracy: wilsonInterval(correct, n, confidence) },
      };
    });
    return [{ strategy, points }];
  });
}

/**
 * Active − random after each number of answers: per repeat, the difference of the two strategies'
 * mean persona accuracies (the same repeat seed, so the same persona decoding), then the mean over
 * repeats with a bootstrap CI. Only shot counts both strategies reached.
 */
export function activeMinusRandom(outcomes: readonly ElicitationStepOutcome[], options: BootstrapOptions): (Interval & { shots: number; repeats: number })[] {
  const parsed = checked(outcomes);
  const shotCounts = [...new Set(parsed.map((outcome) => outcome.shots))].sort((a, b) => a - b);
  return shotCounts.flatMap((shots) => {
    const active = repeatAccuracies(parsed, 'active', shots);
    const random = repeatAccuracies(parsed, 'random', shots);
    const differences = [...active].flatMap(([repeat, value]) => {
      const other = random.get(repeat);
      return other === undefined ? [] : [value - other];
    });
    return differences.length === 0 ? [] : [{ shots, repeats: differences.length, ...bootstrapMeanInterval(differences, options) }];
  });
}
