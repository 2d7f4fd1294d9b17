/**
 * `eval`: the paper's tables from one command each, into one output folder.
 *
 * - `eval --dataset D --engine E --prefixes none,tag,few-shot,persona,name,gold --out DIR`: builds
 *   every prefix as the authors do (spec §3; texts kept in DIR/prefixes.json for reuse with
 *   --prefix-file), scores every test pair under every prefix (longest first, the shared prompt
 *   computed once per pair, one fsynced JSONL row per pair, so a killed run resumes where it
 *   stopped), and writes accuracy per prefix × question type with bootstrap CIs over personas
 *   (Figure 3/5), prefix sensitivity (Appendix L, with `shuffle-*` prefixes) and equity (Figure 6).
 * - `eval personas --out DIR [--prefix-file F]`: ROUGE-1 of prefix texts against gold and against
 *   a random persona's gold, word counts (Table 2), ROUGE-L examples (Table 11).
 * - `eval generations --dataset D --engine [label=]E ... --judge J --out DIR`: personalized vs
 *   unprefixed generations judged pairwise with G.4 in both orders: win rates (Table 3) and the
 *   judge's self-agreement.
 * Every subcommand rewrites DIR/summary.json, DIR/report.md and DIR/report.html from the row files.
 *
 * Inputs: a dataset (pair file or folder), engine specs (local:<dir>, openai:<baseUrl>#<model>,
 * webllm:<catalog id> or browser:<catalog id>[@wasm|@webgpu], which drive the page's own worker in
 * headless Chromium and need `npm run build` first), optional API roles (--persona-model, --judge).
 * Exit: 0 when every unit ran; 2 when input needed fixing or some units failed (they are rows
 * with a reason, counted in the summary and listed in the report); 130 when interrupted (Ctrl+C):
 * re-run the same command to resume.
 */
import { mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Aggregation } from '../../src/core/aggregate.ts';
import type { Engine } from '../../src/core/engine.ts';
import { AppError, isAbortError } from '../../src/core/errors.ts';
import { selectQuestions, type Contestant } from '../../src/core/eval/generations.ts';
import { planScoringJobs } from '../../src/core/eval/jobs.ts';
import type { PrefixFile } from '../../src/core/eval/prefixFile.ts';
import { parsePrefixList, sortPrefixes, type EvalPrefix } from '../../src/core/eval/prefixes.ts';
import { EvalPairRow, GenerationRow, JudgementRow, latestByKey } from '../../src/core/eval/rows.ts';
import type { EvalReport } from '../../src/core/eval/report.ts';
import { personaQuality } from '../../src/core/eval/personaQuality.ts';
import { importPersonas } from '../../src/core/personas.ts';
import { PROMPTS_VERSION } from '../../src/core/prompts.ts';
import { AUTHORS_LIMITS, Convention } from '../../src/core/scoringInput.ts';
import { parseInteger, readText, selectSplit, SPLIT_CHOICES, type SplitChoice } from '../lib/cliInput.ts';
import { formatTable } from '../lib/format.ts';
import { EXIT_USER_ERROR } from '../lib/main.ts';
import { createReporter, defaultReporterMode } from '../lib/reporter.ts';
import { loadEvalDataset, type NamedPair } from '../lib/eval/dataset.ts';
import { formatStats, openChatRole, type ChatRoleProvider } from '../lib/eval/chatRoles.ts';
import { openEngine, parseEngineSpec, type EngineOpenOptions } from '../lib/eval/engines/registry.ts';
import { runGenerations, type GenerationSettings } from '../lib/eval/generationsRunner.ts';
import { JsonlAppender, readJsonl, writeFileAtomic } from '../lib/eval/jsonl.ts';
import { assertPrefixRoles, assertSamePrefixes, AUTHORS_PERSONA_GENERATION, buildPrefixes, readPrefixFile, type BuiltPrefixes } from '../lib/eval/prefixBuilder.ts';
import { DEFAULT_SEED, GenerationsManifest, PersonasInput, readJsonFile, writeReport } from '../lib/eval/report.ts';
import { interval, num, percent, prefixLabel } from '../lib/eval/reportText.ts';
import { runScoring } from '../lib/eval/runner.ts';
import { assertResumable, RunManifest, runPaths } from '../lib/eval/runFiles.ts';

/** The shell's code for a run stopped by SIGINT. */
const EXIT_INTERRUPTED = 130;

interface CommonOptions {
  out: string;
  seed: number;
  quiet?: boolean;
}

interface EngineFlags {
  device: EngineOpenOptions['device'];
  dtype: EngineOpenOptions['dtype'];
  apiKeyEnv?: string;
}

interface PrefixFlags {
  prefixFile?: string;
  personaModel?: string;
  personaMaxTokens: number;
  personaTemperature: number;
  personaShots: number;
}

interface EvalCliOptions extends CommonOptions, EngineFlags, PrefixFlags {
  dataset: string;
  engine: string;
  prefixes: EvalPrefix[];
  convention: Convention;
  norm: Aggregation;
  split: SplitChoice;
  truncation: boolean;
  maxLength: number;
  maxPromptLength: number;
  bootstrap: number;
  retryFailed?: boolean;
}

interface PersonasCliOptions extends CommonOptions {
  prefixFile?: string;
  examples?: string;
}

/** The run's GenerationSettings come straight from these flags (the seed from CommonOptions). */
interface GenerationsCliOptions extends CommonOptions, EngineFlags, PrefixFlags, Omit<GenerationSettings, 'seed'> {
  dataset: string;
  engine: string[];
  prefixes: EvalPrefix[];
  judge: string;
  questionsPerPersona: number;
  questionType: 'personal' | 'divergent' | 'any';
}

export function evalCommand(): Command {
  const command = new Command('eval')
    .description('Batch evaluation: accuracy per prefix strategy (Fig. 3/5), sensitivity (App. L), equity (Fig. 6); subcommands for persona ROUGE (Tab. 2/11) and judged generations (Tab. 3).')
    .enablePositionalOptions()
    .option('--dataset <file|dir>', 'pairs: a file (JSON, JSONL, CSV) or a folder of the authors\u2019 train_*/test_* files')
    .option('--engine <spec>', 'local:<model dir>, openai:<baseUrl>#<model> (prompt log-probs needed), webllm:<catalog id> or browser:<catalog id>[@wasm|@webgpu] (the page\u2019s worker in headless Chromium; run `npm run build` first)')
    .addOption(new Option('--prefixes <list>', `comma-separated: ${['none', 'tag', 'few-shot', 'persona', 'persona-gpt4', 'name', 'gold', 'shuffle-<any>'].join(', ')}`).argParser(parsePrefixes).default(parsePrefixList('none,tag,few-shot,persona,name,gold'), 'none,tag,few-shot,persona,name,gold'))
    .option('--out <dir>', 'output folder (created; an existing run there is resumed)')
    .addOption(new Option('--convention <name>', 'scoring convention').choices(Convention.options).default('authors'))
    .addOption(new Option('--norm <how>', 'aggregation of token log-probs').choices(Aggregation.options).default('mean'))
    .addOption(new Option('--split <which>', 'pairs to score; auto = test pairs when there are any').choices(SPLIT_CHOICES).default('auto'))
    .option('--no-truncation', 'score whole sequences (only the context window limits them)')
    .option('--max-length <n>', 'prompt + longer answer, in tokens', parseInteger, AUTHORS_LIMITS.maxLength)
    .option('--max-prompt-length <n>', 'prompt tokens kept (from the end) when too long', parseInteger, AUTHORS_LIMITS.maxPromptLength)
    .option('--bootstrap <n>', 'bootstrap resamples for the CIs over personas', parsePositive, 1000)
    .option('--retry-failed', 'score again the pairs whose rows failed (the new row supersedes the old)');
  addCommonOptions(command);
  addEngineOptions(command);
  addPrefixOptions(command);
  command.action(async (options: EvalCliOptions) => {
    process.exitCode = await withInterrupt((signal) => runEval(options, signal));
  });
  command.addCommand(personasCommand().exitOverride());
  command.addCommand(generationsCommand().exitOverride());
  // Subcommands repeat eval's option names (--out, --seed, …). Unless every ancestor stops reading
  // options at the subcommand name, eval would take them and the subcommand would see none.
  // Commander (14.0.3, pinned) has no public getter for the setting, hence the read of its field;
  // the check turns a confusing "required option '--out' not specified" into what to fix.
  command.hook('preSubcommand', (thisCommand) => {
    for (let ancestor = thisCommand.parent; ancestor; ancestor = ancestor.parent) {
      if ((ancestor as unknown as { _enablePositionalOptions?: boolean })._enablePositionalOptions !== true) {
        throw new AppError('internal', 'eval subcommands need positional options: call .enablePositionalOptions() on the program that registers evalCommand().');
      }
    }
  });
  return command;
}

function personasCommand(): Command {
  const command = new Command('personas')
    .description('ROUGE-1 of prefix texts against the gold persona and a random persona\u2019s gold, word counts (Table 2), ROUGE-L examples (Table 11).')
    .option('--prefix-file <file>', 'persona texts: a prefix file written by eval (default <out>/prefixes.json) or the authors\u2019 personas.json')
    .option('--examples <names>', 'comma-separated personas shown in full with ROUGE-L (Table 11); default: the first two')
    .requiredOption('--out <dir>', 'output folder (shared with eval for one report)');
  addCommonOptions(command);
  return command.action(async (options: PersonasCliOptions) => {
    process.exitCode = await runPersonas(options);
  });
}

function generationsCommand(): Command {
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

function addCommonOptions(command: Command): void {
  command.option('--seed <n>', 'seed for shots, shuffles, random partners and bootstrap (the authors: 24)', parseInteger, DEFAULT_SEED).option('--quiet', 'no progress output (warnings still printed)');
}

function addEngineOptions(command: Command): void {
  command
    .addOption(new Option('--device <device>', 'ONNX Runtime device for local: engines').choices(['cpu', 'cuda']).default('cpu'))
    .addOption(new Option('--dtype <dtype>', 'weights file for local: engines').choices(['fp32', 'fp16', 'q8', 'q4']).default('fp32'))
    .option('--api-key-env <name>', 'environment variable holding the API key for openai: specs (never stored)');
}

function addPrefixOptions(command: Command): void {
  command
    .option('--prefix-file <file>', 'reuse prefix texts from a prefix file written by an earlier eval')
    .option('--persona-model <spec>', 'the API role writing persona-gpt4 (G.5) and gold (G.6) texts: openai:<baseUrl>#<model>')
    .option('--persona-max-tokens <n>', 'persona text length (the authors: 512)', parsePositive, AUTHORS_PERSONA_GENERATION.maxNewTokens)
    .option('--persona-temperature <t>', 'persona sampling temperature (the authors: 1.0)', parseNumber, AUTHORS_PERSONA_GENERATION.temperature)
    .option('--persona-shots <n>', 'train pairs shown for persona inference (the authors: 4, with y_l)', parsePositive, AUTHORS_PERSONA_GENERATION.shots);
}

// ---------------------------------------------------------------------------------------------
// eval

async function runEval(options: EvalCliOptions, signal: AbortSignal): Promise<number> {
  if (!options.dataset || !options.engine || !options.out) {
    throw new AppError('invalid-input', 'eval needs --dataset, --engine and --out (or a subcommand: personas, generations).');
  }
  if (options.truncation && options.maxPromptLength >= options.maxLength) {
    throw new AppError('invalid-input', `--max-prompt-length (${options.maxPromptLength}) must be below --max-length (${options.maxLength}).`);
  }
  const reporter = createReporter(options.quiet ? 'quiet' : defaultReporterMode());
  const out = resolve(options.out);
  const paths = runPaths(out);
  const spec = parseEngineSpec(options.engine);
  const dataset = await loadEvalDataset(options.dataset, reporter);
  const toScore = selectSplit(dataset.pairs, options.split) as NamedPair[];
  if (toScore.length === 0) throw new AppError('invalid-input', `${options.dataset} has no ${options.split} pairs to score: choose another --split.`);
  await mkdir(out, { recursive: true });
  const existing = await runPrefixFile(paths.prefixes, options.prefixFile);
  assertPrefixRoles(dataset, options.prefixes, existing, { engine: true, personaModel: options.personaModel !== undefined });

  const limits = options.truncation ? { maxLength: options.maxLength, maxPromptLength: options.maxPromptLength } : null;
  const previous = existsSync(paths.manifest) ? await readJsonFile(paths.manifest, RunManifest, 'run manifest') : undefined;
  const settings: RunManifest['settings'] = { convention: options.convention, norm: options.norm, limits, split: options.split, seed: options.seed, bootstrapResamples: options.bootstrap, promptsVersion: PROMPTS_VERSION };
  const datasetInfo: RunManifest['dataset'] = { source: dataset.source, fingerprint: dataset.fingerprint, pairs: toScore.length, personas: dataset.names.length };
  // Everything but what only the loaded engine knows is checked first, so a refused resume loads no model.
  if (previous) assertResumable(previous, { ...previous, engine: { ...previous.engine, spec: spec.text }, dataset: datasetInfo, settings }, out);
  const engine = await openEngine(spec, engineOptions(options), reporter);
  let personaModel: ChatRoleProvider | undefined;
  try {
    const manifest: RunManifest = {
      format: 'wikipersona-eval-run',
      version: 1,
      engine: { spec: spec.text, backend: engine.info.backend, model: engine.info.model, method: engine.info.scoringMethod, chatTemplate: engine.info.chatTemplate.name },
      dataset: datasetInfo,
      settings,
      prefixes: sortPrefixes([...(previous?.prefixes ?? []), ...options.prefixes]),
    };
    if (previous) assertResumable(previous, manifest, out);
    await writeFileAtomic(paths.manifest, `${JSON.stringify(manifest, null, 2)}\n`);

    if (options.personaModel) personaModel = await openChatRole(options.personaModel, engineOptions(options), reporter);
    const built = await buildPrefixes({
      dataset,
      prefixes: options.prefixes,
      seed: options.seed,
      ...(existing ? { existing } : {}),
      engine,
      ...(personaModel ? { personaModel } : {}),
      generation: personaGeneration(options),
      outPath: paths.prefixes,
      reporter,
      signal,
    });

    const read = await readJsonl(paths.pairs, EvalPairRow);
    if (read.repaired) reporter.warn(`${paths.pairs}: cut off a torn last line left by an interrupted run.`);
    const latest = latestByKey(read.rows);
    const done = new Set(latest.filter((row) => row.ok || !options.retryFailed).map((row) => row.key));
    const plan = planScoringJobs({ pairs: toScore, prefixes: options.prefixes, material: built.material, ...(built.shuffle ? { shuffle: built.shuffle } : {}), done });
    const total = options.prefixes.length * toScore.length;
    if (done.size > 0) reporter.info(`Resuming in ${out}: ${total - plan.jobs.length - plan.unavailable.length} of ${total} (prefix, pair) rows already written.`);
    const rows = await JsonlAppender.open(paths.pairs);
    let result;
    try {
      result = await runScoring({
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
    if (result.scored > 0) reporter.info(`Scored ${result.scored} pair(s) in ${result.seconds.toFixed(1)} s (${(result.scored / result.seconds).toFixed(2)} pairs/s).`);
    if (personaModel) reporter.info(formatStats(personaModel.id, personaModel.stats()));
    const report = await writeReport(out);
    printAccuracy(report, out);
    if (result.interrupted) {
      reporter.warn(`Interrupted: re-run the same command to resume (${report.pairs?.counts.rows ?? 0} rows are kept in ${paths.pairs}).`);
      return EXIT_INTERRUPTED;
    }
    return (report.pairs?.counts.failed ?? 0) > 0 || dataset.invalidRows > 0 ? EXIT_USER_ERROR : 0;
  } finally {
    await personaModel?.close();
    await engine.dispose();
  }
}

/**
 * The prefix texts a run starts from: the folder's own file (what earlier rows were scored with)
 * with a --prefix-file's texts added where the folder has none; a conflicting text stops.
 */
async function runPrefixFile(folderPath: string, given: string | undefined): Promise<PrefixFile | undefined> {
  const folder = existsSync(folderPath) ? await readPrefixFile(folderPath) : undefined;
  const fromFlag = given ? await readPrefixFile(given) : undefined;
  if (!folder || !fromFlag) return folder ?? fromFlag;
  assertSamePrefixes(folder, fromFlag, folderPath);
  const personas = folder.personas.map((persona) => {
    const extra = fromFlag.personas.find((candidate) => candidate.name.toLowerCase() === persona.name.toLowerCase());
    return extra ? { ...persona, prefixes: { ...extra.prefixes, ...persona.prefixes } } : persona;
  });
  const added = fromFlag.personas.filter((persona) => !folder.personas.some((candidate) => candidate.name.toLowerCase() === persona.name.toLowerCase()));
  return { ...folder, personas: [...personas, ...added], provenance: { ...fromFlag.provenance, ...folder.provenance, generated: { ...fromFlag.provenance.generated, ...folder.provenance.generated } } };
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

// ---------------------------------------------------------------------------------------------
// eval personas

async function runPersonas(options: PersonasCliOptions): Promise<number> {
  const out = resolve(options.out);
  const paths = runPaths(out);
  const source = options.prefixFile ?? paths.prefixes;
  const personas = importPersonas(await readText(source, 'prefix file'), source);
  const examples = options.examples?.split(',').map((name) => name.trim()).filter((name) => name !== '');
  const input = PersonasInput.parse({ source, seed: options.seed, ...(examples ? { examples } : {}), personas });
  // Computed once before anything is written, so a folder never holds texts its report cannot use.
  try {
    personaQuality(input.personas, { seed: input.seed, ...(input.examples ? { examples: input.examples } : {}) });
  } catch (error) {
    if (error instanceof RangeError) throw new AppError('invalid-input', `${source}: ${error.message.replace(/^personaQuality: /, '')}`);
    throw error;
  }
  await mkdir(out, { recursive: true });
  await writeFileAtomic(paths.personas, `${JSON.stringify(input, null, 2)}\n`);
  const report = await writeReport(out);
  const quality = report.personas;
  if (quality) {
    const rows = quality.columns.map((column) => [
      prefixLabel(column.column),
      `${num(column.rouge1.mean, 2)} ± ${num(column.rouge1.sd, 2)}`,
      `${num(column.rouge1Random.mean, 2)} ± ${num(column.rouge1Random.sd, 2)}`,
      `${num(column.words.mean, 0)} ± ${num(column.words.sd, 0)}`,
      String(column.rouge1.n),
    ]);
    process.stdout.write(formatTable(['prefix', 'R1', 'R1 (random)', 'words', 'personas'], rows));
  }
  process.stdout.write(`Report: ${paths.reportHtml}\n`);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// eval generations

async function runGenerationsCommand(options: GenerationsCliOptions, signal: AbortSignal): Promise<number> {
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
  const existing = await runPrefixFile(paths.prefixes, options.prefixFile);
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
  if (existsSync(paths.generationsManifest)) {
    const previous = await readJsonFile(paths.generationsManifest, GenerationsManifest, 'generations manifest');
    assertSameGenerations(previous, manifest, out);
    // Contestants may be added to a finished comparison; earlier ones keep their rows.
    manifest.contestants = [...previous.contestants, ...contestants.filter((contestant) => !previous.contestants.some((before) => before.label === contestant.label))];
  }
  await writeFileAtomic(paths.generationsManifest, `${JSON.stringify(manifest, null, 2)}\n`);

  const engines = new Map<string, Engine>();
  let judge: ChatRoleProvider | undefined;
  let personaModel: ChatRoleProvider | undefined;
  try {
    for (const { label, spec } of engineSpecs) engines.set(label, await openEngine(spec, engineOptions(options), reporter));
    // No request cache: the row files are the record of finished calls, and a cached reply that
    // failed to parse would be served again when the comparison is re-asked.
    judge = await openChatRole(options.judge, { ...engineOptions(options), concurrency: options.judgeConcurrency }, reporter);
    if (options.personaModel) personaModel = await openChatRole(options.personaModel, engineOptions(options), reporter);
    const built: BuiltPrefixes = await buildPrefixes({
      dataset,
      prefixes: options.prefixes,
      seed: options.seed,
      ...(existing ? { existing } : {}),
      // The "persona" prefix is inferred by the first engine's model (the paper infers with the model it evaluates).
      engine: engines.values().next().value as Engine,
      ...(personaModel ? { personaModel } : {}),
      generation: personaGeneration(options),
      outPath: paths.prefixes,
      reporter,
      signal,
    });
    const [previousGenerations, previousJudgements] = await Promise.all([readJsonl(paths.generations, GenerationRow), readJsonl(paths.judgements, JudgementRow)]);
    const generationRows = await JsonlAppender.open(paths.generations);
    const judgementRows = await JsonlAppender.open(paths.judgements);
    let interrupted = false;
    try {
      await runGenerations({
        contestants: manifest.contestants,
        engines,
        material: built.material,
        ...(built.shuffle ? { shuffle: built.shuffle } : {}),
        questions,
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
        reporter,
        signal,
      });
    } catch (error) {
      if (!isAbortError(error)) throw error;
      interrupted = true;
    } finally {
      await generationRows.close();
      await judgementRows.close();
    }
    reporter.info(formatStats(judge.id, judge.stats()));
    const report = await writeReport(out);
    const generations = report.generations;
    if (generations) {
      const { matrix } = generations;
      process.stdout.write(
        formatTable(
          ['row beats column (%)', ...matrix.labels, 'avg'],
          matrix.labels.map((label, i) => [label, ...matrix.labels.map((_, j) => (i === j ? '–' : percent(matrix.cells[i]?.[j]?.winRate))), percent(matrix.rowAverage[i])]),
        ),
      );
      process.stdout.write(`Judge self-agreement across orders: ${generations.agreement.agreeing}/${generations.agreement.pairs} (${num(generations.agreement.rate)}).\n`);
    }
    process.stdout.write(`Report: ${paths.reportHtml}\n`);
    if (interrupted) return EXIT_INTERRUPTED;
    return (generations?.failures.length ?? 0) > 0 || dataset.invalidRows > 0 ? EXIT_USER_ERROR : 0;
  } finally {
    await judge?.close();
    await personaModel?.close();
    for (const engine of engines.values()) await engine.dispose();
  }
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

function parseLabelledEngines(values: readonly string[]): { label: string; spec: ReturnType<typeof parseEngineSpec> }[] {
  const engines = values.map((value, index) => {
    const match = /^([A-Za-z0-9_.-]+)=(.+)$/.exec(value);
    return { label: match?.[1] ?? `E${index + 1}`, spec: parseEngineSpec(match?.[2] ?? value) };
  });
  if (new Set(engines.map((engine) => engine.label)).size !== engines.length) throw new AppError('invalid-input', 'Engine labels must be distinct: write --engine A=<spec> --engine B=<spec>.');
  return engines;
}

// ---------------------------------------------------------------------------------------------
// Shared

function engineOptions(options: EngineFlags): EngineOpenOptions {
  return { device: options.device, dtype: options.dtype, ...(options.apiKeyEnv ? { apiKeyEnv: options.apiKeyEnv } : {}) };
}

function personaGeneration(options: PrefixFlags) {
  return { maxNewTokens: options.personaMaxTokens, temperature: options.personaTemperature, shots: options.personaShots };
}

/** Which process wrote a row: its start time and pid (rows of a resumed run carry a new one). */
function sessionId(): string {
  return `${new Date().toISOString()}#${process.pid}`;
}

/**
 * Ctrl+C aborts the signal: work in flight stops, rows written so far stay (scoring loops then
 * rebuild the report). Stopped anywhere else (building prefixes), the run says how to resume.
 */
async function withInterrupt(run: (signal: AbortSignal) => Promise<number>): Promise<number> {
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  process.once('SIGINT', onInterrupt);
  try {
    return await run(controller.signal);
  } catch (error) {
    if (!isAbortError(error)) throw error;
    process.stderr.write('Interrupted: re-run the same command to resume; finished work is kept.\n');
    return EXIT_INTERRUPTED;
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}

function parsePrefixes(value: string): EvalPrefix[] {
  try {
    return parsePrefixList(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function parsePositive(value: string): number {
  const parsed = parseInteger(value);
  if (parsed < 1) throw new InvalidArgumentError('expected a positive whole number.');
  return parsed;
}

function parseNonNegative(value: string): number {
  const parsed = parseInteger(value);
  if (parsed < 0) throw new InvalidArgumentError('expected a non-negative whole number.');
  return parsed;
}

function parseNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) throw new InvalidArgumentError('expected a non-negative number.');
  return parsed;
}

