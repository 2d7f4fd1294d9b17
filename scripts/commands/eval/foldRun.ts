/**
 * The scoring loop of a fold-routed run: routes every persona (folds.ts), records the routes in
 * the manifest, then opens one fold's engine at a time (several 7B models rarely fit at once),
 * scores the rows that fold owns and disposes of it before the next. Every row is appended as it
 * finishes, so a killed run resumes with the fold it was in; Ctrl+C stops after the row in flight.
 */
import { routePersonas } from '../../../src/core/eval/folds.ts';
import type { CliEngineSpec } from '../../lib/eval/engines/registry.ts';
import { openEngine } from '../../lib/eval/engines/registry.ts';
import type { BuiltPrefixes } from '../../lib/eval/prefixBuilder.ts';
import type { ScoringRunResult } from '../../lib/eval/runner.ts';
import type { FoldsRecord } from '../../lib/eval/runFiles.ts';
import { engineOptions } from './flags.ts';
import { engineRecord, planRemaining, runPlanned, writeRunManifest, type PreparedRun } from './scoreRun.ts';

export async function scoreFolds(run: PreparedRun, specs: ReadonlyMap<string, CliEngineSpec>, built: BuiltPrefixes, signal: AbortSignal): Promise<ScoringRunResult> {
  const { reporter, dataset } = run;
  const runFolds = [...specs.keys()];
  const initial = run.foldsRecord({}) as FoldsRecord;
  const routes = routePersonas(dataset.names, initial.heldOut, runFolds, built.shuffle);
  const record: FoldsRecord = { ...initial, routes };
  const uncovered = dataset.names.filter((name) => routes[name]?.unseen.length === 0);
  if (uncovered.length > 0) reporter.warn(`No engine of this run held out ${uncovered.join(', ')}: their unseen settings are not scored (add their fold's engine).`);
  await writeRunManifest(run, { folds: record });
  const total: ScoringRunResult = { scored: 0, failed: 0, interrupted: false, seconds: 0 };
  for (const [fold, spec] of specs) {
    const plan = await planRemaining(run, built, { heldOut: record.heldOut, routes, only: fold });
    if (plan.jobs.length === 0 && plan.unavailable.length === 0) continue;
    reporter.info(`Fold ${fold}: ${plan.jobs.length} row(s) to score with ${spec.text}`);
    const engine = await openEngine(spec, engineOptions(run.options), reporter);
    try {
      const engines = record.engines[fold];
      if (engines) engines.loaded = engineRecord(spec.text, engine);
      await writeRunManifest(run, { folds: record });
      const result = await runPlanned(run, engine, plan, signal);
      total.scored += result.scored;
      total.failed += result.failed;
      total.seconds += result.seconds;
      if (result.interrupted) return { ...total, interrupted: true };
    } finally {
      await engine.dispose();
    }
  }
  return total;
}
