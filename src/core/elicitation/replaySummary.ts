/**
 * The simulation's summary, recomputed from its per-step rows alone (elicitation.jsonl is the
 * source of truth; the summary can always be rebuilt): the accuracy curve per strategy with CIs
 * over repeats, active − random per number of answers, why active picked what it picked, and the
 * failures. Rows outside the run's settings (a larger budget or more repeats written by an
 * earlier start) are left out.
 */
import type { BootstrapOptions } from '../bootstrap.ts';
import { latestByKey } from '../eval/rows.ts';
import type { Interval } from '../interval.ts';
import { activeMinusRandom, summarizeElicitationCurve, type ElicitationCurve, type ElicitationStepOutcome } from './curve.ts';
import type { ElicitationRow } from './replay.ts';
import type { ElicitationBasis, ElicitationStrategy } from './strategy.ts';

export interface ElicitationScope {
  strategies: readonly ElicitationStrategy[];
  repeats: number;
  budget: number;
  /** The personas replayed (all in the rows when absent). */
  personas?: readonly string[];
}

export interface ElicitationFailure {
  key: string;
  code: string;
  reason: string;
}

export interface ElicitationSummary {
  counts: {
    /** Step rows in scope (the last row of each key). */
    steps: number;
    personas: number;
    /** Steps whose persona could not be inferred: no accuracy. */
    failedSteps: number;
    /** Test pairs that could not be scored, summed over steps. */
    failedTestPairs: number;
  };
  curves: ElicitationCurve[];
  activeMinusRandom: (Interval & { shots: number; repeats: number })[];
  /** How often each rule decided an active pick. */
  activeBasis: Partial<Record<ElicitationBasis, number>>;
  failures: ElicitationFailure[];
}

export function inScope(row: ElicitationRow, scope: ElicitationScope): boolean {
  return scope.strategies.includes(row.strategy) && row.repeat < scope.repeats && row.step <= scope.budget && (scope.personas?.includes(row.persona) ?? true);
}

/** The curve's input: one outcome per step row that scored test pairs under an inferred (or no) persona. */
export function stepOutcomes(rows: readonly ElicitationRow[]): ElicitationStepOutcome[] {
  return rows.flatMap((row): ElicitationStepOutcome[] =>
    row.failure ? [] : [{ strategy: row.strategy, repeat: row.repeat, persona: row.persona, shots: row.step, scored: row.test.scored, correct: row.test.correct, ties: row.test.ties }],
  );
}

export function summarizeElicitation(allRows: readonly ElicitationRow[], scope: ElicitationScope, options: BootstrapOptions): ElicitationSummary {
  const rows = latestByKey(allRows).filter((row) => inScope(row, scope));
  const outcomes = stepOutcomes(rows);
  const activeBasis: Partial<Record<ElicitationBasis, number>> = {};
  for (const row of rows) {
    if (row.strategy !== 'active' || !row.asked) continue;
    activeBasis[row.asked.basis] = (activeBasis[row.asked.basis] ?? 0) + 1;
  }
  const failures = rows.flatMap((row): ElicitationFailure[] => (row.failure ? [{ key: row.key, code: row.failure.code, reason: row.failure.reason }] : []));
  return {
    counts: {
      steps: rows.length,
      personas: new Set(rows.map((row) => row.persona)).size,
      failedSteps: failures.length,
      failedTestPairs: rows.reduce((total, row) => total + row.test.failed, 0),
    },
    curves: summarizeElicitationCurve(outcomes, options),
    activeMinusRandom: activeMinusRandom(outcomes, options),
    activeBasis,
    failures,
  };
}
