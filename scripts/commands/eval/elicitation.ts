/**
 * `eval elicitation --dataset D --engine E --budget 8 --strategies active,random --repeats 5 --out DIR`
 * (issue 13): does asking actively beat random shots? Replays elicitation on a dataset's known
 * labels (src/core/elicitation/replay.ts): per persona, its train pairs are the questions and its
 * recorded preferences the answers; after each answer the persona is inferred again (G.5, the
 * core's one persona inference, on the engine's own model) and the persona's test pairs are
 * scored with it as prefix. Writes DIR/elicitation.json (settings) and DIR/elicitation.jsonl (one
 * fsynced row per step) and rebuilds the report (accuracy against answered questions per strategy,
 * with CIs over repeats).
 *
 * Deterministic for a seed. A killed or interrupted run resumes where it stopped when started
 * again with the same engine, dataset and scoring/persona settings (checked before the model
 * loads); budget, strategies, repeats and --max-personas may change between starts.
 * Exit: 0 when every step ran; 2 when input needed fixing or steps failed; 130 when interrupted.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { isAbortError, AppError } from '../../../src/core/errors.ts';
import { ElicitationRow, replayChain, VerdictMemo } from '../../../src/core/elicitation/replay.ts';
import { ELICITATION_STRATEGIES, ElicitationStrategy } from '../../../src/core/elicitation/strategy.ts';
import type { EvalReport } from '../../../src/core/eval/report.ts';
import { latestByKey } from '../../../src/core/eval/rows.ts';
import { MAX_PERSONA_SHOTS } from '../../../src/core/personaInference.ts';
import { PROMPTS_VERSION } from '../../../src/core/prompts.ts';
import { reportSkippedRows } from '../../lib/cliInput.ts';
import { JsonlAppender, readJsonFile, writeFileAtomic } from '../../lib/durableFiles.ts';
import { formatTable } from '../../lib/format.ts';
import { EXIT_USER_ERROR } from '../../lib/main.ts';
import { createReporter, defaultReporterMode, type Reporter } from '../../lib/reporter.ts';
import { loadEvalDataset, type NamedPair } from '../../lib/eval/dataset.ts';
import { openEngine, parseEngineSpec } from '../../lib/eval/engines/registry.ts';
import { ElicitationManifest, writeReport } from '../../lib/eval/report.ts';
import { interval } from '../../lib/eval/reportText.ts';
import { assertSameSettings, readJsonl, runPaths } from '../../lib/eval/runFiles.ts';
import { engineRecord } from './scoreRun.ts';
import {
  addCommonOptions,
  addEngineOptions,
  addPersonaDecodingOptions,
  addScoringOptions,
  engineOptions,
  parsePositive,
  personaDecoding,
  scoringLimits,
  type CommonOptions,
  type EngineFlags,
  type PersonaDecodingFlags,
  type ScoringFlags,
} from './flags.ts';
import { EXIT_INTERRUPTED, sessionId, withInterrupt } from './session.ts';

interface ElicitationOptions extends CommonOptions, EngineFlags, PersonaDecodingFlags, ScoringFlags {
  dataset: string;
  engine: string;
  budget: number;
  strategies: ElicitationStrategy[];
  repeats: number;
  maxPersonas?: number;
  bootstrap: number;
}

function parseStrategies(value: string): ElicitationStrategy[] {
  const names = value.split(',').map((name) => name.trim()).filter((name) => name !== '');
  const unknown = names.filter((name) => !ElicitationStrategy.safeParse(name).success);
  if (names.length === 0 || unknown.length > 0) throw new InvalidArgumentError(`expected a comma-separated list of ${ELICITATION_STRATEGIES.join(', ')}${unknown.length > 0 ? ` (unknown: ${unknown.join(', ')})` : ''}.`);
  return ELICITATION_STRATEGIES.filter((strategy) => names.includes(strategy));
}

function parseBudget(value: string): number {
  const parsed = parsePositive(value);
  // Every answer is shown to persona inference, which takes at most this many shots.
  if (parsed > MAX_PERSONA_SHOTS) throw new InvalidArgumentError(`expected at most ${MAX_PERSONA_SHOTS} (every answer is a shot of persona inference).`);
  return parsed;
}

export function elicitationCommand(): Command {
  const command = new Command('elicitation')
    .description('Active vs random persona elicitation replayed on a dataset\u2019s labels: test accuracy after each answered question, per strategy, with CIs over repeats (issue 13).')
    .requiredOption('--dataset <file|dir>', 'pairs with personas and train/test splits: train pairs are the questions, their labels the answers')
    .requiredOption('--engine <spec>', 'local:<model dir>, openai:<baseUrl>#<model> (prompt log-probs needed), webllm:<catalog id> or browser:<catalog id>[@wasm|@webgpu]')
    .option('--budget <n>', `questions asked per persona (at most ${MAX_PERSONA_SHOTS})`, parseBudget, 8)
    .option('--strategies <list>', `comma-separated: ${ELICITATION_STRATEGIES.join(', ')}`, parseStrategies, [...ELICITATION_STRATEGIES])
    .option('--repeats <n>', 'replays per strategy, each with its own seed (the CIs are over repeats)', parsePositive, 5)
    .option('--max-personas <n>', 'replay only the first n personas of the dataset', parsePositive)
    .option('--bootstrap <n>', 'bootstrap resamples for the CIs over repeats', parsePositive, 1000)
    .requiredOption('--out <dir>', 'output folder (shared with eval for one report; an existing replay there is resumed)');
  addScoringOptions(command, 'aggregation of token log-probs (margins and accuracy)');
  addCommonOptions(command);
  addEngineOptions(command);
  addPersonaDecodingOptions(command);
  return command.action(async (options: ElicitationOptions) => {
    process.exitCode = await withInterrupt((signal) => runElicitation(options, signal));
  });
}

interface Replayed {
  persona: string;
  pool: NamedPair[];
  test: NamedPair[];
}

async function runElicitation(options: ElicitationOptions, signal: AbortSignal): Promise<number> {
  const limits = scoringLimits(options);
  const reporter = createReporter(options.quiet ? 'quiet' : defaultReporterMode());
  const out = resolve(options.out);
  const paths = runPaths(out);
  const spec = parseEngineSpec(options.engine);
  const dataset = await loadEvalDataset(options.dataset, reporter);
  const personas = replayedPersonas(dataset.names, dataset.pairs, options.maxPersonas, reporter);
  if (personas.length === 0) {
    throw new AppError('invalid-input', `${options.dataset} has no persona with both train pairs (the questions) and test pairs (to measure accuracy): mark pairs "split": "train" or "test".`);
  }
  const settings: ElicitationManifest['settings'] = {
    budget: options.budget,
    strategies: options.strategies,
    repeats: options.repeats,
    seed: options.seed,
    convention: options.convention,
    norm: options.norm,
    limits,
    persona: personaDecoding(options),
    bootstrapResamples: options.bootstrap,
    promptsVersion: PROMPTS_VERSION,
  };
  const previous = readJsonFile(paths.elicitationManifest, ElicitationManifest);
  const dataRecord = { source: dataset.source, fingerprint: dataset.fingerprint };
  // Checked before the model loads: what would change a step that is already written.
  if (previous) assertResumable(previous, { ...previous, dataset: dataRecord, engine: { ...previous.engine, spec: spec.text }, settings }, out);
  await mkdir(out, { recursive: true });
  const { rows: written, repaired } = await readJsonl(paths.elicitation, ElicitationRow);
  if (repaired) reporter.warn(`${paths.elicitation}: cut off a torn last line left by an interrupted run.`);

  const engine = await openEngine(spec, engineOptions(options), reporter);
  let interrupted: boolean;
  try {
    const manifest: ElicitationManifest = { format: 'wikipersona-eval-elicitation', version: 1, dataset: dataRecord, engine: engineRecord(spec.text, engine), personas: personas.map((entry) => entry.persona), settings };
    if (previous) assertResumable(previous, manifest, out);
    writeFileAtomic(paths.elicitationManifest, `${JSON.stringify(manifest, null, 2)}\n`);
    interrupted = await replayAll(options, personas, latestByKey(written), { engine, paths, reporter, signal, limits });
  } finally {
    await engine.dispose();
  }
  const report = await writeReport(out);
  printCurve(report, paths.reportHtml);
  reportSkippedRows(reporter, dataset.skipped);
  if (interrupted) {
    reporter.warn(`Interrupted: re-run the same command to resume (finished steps are kept in ${paths.elicitation}).`);
    return EXIT_INTERRUPTED;
  }
  return (report.elicitation?.counts.failedSteps ?? 0) > 0 || dataset.invalidRows > 0 ? EXIT_USER_ERROR : 0;
}

function assertResumable(previous: ElicitationManifest, next: ElicitationManifest, out: string): void {
  const persona = (manifest: ElicitationManifest) => JSON.stringify(manifest.settings.persona);
  assertSameSettings(
    [
      ['engine', previous.engine.spec, next.engine.spec],
      ['chat template', previous.engine.chatTemplate, next.engine.chatTemplate],
      ['dataset (fingerprint of its pairs)', previous.dataset.fingerprint, next.dataset.fingerprint],
      ['--seed', previous.settings.seed, next.settings.seed],
      ['--convention', previous.settings.convention, next.settings.convention],
      ['--norm', previous.settings.norm, next.settings.norm],
      ['truncation limits', JSON.stringify(previous.settings.limits), JSON.stringify(next.settings.limits)],
      ['persona inference settings', persona(previous), persona(next)],
      ['prompts version', previous.settings.promptsVersion, next.settings.promptsVersion],
    ],
    out,
  );
}

/** Personas with both splits, in dataset order (the first `max` of them); the others are named in a warning. */
function replayedPersonas(names: readonly string[], pairs: readonly NamedPair[], max: number | undefined, reporter: Reporter): Replayed[] {
  const usable = names.flatMap((persona): Replayed[] => {
    const pool = pairs.filter((pair) => pair.persona === persona && pair.split === 'train');
    const test = pairs.filter((pair) => pair.persona === persona && pair.split === 'test');
    if (pool.length === 0 || test.length === 0) {
      reporter.warn(`${persona} is left out: it has ${pool.length} train and ${test.length} test pair(s), and elicitation needs both.`);
      return [];
    }
    return [{ persona, pool, test }];
  });
  return max === undefined ? usable : usable.slice(0, max);
}

interface ReplayContext {
  engine: Awaited<ReturnType<typeof openEngine>>;
  paths: ReturnType<typeof runPaths>;
  reporter: Reporter;
  signal: AbortSignal;
  limits: { maxLength: number; maxPromptLength: number } | null;
}

/** Every chain, persona by persona (the score memo holds one persona's prompts); true when interrupted. */
async function replayAll(options: ElicitationOptions, personas: readonly Replayed[], written: readonly ElicitationRow[], context: ReplayContext): Promise<boolean> {
  const { engine, paths, reporter, signal, limits } = context;
  const session = sessionId();
  const memo = new VerdictMemo();
  const stepsOf = (entry: Replayed) => Math.min(options.budget, entry.pool.length) + 1;
  const total = personas.reduce((sum, entry) => sum + stepsOf(entry), 0) * options.strategies.length * options.repeats;
  const doneKeys = new Set(written.map((row) => row.key));
  let done = personas.reduce((sum, entry) => sum + written.filter((row) => row.persona === entry.persona && row.step < stepsOf(entry) && row.repeat < options.repeats && options.strategies.includes(row.strategy)).length, 0);
  if (done > 0) reporter.info(`Resuming in ${paths.elicitation}: ${done} of ${total} steps already written.`);
  const rows = JsonlAppender.open(paths.elicitation);
  reporter.start('Replaying elicitation (steps)', total);
  try {
    for (const entry of personas) {
      memo.clear();
      for (let repeat = 0; repeat < options.repeats; repeat++) {
        for (const strategy of options.strategies) {
          await replayChain({
            engine,
            strategy,
            repeat,
            persona: entry.persona,
            pool: entry.pool,
            test: entry.test,
            budget: options.budget,
            seed: options.seed,
            inference: personaDecoding(options),
            scoring: { convention: options.convention, aggregation: options.norm, ...(limits ? { limits } : {}) },
            memo,
            done: written.filter((row) => row.persona === entry.persona && row.repeat === repeat && row.strategy === strategy && doneKeys.has(row.key)),
            session,
            signal,
            onRow: async (row) => {
              await rows.append(row);
              if (row.failure) reporter.warn(`${row.key}: no persona (${row.failure.reason})`);
              reporter.tick(++done);
            },
          });
        }
      }
    }
    return false;
  } catch (error) {
    if (!isAbortError(error)) throw error;
    return true;
  } finally {
    reporter.stop();
    await rows.close();
  }
}

function printCurve(report: EvalReport, reportPath: string): void {
  const elicitation = report.elicitation;
  if (elicitation) {
    const strategies = elicitation.curves.map((curve) => curve.strategy);
    const shotCounts = [...new Set(elicitation.curves.flatMap((curve) => curve.points.map((point) => point.shots)))].sort((a, b) => a - b);
    const both = strategies.length === 2;
    const rows = shotCounts.map((shots) => [
      String(shots),
      ...strategies.map((strategy) => interval(elicitation.curves.find((curve) => curve.strategy === strategy)?.points.find((point) => point.shots === shots)?.meanOfRepeats)),
      ...(both ? [interval(elicitation.activeMinusRandom.find((entry) => entry.shots === shots))] : []),
    ]);
    process.stdout.write(formatTable(['answered', ...strategies.map((strategy) => `${strategy} (95% CI)`), ...(both ? ['active − random (95% CI)'] : [])], rows));
    if (elicitation.counts.failedSteps > 0) process.stdout.write(`${elicitation.counts.failedSteps} step(s) got no persona (listed in the report).\n`);
  }
  process.stdout.write(`Report: ${reportPath}\n`);
}
