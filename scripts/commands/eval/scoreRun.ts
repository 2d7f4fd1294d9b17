/**
 * `eval --dataset D --engine E --prefixes none,tag,few-shot,persona,name,gold --out DIR`: builds
 * every prefix as the authors do (spec §3; texts kept in DIR/prefixes.json for reuse with
 * --prefix-file), scores every test pair under every prefix (longest first, the shared prompt
 * computed once per pair, one fsynced JSONL row per pair, so a killed run resumes where it
 * stopped), and writes accuracy per prefix × question type with bootstrap CIs over personas
 * (Figure 3), prefix sensitivity (right vs `shuffle-*`) and the per-persona prefix gain.
 *
 * Fold routing (`--engine cv0=<spec>,cv1=<spec>` or `--engines <file>`): one fine-tuned model per
 * cross-validation fold (folds from the dataset's cv folders or `--folds`); each persona is scored
 * by the model of the fold that held it out and, for App. L's seen settings, by one that trained
 * on it (engines load one at a time). With `--baseline-run <dir>` (Zephyr's run on the same
 * dataset) the prefix texts come from its prefixes.json and Figure 6 compares with its no-prefix
 * accuracy. The report then has Figure 5, App. L's eight settings and Figure 6 as the paper.
 *
 * A resumed run must match the folder's manifest (engine, dataset, settings): checked before the
 * model loads. Exit: 0 when every row scored; 2 when input needed fixing or rows failed; 130 when
 * interrupted.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command} from 'commander';
import { Option } from 'commander';
import type { Engine } from '../../../src/core/engine.ts';
import { AppError } from '../../../src/core/errors.ts';
import { planScoringJobs, type JobPlan, type JobPlanInput } from '../../../src/core/eval/jobs.ts';
import { parsePrefixList, sortPrefixes, type EvalPrefix } from '../../../src/core/eval/prefixes.ts';
import type { EvalReport } from '../../../src/core/eval/report.ts';
import { EvalPairRow, latestByKey } from '../../../src/core/eval/rows.ts';
import { PROMPTS_VERSION } from '../../../src/core/prompts.ts';
import { reportSkippedRows, selectSplit, SPLIT_CHOICES, type SplitChoice } from '../../lib/cliInput.ts';
import { formatTable } from '../../lib/format.ts';
import { EXIT_USER_ERROR } from '../../lib/main.ts';
import { JsonlAppender, readJsonFile, writeFileAtomic } from '../../lib/durableFiles.ts';
import { createReporter, defaultReporterMode } from '../../lib/reporter.ts';
import { formatStats, openChatRole, type ChatRoleProvider } from '../../lib/eval/chatRoles.ts';
import { loadEvalDataset, type NamedPair } from '../../lib/eval/dataset.ts';
import { openEngine } from '../../lib/eval/engines/registry.ts';
import { loadFolds, parseEngineChoice } from '../../lib/eval/folds.ts';
import { assertPrefixRoles, buildPrefixes, type BuiltPrefixes } from '../../lib/eval/prefixBuilder.ts';
import { writeReport } from '../../lib/eval/report.ts';
import { interval, prefixLabel } from '../../lib/eval/reportText.ts';
import { runScoring, type ScoringRunResult } from '../../lib/eval/runner.ts';
import { assertResumable, readJsonl, RunManifest, runPaths, type EngineRecord, type FoldsRecord } from '../../lib/eval/runFiles.ts';
import {
  addCommonOptions,
  addEngineOptions,
  addPrefixOptions,
  addScoringOptions,
  collect,
  engineOptions,
  parsePositive,
  parsePrefixes,
  personaGeneration,
  scoringLimits,
  type CommonOptions,
  type EngineFlags,
  type PrefixFlags,
  type ScoringFlags,
} from './flags.ts';
import { keepBaselineRows, readBaselineRun } from './baseline.ts';
import { scoreFolds } from './foldRun.ts';
import { EXIT_INTERRUPTED, runPrefixFile, sessionId, withInterrupt } from './session.ts';

interface ScoreRunOptions extends CommonOptions, EngineFlags, PrefixFlags, ScoringFlags {
  dataset: string;
  engine?: string[];
  engines?: string;
  folds?: string;
  baselineRun?: string;
  personaWriter?: 'engine' | 'baseline';
  prefixes: EvalPrefix[];
  split: SplitChoice;
  bootstrap: number;
  retryFailed?: boolean;
}

/** Adds the scoring run's options and action to the `eval` command itself. */
export function addScoreRun(command: Command): void {
  command
    .option('--dataset <file|dir>', 'pairs: a file (JSON, JSONL, CSV) or a folder of the authors\u2019 train_*/test_* files')
    .option('--engine <spec>', 'local:<model dir>, openai:<baseUrl>#<model> (prompt log-probs needed), webllm:<catalog id> or browser:<catalog id>[@wasm|@webgpu] (the page\u2019s worker in headless Chromium; run `npm run build` first); one per fold as cv0=<spec>,cv1=<spec> (repeatable)', collect)
    .option('--engines <file>', 'one engine per fold: JSON {"cv0": "<spec>", …}')
    .option('--folds <file|dir>', 'folds of a fold-routed run: a folder with the authors\u2019 cv* layout, a personas file with "cv", or {"folds": {"cv0": [held-out personas]}} (default: found in the dataset\u2019s folder)')
    .option('--baseline-run <dir>', 'the baseline model\u2019s eval folder on the same dataset: prefix texts from its prefixes.json, and Figure 6 against its no-prefix accuracy')
    .addOption(new Option('--persona-writer <who>', 'who writes inferred persona texts: the evaluated engine, or only the baseline run (default: baseline with --baseline-run or fold routing)').choices(['engine', 'baseline']))
    .addOption(new Option('--prefixes <list>', `comma-separated: ${['none', 'tag', 'few-shot', 'persona', 'persona-gpt4', 'name', 'gold', 'shuffle-<any>'].join(', ')}`).argParser(parsePrefixes).default(parsePrefixList('none,tag,few-shot,persona,name,gold'), 'none,tag,few-shot,persona,name,gold'))
    .option('--out <dir>', 'output folder (created; an existing run there is resumed)')
    .addOption(new Option('--split <which>', 'pairs to score; auto = test pairs when there are any').choices(SPLIT_CHOICES).default('auto'))
    .option('--bootstrap <n>', 'bootstrap resamples for the CIs over personas', parsePositive, 1000)
    .option('--retry-failed', 'score again the pairs whose rows failed (the new row supersedes the old)');
  addScoringOptions(command);
  addCommonOptions(command);
  addEngineOptions(command);
  addPrefixOptions(command);
  command.action(async (options: ScoreRunOptions) => {
    process.exitCode = await withInterrupt((signal) => runEval(options, signal));
  });
}

/** What a run knows before its engine loads. */
export type PreparedRun = Awaited<ReturnType<typeof prepareRun>>;

async function runEval(options: ScoreRunOptions, signal: AbortSignal): Promise<number> {
  const run = await prepareRun(options);
  const { reporter, paths } = run;
  let personaModel: ChatRoleProvider | undefined;
  try {
    if (options.personaModel) personaModel = await openChatRole(options.personaModel, engineOptions(options), reporter);
    let result: ScoringRunResult;
    if (run.choice.kind === 'folds') {
      const built = await buildRunPrefixes(run, undefined, personaModel, signal);
      result = await scoreFolds(run, run.choice.specs, built, signal);
    } else {
      const engine = await openEngine(run.choice.spec, engineOptions(options), reporter);
      try {
        await writeRunManifest(run, { engine: engineRecord(run.choice.spec.text, engine) });
        const built = await buildRunPrefixes(run, run.personaWriter === 'engine' ? engine : undefined, personaModel, signal);
        result = await scoreRemaining(run, engine, built, signal);
      } finally {
        await engine.dispose();
      }
    }
    if (result.scored > 0) reporter.info(`Scored ${result.scored} pair(s) in ${result.seconds.toFixed(1)} s (${(result.scored / result.seconds).toFixed(2)} pairs/s).`);
    if (personaModel) reporter.info(formatStats(personaModel.id, personaModel.stats()));
    const report = await writeReport(run.out);
    printAccuracy(report, run.out);
    reportSkippedRows(reporter, run.dataset.skipped);
    if (result.interrupted) {
      reporter.warn(`Interrupted: re-run the same command to resume (${report.pairs?.counts.rows ?? 0} rows are kept in ${paths.pairs}).`);
      return EXIT_INTERRUPTED;
    }
    return (report.pairs?.counts.failed ?? 0) > 0 || run.dataset.invalidRows > 0 ? EXIT_USER_ERROR : 0;
  } finally {
    await personaModel?.close();
  }
}

function buildRunPrefixes(run: PreparedRun, engine: Engine | undefined, personaModel: ChatRoleProvider | undefined, signal: AbortSignal): Promise<BuiltPrefixes> {
  const { options } = run;
  return buildPrefixes({
    dataset: run.dataset,
    prefixes: options.prefixes,
    seed: options.seed,
    ...(run.existing ? { existing: run.existing } : {}),
    ...(engine ? { engine } : {}),
    ...(personaModel ? { personaModel } : {}),
    generation: personaGeneration(options),
    outPath: run.paths.prefixes,
    reporter: run.reporter,
    signal,
  });
}

export function engineRecord(spec: string, engine: Engine): EngineRecord {
  return { spec, backend: engine.info.backend, model: engine.info.model, method: engine.info.scoringMethod, chatTemplate: engine.info.chatTemplate.name };
}

/** Checks the input and, on a resume, the folder's manifest: everything that needs no model. */
async function prepareRun(options: ScoreRunOptions) {
  if (!options.dataset || !(options.engine?.length || options.engines) || !options.out) {
    throw new AppError('invalid-input', 'eval needs --dataset, --engine (or --engines) and --out (or a subcommand: personas, generations, safety, agreement, elicitation).');
  }
  const limits = scoringLimits(options);
  const reporter = createReporter(options.quiet ? 'quiet' : defaultReporterMode());
  const out = resolve(options.out);
  const paths = runPaths(out);
  const choice = await parseEngineChoice(options.engine ?? [], options.engines);
  const dataset = await loadEvalDataset(options.dataset, reporter);
  const toScore = selectSplit(dataset.pairs, options.split) as NamedPair[];
  if (toScore.length === 0) throw new AppError('invalid-input', `${options.dataset} has no ${options.split} pairs to score: choose another --split.`);
  const folds = choice.kind === 'folds' ? await loadFolds(options.folds, options.dataset, dataset.names) : undefined;
  if (folds && choice.kind === 'folds') {
    const unknown = [...choice.specs.keys()].filter((fold) => !(fold in folds.heldOut));
    if (unknown.length > 0) throw new AppError('invalid-input', `No fold named ${unknown.map((fold) => `"${fold}"`).join(', ')} in ${folds.source}: its folds are ${Object.keys(folds.heldOut).join(', ')}.`);
  }
  const baseline = options.baselineRun ? await readBaselineRun(options.baselineRun, dataset.fingerprint) : undefined;
  const personaWriter = options.personaWriter ?? (baseline || folds ? 'baseline' : 'engine');
  if (folds && personaWriter === 'engine') throw new AppError('invalid-input', '--persona-writer engine is for one engine: a fold-routed run takes persona texts from --baseline-run or --prefix-file.');
  await mkdir(out, { recursive: true });
  const existing = await runPrefixFile(paths.prefixes, [options.prefixFile, baseline?.prefixesPath]);
  assertPrefixRoles(dataset, options.prefixes, existing, {
    engine: personaWriter === 'engine',
    personaModel: options.personaModel !== undefined,
    baselineHint: baseline ? `the baseline run's prefixes.json (${baseline.dir}) has none` : 'the texts come from the baseline model (pass --baseline-run <dir>)',
  });

  const previous = readJsonFile(paths.manifest, RunManifest);
  const settings: RunManifest['settings'] = { convention: options.convention, norm: options.norm, limits, split: options.split, seed: options.seed, bootstrapResamples: options.bootstrap, promptsVersion: PROMPTS_VERSION };
  const datasetInfo: RunManifest['dataset'] = { source: dataset.source, fingerprint: dataset.fingerprint, pairs: toScore.length, personas: dataset.names.length };
  const foldsRecord = (routes: FoldsRecord['routes']): FoldsRecord | undefined =>
    folds && choice.kind === 'folds'
      ? {
          source: folds.source,
          heldOut: folds.heldOut,
          engines: Object.fromEntries([...choice.specs].map(([fold, spec]) => [fold, { spec: spec.text, ...(previous?.folds?.engines[fold]?.loaded ? { loaded: previous.folds.engines[fold].loaded } : {}) }])),
          routes,
        }
      : undefined;
  const base = { dataset: datasetInfo, settings, personaWriter, ...(baseline ? { baseline: baseline.record } : {}) };
  // Everything but what only the loaded engine knows is checked first, so a refused resume loads no model.
  if (previous) {
    const engine = choice.kind === 'single' ? { engine: { ...(previous.engine ?? engineRecordPlaceholder), spec: choice.spec.text } } : {};
    const record = foldsRecord({});
    assertResumable(previous, { ...previous, ...base, engine: undefined, ...engine, ...(record ? { folds: record } : {}) }, out);
  }
  if (baseline) keepBaselineRows(out, baseline);
  return { options, reporter, out, paths, choice, dataset, toScore, existing, limits, previous, base, foldsRecord, personaWriter };
}

const engineRecordPlaceholder: EngineRecord = { spec: '', backend: '', model: '', method: '', chatTemplate: '' };

/** Writes the manifest with what loaded engines report, checked again against the folder's. */
export async function writeRunManifest(run: PreparedRun, engines: { engine: EngineRecord } | { folds: FoldsRecord }): Promise<void> {
  const { previous, out } = run;
  const manifest: RunManifest = {
    format: 'wikipersona-eval-run',
    version: 1,
    ...engines,
    ...run.base,
    prefixes: sortPrefixes([...(previous?.prefixes ?? []), ...run.options.prefixes]),
  };
  if (previous) assertResumable(previous, manifest, out);
  writeFileAtomic(run.paths.manifest, `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Scores the (prefix, pair) rows the folder does not hold yet (or holds as failures, with --retry-failed). */
async function scoreRemaining(run: PreparedRun, engine: Engine, built: BuiltPrefixes, signal: AbortSignal): Promise<ScoringRunResult> {
  const plan = await planRemaining(run, built);
  return runPlanned(run, engine, plan, signal);
}

/** The jobs left to do (optionally for one fold of a fold-routed run), with the resume note. */
export async function planRemaining(run: PreparedRun, built: BuiltPrefixes, folds?: JobPlanInput['folds']): Promise<JobPlan> {
  const { options, paths, reporter, toScore } = run;
  const read = await readJsonl(paths.pairs, EvalPairRow);
  if (read.repaired) reporter.warn(`${paths.pairs}: cut off a torn last line left by an interrupted run.`);
  const latest = latestByKey(read.rows);
  const done = new Set(latest.filter((row) => row.ok || !options.retryFailed).map((row) => row.key));
  const plan = planScoringJobs({ pairs: toScore, prefixes: options.prefixes, material: built.material, ...(built.shuffle ? { shuffle: built.shuffle } : {}), done, ...(folds ? { folds } : {}) });
  const already = latest.filter((row) => done.has(row.key) && (folds?.only === undefined || row.fold === folds.only)).length;
  const unit = folds ? `fold ${folds.only ?? ''} (prefix, pair)` : '(prefix, pair)';
  if (already > 0) reporter.info(`Resuming in ${run.out}: ${already} of ${already + plan.jobs.length + plan.unavailable.length} ${unit} rows already written.`);
  return plan;
}

export async function runPlanned(run: PreparedRun, engine: Engine, plan: JobPlan, signal: AbortSignal): Promise<ScoringRunResult> {
  const { options, paths, reporter, limits } = run;
  const rows = JsonlAppender.open(paths.pairs);
  try {
    return await runScoring({
      engine,
      plan,
      settings: { convention: options.convention, aggregation: options.norm, ...(limits ? { limits } : {}) },
      rows,
      session: sessionId(),
      reporter,
      signal,
    });
  } finally {
    await rows.close();
  }
}

function printAccuracy(report: EvalReport, out: string): void {
  const summary = report.pairs;
  if (summary) {
    const rows = summary.accuracy.map((entry) => [
      prefixLabel(entry.prefix),
      interval(entry.byType.personal?.meanOfPersonas),
      interval(entry.byType.divergent?.meanOfPersonas),
      interval(entry.total.meanOfPersonas),
      String(entry.scored),
      String(entry.failed),
    ]);
    process.stdout.write(formatTable(['prefix', 'personal (95% CI)', 'divergent (95% CI)', 'total (95% CI)', 'scored', 'failed'], rows));
    if (summary.counts.failed > 0) {
      process.stdout.write(`${summary.counts.failed} row(s) failed: ${Object.entries(summary.counts.failedByCode).map(([code, n]) => `${code} ${n}`).join(', ')} (listed in the report).\n`);
    }
  }
  process.stdout.write(`Report: ${runPaths(out).reportHtml}\n`);
}
