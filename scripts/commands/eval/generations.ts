/**
 * `eval generations --dataset D --engine [label=]E ... --judge J --out DIR`: personalized vs
 * unprefixed generations judged pairwise with G.4 in both orders: win rates (Table 3) and the
 * judge's self-agreement. Rows (DIR/generations.jsonl, DIR/judgements.jsonl) are appended as they
 * finish, so a killed run resumes; contestants may be added to a finished comparison.
 * Exit: 0 when every comparison was judged; 2 when input needed fixing or some failed; 130 when
 * interrupted.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import type { Engine } from '../../../src/core/engine.ts';
import { AppError, isAbortError } from '../../../src/core/errors.ts';
import { selectQuestions, type Contestant } from '../../../src/core/eval/generations.ts';
import { parsePrefixList, type EvalPrefix } from '../../../src/core/eval/prefixes.ts';
import type { EvalReport } from '../../../src/core/eval/report.ts';
import { GenerationRow, JudgementRow } from '../../../src/core/eval/rows.ts';
import { reportSkippedRows, selectSplit } from '../../lib/cliInput.ts';
import { formatTable } from '../../lib/format.ts';
import { EXIT_USER_ERROR } from '../../lib/main.ts';
import { JsonlAppender, readJsonFile, writeFileAtomic } from '../../lib/durableFiles.ts';
import { createReporter, defaultReporterMode } from '../../lib/reporter.ts';
import { formatStats, openChatRole, type ChatRoleProvider } from '../../lib/eval/chatRoles.ts';
import { loadEvalDataset, type NamedPair } from '../../lib/eval/dataset.ts';
import { openEngine, parseEngineSpec, type CliEngineSpec } from '../../lib/eval/engines/registry.ts';
import { runGenerations, type GenerationSettings } from '../../lib/eval/generationsRunner.ts';
import { assertPrefixRoles, buildPrefixes, type BuiltPrefixes } from '../../lib/eval/prefixBuilder.ts';
import { GenerationsManifest, writeReport } from '../../lib/eval/report.ts';
import { num, percent } from '../../lib/eval/reportText.ts';
import { readJsonl, runPaths } from '../../lib/eval/runFiles.ts';
import {
  addCommonOptions,
  addEngineOptions,
  addPrefixOptions,
  collect,
  engineOptions,
  parseNonNegative,
  parseNumber,
  parsePositive,
  parsePrefixes,
  personaGeneration,
  type CommonOptions,
  type EngineFlags,
  type PrefixFlags,
} from './flags.ts';
import { EXIT_INTERRUPTED, runPrefixFile, sessionId, withInterrupt } from './session.ts';

/** The run's GenerationSettings come straight from these flags (the seed from CommonOptions). */
interface GenerationsCliOptions extends CommonOptions, EngineFlags, PrefixFlags, Omit<GenerationSettings, 'seed'> {
  dataset: string;
  engine: string[];
  prefixes: EvalPrefix[];
  judge: string;
  questionsPerPersona: number;
  questionType: 'personal' | 'divergent' | 'any';
}

export function generationsCommand(): Command {
  const command = new Command('generations')
    .description('Generations with and without a prefix, judged pairwise by a judge model in both answer orders: win rates (Table 3) and self-agreement.')
    .requiredOption('--dataset <file|dir>', 'pairs: questions are drawn from the test split')
    .addOption(new Option('--engine <[label=]spec>', 'a generating engine (repeat for several, e.g. --engine Z=local:zephyr --engine MT=local:mt)').argParser(collect).makeOptionMandatory())
    .requiredOption('--judge <spec>', 'the judge: openai:<baseUrl>#<model> (or local:<dir>)')
    .addOption(new Option('--prefixes <list>', 'prefix strategies each engine answers with').argParser(parsePrefixes).default(parsePrefixList('none,persona-gpt4'), 'none,persona-gpt4'))
    .option('--questions-per-persona <n>', 'test questions per persona (the paper: 2)', parsePositive, 2)
    .addOption(new Option('--question-type <type>', 'which questions').choices(['personal', 'divergent', 'any']).default('any'))
    .option('--max-new-tokens <n>', 'generation length (App. N: 512)', parsePositive, 512)
    .option('--temperature <t>', 'generation temperature (App. N: 1.0)', parseNumber, 1)
    .option('--judge-temperature <t>', 'judge temperature (the authors: 1.0)', parseNumber, 1)
    .option('--judge-max-tokens <n>', 'judge answer length', parsePositive, 600)
    .option('--judge-concurrency <n>', 'judge calls in flight', parsePositive, 4)
    .option('--judge-retries <n>', 'new attempts for a comparison whose call or verdict failed', parseNonNegative, 1);
  command.requiredOption('--out <dir>', 'output folder (shared with eval and eval personas for one report)');
  addCommonOptions(command);
  addEngineOptions(command);
  addPrefixOptions(command);
  return command.action(async (options: GenerationsCliOptions) => {
    process.exitCode = await withInterrupt((signal) => runGenerationsCommand(options, signal));
  });
}

/** What a comparison knows before any model loads. */
type PreparedComparison = Awaited<ReturnType<typeof prepareComparison>>;

async function runGenerationsCommand(options: GenerationsCliOptions, signal: AbortSignal): Promise<number> {
  const comparison = await prepareComparison(options);
  const { reporter, paths } = comparison;
  const engines = new Map<string, Engine>();
  let judge: ChatRoleProvider | undefined;
  let personaModel: ChatRoleProvider | undefined;
  try {
    for (const { label, spec } of comparison.engineSpecs) engines.set(label, await openEngine(spec, engineOptions(options), reporter));
    // No request cache: the row files are the record of finished calls, and a cached reply that
    // failed to parse would be served again when the comparison is re-asked.
    judge = await openChatRole(options.judge, { ...engineOptions(options), concurrency: options.judgeConcurrency }, reporter);
    if (options.personaModel) personaModel = await openChatRole(options.personaModel, engineOptions(options), reporter);
    const built: BuiltPrefixes = await buildPrefixes({
      dataset: comparison.dataset,
      prefixes: options.prefixes,
      seed: options.seed,
      ...(comparison.existing ? { existing: comparison.existing } : {}),
      // The "persona" prefix is inferred by the first engine's model (the paper infers with the model it evaluates).
      engine: engines.values().next().value as Engine,
      ...(personaModel ? { personaModel } : {}),
      generation: personaGeneration(options),
      outPath: paths.prefixes,
      reporter,
      signal,
    });
    const interrupted = await generateAndJudge(comparison, engines, judge, built, signal);
    reporter.info(formatStats(judge.id, judge.stats()));
    const report = await writeReport(comparison.out);
    printWinRates(report);
    process.stdout.write(`Report: ${paths.reportHtml}\n`);
    reportSkippedRows(reporter, comparison.dataset.skipped);
    if (interrupted) return EXIT_INTERRUPTED;
    return (report.generations?.failures.length ?? 0) > 0 || comparison.dataset.invalidRows > 0 ? EXIT_USER_ERROR : 0;
  } finally {
    await judge?.close();
    await personaModel?.close();
    for (const engine of engines.values()) await engine.dispose();
  }
}

/** Reads the input, selects the questions and writes the manifest (checked against the folder's on a resume). */
async function prepareComparison(options: GenerationsCliOptions) {
  const reporter = createReporter(options.quiet ? 'quiet' : defaultReporterMode());
  const out = resolve(options.out);
  const paths = runPaths(out);
  const engineSpecs = parseLabelledEngines(options.engine);
  const judgeSpec = parseEngineSpec(options.judge);
  const dataset = await loadEvalDataset(options.dataset, reporter);
  const testPairs = selectSplit(dataset.pairs, 'auto') as NamedPair[];
  const questions = selectQuestions(testPairs, {
    perPersona: options.questionsPerPersona,
    seed: options.seed,
    ...(options.questionType === 'any' ? {} : { type: options.questionType }),
  });
  if (questions.length === 0) throw new AppError('invalid-input', `${options.dataset} has no ${options.questionType === 'any' ? '' : `${options.questionType} `}test questions.`);
  const contestants: Contestant[] = engineSpecs.flatMap(({ label }) => options.prefixes.map((prefix) => ({ label: `${label}/${prefix}`, engine: label, prefix })));
  await mkdir(out, { recursive: true });
  const existing = await runPrefixFile(paths.prefixes, [options.prefixFile]);
  assertPrefixRoles(dataset, options.prefixes, existing, { engine: true, personaModel: options.personaModel !== undefined });

  const manifest: GenerationsManifest = {
    format: 'wikipersona-eval-generations',
    version: 1,
    judge: judgeSpec.text,
    seed: options.seed,
    contestants,
    questions,
    settings: { temperature: options.temperature, maxNewTokens: options.maxNewTokens, judgeTemperature: options.judgeTemperature, judgeMaxTokens: options.judgeMaxTokens },
  };
  const previous = readJsonFile(paths.generationsManifest, GenerationsManifest);
  if (previous) {
    assertSameGenerations(previous, manifest, out);
    // Contestants may be added to a finished comparison; earlier ones keep their rows.
    manifest.contestants = [...previous.contestants, ...contestants.filter((contestant) => !previous.contestants.some((before) => before.label === contestant.label))];
  }
  writeFileAtomic(paths.generationsManifest, `${JSON.stringify(manifest, null, 2)}\n`);
  return { options, reporter, out, paths, engineSpecs, dataset, questions, existing, manifest };
}

/** Generates what is missing and judges it, appending rows; true when Ctrl+C stopped it. */
async function generateAndJudge(comparison: PreparedComparison, engines: ReadonlyMap<string, Engine>, judge: ChatRoleProvider, built: BuiltPrefixes, signal: AbortSignal): Promise<boolean> {
  const { options, paths } = comparison;
  const [previousGenerations, previousJudgements] = await Promise.all([readJsonl(paths.generations, GenerationRow), readJsonl(paths.judgements, JudgementRow)]);
  const generationRows = JsonlAppender.open(paths.generations);
  const judgementRows = JsonlAppender.open(paths.judgements);
  try {
    await runGenerations({
      contestants: comparison.manifest.contestants,
      engines,
      material: built.material,
      ...(built.shuffle ? { shuffle: built.shuffle } : {}),
      questions: comparison.questions,
      judge,
      settings: {
        maxNewTokens: options.maxNewTokens,
        temperature: options.temperature,
        judgeTemperature: options.judgeTemperature,
        judgeMaxTokens: options.judgeMaxTokens,
        judgeConcurrency: options.judgeConcurrency,
        judgeRetries: options.judgeRetries,
        seed: options.seed,
      },
      previous: { generations: previousGenerations.rows, judgements: previousJudgements.rows },
      generationRows,
      judgementRows,
      session: sessionId(),
      reporter: comparison.reporter,
      signal,
    });
    return false;
  } catch (error) {
    if (!isAbortError(error)) throw error;
    return true;
  } finally {
    await generationRows.close();
    await judgementRows.close();
  }
}

function printWinRates(report: EvalReport): void {
  const generations = report.generations;
  if (!generations) return;
  const { matrix } = generations;
  process.stdout.write(
    formatTable(
      ['row beats column (%)', ...matrix.labels, 'avg'],
      matrix.labels.map((label, i) => [label, ...matrix.labels.map((_, j) => (i === j ? '–' : percent(matrix.cells[i]?.[j]?.winRate))), percent(matrix.rowAverage[i])]),
    ),
  );
  process.stdout.write(`Judge self-agreement across orders: ${generations.agreement.agreeing}/${generations.agreement.pairs} (${num(generations.agreement.rate)}).\n`);
}

function assertSameGenerations(previous: GenerationsManifest, next: GenerationsManifest, out: string): void {
  const checks: [string, unknown, unknown][] = [
    ['judge', previous.judge, next.judge],
    ['--seed', previous.seed, next.seed],
    ['generation and judge settings', JSON.stringify(previous.settings), JSON.stringify(next.settings)],
    ['question set', JSON.stringify(previous.questions), JSON.stringify(next.questions)],
  ];
  for (const [what, before, now] of checks) {
    if (before !== now) throw new AppError('invalid-input', `${out} holds generations with another ${what}: resume with the same settings, or use a new --out folder.`);
  }
}

function parseLabelledEngines(values: readonly string[]): { label: string; spec: CliEngineSpec }[] {
  const engines = values.map((value, index) => {
    const match = /^([A-Za-z0-9_.-]+)=(.+)$/.exec(value);
    return { label: match?.[1] ?? `E${index + 1}`, spec: parseEngineSpec(match?.[2] ?? value) };
  });
  if (new Set(engines.map((engine) => engine.label)).size !== engines.length) throw new AppError('invalid-input', 'Engine labels must be distinct: write --engine A=<spec> --engine B=<spec>.');
  return engines;
}
