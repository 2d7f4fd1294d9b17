/**
 * `eval safety --dataset <RewardBench file> --engine <spec | fold=spec,…> --prefixes persona-gpt4
 * --out DIR`: the alignment tax of §4.3 (Figure 7). Every pair of every subset is scored without a
 * prefix and with each persona's prefix (texts from --prefix-file, DIR/prefixes.json or the
 * baseline run's), summing token log-probabilities (the paper's footnote 9; --norm to change).
 * With one engine per fold, a persona's prefix is scored by the model of the fold that held it out
 * ("persona not trained") and no prefix by every fold's model. Rows go to DIR/safety.jsonl (one
 * fsynced line each: a killed run resumes), the summary and report are rebuilt from them.
 *
 * Exit: 0 when every row scored; 2 when input needed fixing or rows failed; 130 when interrupted.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { Aggregation } from '../../../src/core/aggregate.ts';
import { AppError, toSerializedError } from '../../../src/core/errors.ts';
import { sameName } from '../../../src/core/eval/folds.ts';
import { sortLongestFirst, type ScoringJob, type UnavailableJob } from '../../../src/core/eval/jobs.ts';
import { evalPrefixSpec, parsePrefixList, type EvalPrefix, type PersonaMaterial } from '../../../src/core/eval/prefixes.ts';
import { EvalPairRow, latestByKey } from '../../../src/core/eval/rows.ts';
import { NO_PREFIX_OWNER } from '../../../src/core/eval/safety.ts';
import { applyPrefix } from '../../../src/core/prefixes.ts';
import { AUTHORS_LIMITS, Convention } from '../../../src/core/scoringInput.ts';
import { NO_SKIPPED_ROWS } from '../../lib/cliInput.ts';
import { JsonlAppender, readJsonFile, writeFileAtomic } from '../../lib/durableFiles.ts';
import { formatTable } from '../../lib/format.ts';
import { EXIT_USER_ERROR } from '../../lib/main.ts';
import { createReporter, defaultReporterMode } from '../../lib/reporter.ts';
import { openEngine, type CliEngineSpec } from '../../lib/eval/engines/registry.ts';
import { loadFolds, parseEngineChoice } from '../../lib/eval/folds.ts';
import { buildPrefixes } from '../../lib/eval/prefixBuilder.ts';
import { SafetyManifest, writeReport } from '../../lib/eval/report.ts';
import { num, prefixLabel } from '../../lib/eval/reportText.ts';
import { readRewardBench } from '../../lib/eval/rewardBench.ts';
import { runScoring, type ScoringRunResult } from '../../lib/eval/runner.ts';
import { readJsonl, RunManifest, runPaths } from '../../lib/eval/runFiles.ts';
import { addCommonOptions, addEngineOptions, collect, engineOptions, parsePrefixes, type CommonOptions, type EngineFlags } from './flags.ts';
import { EXIT_INTERRUPTED, runPrefixFile, sessionId, withInterrupt } from './session.ts';
import { PERSONA_INFERENCE_DEFAULTS } from '../../../src/core/personaInference.ts';

interface SafetyOptions extends CommonOptions, EngineFlags {
  dataset: string;
  engine?: string[];
  engines?: string;
  folds?: string;
  prefixes: EvalPrefix[];
  prefixFile?: string;
  baselineRun?: string;
  personas?: string;
  subsets?: string;
  norm: Aggregation;
  convention: Convention;
}

export function safetyCommand(): Command {
  const command = new Command('safety')
    .description('Alignment tax (§4.3, Figure 7): RewardBench accuracy per subset with and without each persona\u2019s prefix, summed log-probs.')
    .requiredOption('--dataset <file>', 'RewardBench pairs: the published .parquet, JSON or JSON Lines (prompt, chosen, rejected, subset)')
    .option('--engine <spec>', 'one engine, or one per fold as cv0=<spec>,cv1=<spec> (repeatable)', collect)
    .option('--engines <file>', 'one engine per fold: JSON {"cv0": "<spec>", …}')
    .option('--folds <file|dir>', 'folds for fold engines (default: the run folder\u2019s, or the baseline run\u2019s dataset folder)')
    .addOption(new Option('--prefixes <list>', 'prefixes besides none (the paper: persona-gpt4)').argParser(parsePrefixes).default(parsePrefixList('none,persona-gpt4'), 'none,persona-gpt4'))
    .option('--prefix-file <file>', 'prefix texts (default: <out>/prefixes.json, else the baseline run\u2019s)')
    .option('--baseline-run <dir>', 'the baseline model\u2019s eval folder: its prefix texts, and its no-prefix safety rows as the reference line')
    .option('--personas <names>', 'comma-separated personas whose prefixes are scored (default: every persona with texts)')
    .option('--subsets <names>', 'comma-separated RewardBench subsets to score (default: all present)')
    .addOption(new Option('--norm <how>', 'aggregation of token log-probs (the paper: sum)').choices(Aggregation.options).default('sum'))
    .addOption(new Option('--convention <name>', 'scoring convention').choices(Convention.options).default('authors'))
    .requiredOption('--out <dir>', 'output folder (shared with eval for one report)');
  addCommonOptions(command);
  addEngineOptions(command);
  return command.action(async (options: SafetyOptions) => {
    process.exitCode = await withInterrupt((signal) => runSafety(options, signal));
  });
}

function list(value: string | undefined): string[] | undefined {
  const names = value?.split(',').map((name) => name.trim()).filter((name) => name !== '');
  return names && names.length > 0 ? names : undefined;
}

async function runSafety(options: SafetyOptions, signal: AbortSignal): Promise<number> {
  if (!options.engine?.length && !options.engines) throw new AppError('invalid-input', 'eval safety needs --engine (or --engines).');
  const reporter = createReporter(options.quiet ? 'quiet' : defaultReporterMode());
  const out = resolve(options.out);
  const paths = runPaths(out);
  const choice = await parseEngineChoice(options.engine ?? [], options.engines);
  const rewardBench = await readRewardBench(options.dataset, reporter, list(options.subsets));
  const baselineDir = options.baselineRun ? resolve(options.baselineRun) : undefined;
  const baselinePaths = baselineDir ? runPaths(baselineDir) : undefined;
  await mkdir(out, { recursive: true });
  const prefixes = options.prefixes.includes('none') ? options.prefixes : (['none', ...options.prefixes] as EvalPrefix[]);
  const texts = await runPrefixFile(paths.prefixes, [options.prefixFile, baselinePaths?.prefixes]);
  const wanted = list(options.personas);
  const names = (texts?.personas ?? []).map((persona) => persona.name).filter((name) => !wanted || wanted.some((candidate) => sameName(candidate, name)));
  if (prefixes.some((prefix) => prefix !== 'none') && names.length === 0) {
    throw new AppError('invalid-input', `No persona texts for ${prefixes.filter((prefix) => prefix !== 'none').join(', ')}: pass --prefix-file (a prefix file written by eval) or --baseline-run${wanted ? `, and check --personas ${wanted.join(',')}` : ''}.`);
  }
  const built = await buildPrefixes({
    dataset: { source: options.dataset, pairs: [], personas: texts?.personas ?? [], names, fingerprint: rewardBench.fingerprint, invalidRows: 0, skipped: NO_SKIPPED_ROWS },
    prefixes,
    seed: options.seed,
    ...(texts ? { existing: texts } : {}),
    generation: { ...PERSONA_INFERENCE_DEFAULTS, maxNewTokens: 1, temperature: 1, shots: 1 },
    outPath: paths.safetyPrefixes,
    reporter,
    signal,
  });
  const runFolds = choice.kind === 'folds' ? [...choice.specs.keys()] : undefined;
  const folderRun = readJsonFile(paths.manifest, RunManifest);
  const heldOut = runFolds
    ? options.folds || !folderRun?.folds
      ? (await loadFolds(options.folds, options.folds ?? baselineDir ?? out, names)).heldOut
      : folderRun.folds.heldOut
    : undefined;
  const engines: [string | undefined, CliEngineSpec][] = choice.kind === 'folds' ? [...choice.specs] : [[undefined, choice.spec]];
  const manifest: SafetyManifest = {
    format: 'wikipersona-eval-safety',
    version: 1,
    dataset: { source: rewardBench.source, fingerprint: rewardBench.fingerprint, items: rewardBench.items.length },
    engines: Object.fromEntries(engines.map(([fold, spec]) => [fold ?? '', spec.text])),
    norm: options.norm,
    convention: options.convention,
    prefixes,
    personas: names,
    ...(baselineDir ? { baselineRun: baselineDir } : {}),
  };
  const previous = readJsonFile(paths.safetyManifest, SafetyManifest);
  if (previous && (previous.dataset.fingerprint !== manifest.dataset.fingerprint || previous.norm !== manifest.norm || previous.convention !== manifest.convention || JSON.stringify(previous.engines) !== JSON.stringify(manifest.engines))) {
    throw new AppError('invalid-input', `${out} holds a safety run with another dataset, engine, --norm or --convention: resume with the same settings, or use a new --out folder.`);
  }
  writeFileAtomic(paths.safetyManifest, `${JSON.stringify(manifest, null, 2)}\n`);
  if (baselinePaths) {
    const { rows } = await readJsonl(baselinePaths.safety, EvalPairRow);
    writeFileAtomic(paths.baselineSafety, latestByKey(rows).filter((row) => row.prefix === 'none').map((row) => `${JSON.stringify(row)}\n`).join(''));
  }

  const done = new Set(latestByKey((await readJsonl(paths.safety, EvalPairRow)).rows).map((row) => row.key));
  const total: ScoringRunResult = { scored: 0, failed: 0, interrupted: false, seconds: 0 };
  for (const [fold, spec] of engines) {
    const owners = [NO_PREFIX_OWNER, ...names.filter((name) => !heldOut || !fold || heldOut[fold]?.some((candidate) => sameName(candidate, name)))];
    const plan = planSafety(rewardBench.items, prefixes, owners, built.material, fold, done);
    if (plan.jobs.length + plan.unavailable.length === 0) continue;
    reporter.info(`${fold ? `Fold ${fold}: ` : ''}${plan.jobs.length} safety row(s) to score with ${spec.text}`);
    const engine = await openEngine(spec, engineOptions(options), reporter);
    const rows = JsonlAppender.open(paths.safety);
    try {
      const result = await runScoring({ engine, plan, settings: { convention: options.convention, aggregation: options.norm, limits: { ...AUTHORS_LIMITS } }, rows, session: sessionId(), reporter, signal });
      total.scored += result.scored;
      total.failed += result.failed;
      if (result.interrupted) {
        total.interrupted = true;
        break;
      }
    } finally {
      await rows.close();
      await engine.dispose();
    }
  }
  const report = await writeReport(out);
  printSafety(report.safety);
  process.stdout.write(`Report: ${paths.reportHtml}\n`);
  if (total.interrupted) return EXIT_INTERRUPTED;
  return (report.safety?.counts.failed ?? 0) > 0 || rewardBench.invalid > 0 ? EXIT_USER_ERROR : 0;
}

/** Jobs for every (prefix, prefix owner, pair) not yet written; no prefix once per fold. */
function planSafety(
  items: Awaited<ReturnType<typeof readRewardBench>>['items'],
  prefixes: readonly EvalPrefix[],
  owners: readonly string[],
  material: ReadonlyMap<string, PersonaMaterial>,
  fold: string | undefined,
  done: ReadonlySet<string>,
) {
  const jobs: ScoringJob[] = [];
  const unavailable: UnavailableJob[] = [];
  for (const prefix of prefixes) {
    for (const owner of owners) {
      if ((prefix === 'none') !== (owner === NO_PREFIX_OWNER)) continue;
      for (const item of items) {
        const key = `${fold ?? ''}|${prefix}|${owner}|${item.id}`;
        if (done.has(key)) continue;
        const pair = { id: item.id, persona: owner, prompt: item.prompt, chosen: item.chosen, rejected: item.rejected };
        const routing = fold ? { routing: { fold, personaSeen: false, prefixFromSeen: false } } : {};
        try {
          const { spec } = prefix === 'none' ? { spec: { kind: 'none' as const } } : evalPrefixSpec(prefix, owner, material);
          const userContent = applyPrefix(spec, item.prompt);
          jobs.push({ id: key, key, userContent, chosen: item.chosen, rejected: item.rejected, pair, prefix, prefixFrom: owner, subset: item.subset, ...routing, length: userContent.length + Math.max(item.chosen.length, item.rejected.length) });
        } catch (error) {
          const { code, message } = toSerializedError(error);
          unavailable.push({ key, pair, prefix, prefixFrom: owner, subset: item.subset, ...routing, code, reason: message });
        }
      }
    }
  }
  return { jobs: sortLongestFirst(jobs), unavailable };
}

function printSafety(summary: Awaited<ReturnType<typeof writeReport>>['safety']): void {
  if (!summary) return;
  const rows = summary.entries.map((entry) => [
    entry.prefix === 'none' ? `no prefix${entry.fold ? ` (${entry.fold})` : ''}` : `${prefixLabel(entry.prefix)}: ${entry.persona ?? ''}${entry.fold ? ` (${entry.fold})` : ''}`,
    ...summary.subsets.map((subset) => {
      const cell = entry.subsets.find((candidate) => candidate.subset === subset);
      return cell ? `${num(cell.accuracy.estimate)}${cell.change ? ` (${cell.change.estimate >= 0 ? '+' : ''}${num(cell.change.estimate)})` : ''}` : '–';
    }),
  ]);
  process.stdout.write(formatTable(['prefix', ...summary.subsets], rows));
}
