/**
 * The dataset build: config file → stages → dataset folder, resumable at any point.
 *
 * Folder layout: build.json (the parsed config and its hash; a later run with a config that would
 * change the data is refused), build.lock (the pid of the run writing the folder), cache.sqlite (request cache, unless the config names another),
 * stages/ (per-stage journals and files), then the outputs (pairs.jsonl, authors/, DATASET_CARD.md)
 * usage.jsonl (calls, tokens and cost per run and role, kept across runs: scripts/lib/dataset/usageLedger.ts)
 * and summary.json (this run's calls, tokens and cost per role and the total over every run); these
 * two are the only files that differ between an interrupted-and-resumed build and an uninterrupted one.
 *
 * Resuming: every stage skips the items its journal holds, and every call it makes is one the request
 * cache has seen if an earlier run made it; so `kill -9` followed by the same command loses no
 * finished item, duplicates none and repeats no completed call. Items whose calls failed (after the
 * provider's own retries) are retried by the next run; items whose model output was unusable are
 * final. `--dry-run` prints the plan and a cost estimate from the config alone.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { z } from 'zod';
import { judgeRows } from '../../../src/core/dataset/assemble.ts';
import { parseBuildConfig, ROLE_NAMES, type BuildConfig, type Pricing, type RoleName } from '../../../src/core/dataset/config.ts';
import { configuredPersonas } from '../../../src/core/dataset/people.ts';
import { estimateByRole, planBuild } from '../../../src/core/dataset/plan.ts';
import { PersonaSelectionRecord, QuestionSetRecord } from '../../../src/core/dataset/records.ts';
import { axesOf } from '../../../src/core/dataset/roster.ts';
import { AppError } from '../../../src/core/errors.ts';
import { PROMPTS_VERSION } from '../../../src/core/prompts.ts';
import { fileErrorReason } from '../cliInput.ts';
import { canonicalJson } from '../requestCache.ts';
import { formatTable } from '../format.ts';
import type { Reporter } from '../reporter.ts';
import { stagePath, type StageContext } from './context.ts';
import { finalize, okRecords, type FinalizeResult } from './finalize.ts';
import { readJsonFile, writeFileAtomic } from '../durableFiles.ts';
import { Journal, REBUILD_STAGE } from './journal.ts';
import { assertApiKeys, assertLocalModels, createRoles, type RoleProviders } from './roles.ts';
import { filterStage } from './stageFilter.ts';
import { judgeStage } from './stageJudge.ts';
import { personasStage, questionsStage } from './stagePeople.ts';
import { responsesStage } from './stageResponses.ts';
import { USAGE_FILE, UsageLedger, type RoleUsage, type TotalUsage } from './usageLedger.ts';

/** Reads and validates a config file; every problem is listed with its field. */
export function loadBuildConfig(path: string): BuildConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new AppError('invalid-input', `Cannot read the config ${path}: ${fileErrorReason(error)}.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new AppError('invalid-input', `${path} is not valid JSON: ${(error as Error).message}.`);
  }
  const parsed = parseBuildConfig(value);
  if (!parsed.ok) throw new AppError('invalid-input', `${path} is not a valid build config:\n  ${parsed.issues.join('\n  ')}`);
  return parsed.config;
}

/**
 * A hash of everything that shapes the data: not endpoints, concurrency, retries, prices or the
 * cache path, which may change between runs of one build (another replica of the same model, a
 * higher rate limit).
 */
export function configHash(config: BuildConfig): string {
  const providers = Object.fromEntries(
    Object.entries(config.providers).map(([role, provider]) => [role, 'model' in provider ? { type: provider.type, model: provider.model } : { type: provider.type, url: provider.url }]),
  );
  const { cache: _cache, ...rest } = config;
  return createHash('sha256').update(canonicalJson({ ...rest, providers, promptsVersion: PROMPTS_VERSION })).digest('hex').slice(0, 16);
}

const Manifest = z.object({ configHash: z.string(), promptsVersion: z.string(), config: z.unknown() });

function checkManifest(outDir: string, config: BuildConfig, hash: string): void {
  const path = join(outDir, 'build.json');
  const manifest = readJsonFile(path, Manifest, REBUILD_STAGE);
  if (manifest && manifest.configHash !== hash) {
    throw new AppError(
      'invalid-input',
      `${outDir} holds a build made with a different config (hash ${manifest.configHash}, this config ${hash}): use another --out, or delete ${join(outDir, 'stages')} to rebuild (the request cache keeps calls that did not change free).`,
    );
  }
  if (!manifest) writeFileAtomic(path, `${JSON.stringify({ configHash: hash, promptsVersion: PROMPTS_VERSION, config }, null, 2)}\n`);
}

/**
 * One build per folder at a time: two processes appending to the same journals would duplicate
 * items. A lock left by a killed run (its process is gone) is taken over.
 */
function acquireLock(outDir: string): () => void {
  const path = join(outDir, 'build.lock');
  mkdirSync(outDir, { recursive: true });
  if (existsSync(path)) {
    const pid = Number(readFileSync(path, 'utf8').trim());
    let alive = false;
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (error) {
        alive = (error as NodeJS.ErrnoException).code === 'EPERM';
      }
    }
    if (alive) throw new AppError('invalid-input', `Another build-dataset (pid ${pid}) is writing to ${outDir}: wait for it, or stop it first.`);
  }
  writeFileAtomic(path, `${process.pid}\n`);
  return () => rmSync(path, { force: true });
}

export interface BuildOptions {
  configPath: string;
  outDir: string;
  reporter: Reporter;
  /** Where the plan and the final summary are printed. */
  print: (text: string) => void;
  signal?: AbortSignal;
  /** Providers to use instead of those the config names (tests, benchmarks). */
  overrides?: RoleProviders;
}

export interface BuildSummary extends Omit<FinalizeResult, 'pairs'> {
  pairs: number;
  train: number;
  test: number;
  /** This run's calls, tokens and cost. */
  usage: RoleUsage[];
  /** Every run's over this folder, this one included (usage.jsonl). */
  totalUsage: TotalUsage;
  outDir: string;
}

export async function buildDataset(options: BuildOptions): Promise<BuildSummary> {
  const config = loadBuildConfig(options.configPath);
  assertApiKeys(config, options.overrides);
  assertLocalModels(config, options.configPath, options.overrides);
  const outDir = resolve(options.outDir);
  const hash = configHash(config);
  const release = acquireLock(outDir);
  let roles: ReturnType<typeof createRoles>;
  let ledger: UsageLedger | undefined;
  try {
    checkManifest(outDir, config, hash);
    const cachePath = config.cache ? resolve(dirname(resolve(options.configPath)), config.cache) : join(outDir, 'cache.sqlite');
    const usageLedger = new UsageLedger(outDir);
    ledger = usageLedger;
    roles = createRoles(config, {
      configPath: options.configPath,
      cachePath,
      reporter: options.reporter,
      onUsage: (usage) => usageLedger.record(usage),
      ...(options.overrides ? { overrides: options.overrides } : {}),
    });
  } catch (error) {
    await ledger?.close();
    release();
    throw error;
  }
  const runLedger = ledger;
  /** Every role's line, cache hits included, once the run's work is over. */
  const closeRun = (): TotalUsage => {
    for (const usage of roles.usage()) if (usage.calls + usage.cached + usage.failed > 0) runLedger.record(usage);
    return runLedger.total();
  };
  const context: StageContext = { config, outDir, roles, reporter: options.reporter, signal: options.signal ?? new AbortController().signal };
  try {
    const personas = await personasStage(context);
    options.reporter.info(`${personas.length} personas on ${axesOf(personas).length} axes`);
    const questions = await questionsStage(context, personas);
    options.reporter.info(`${questions.length} questions`);
    const responses = await responsesStage(context, questions, personas);
    const filter = await filterStage(context, questions, responses.latest);
    const rows = judgeRows(questions, personas, okRecords(responses), okRecords(filter));
    const judge = await judgeStage(context, rows);
    const selectionPath = stagePath(context, 'persona-selection.jsonl');
    const journals = {
      ...(existsSync(selectionPath) ? { selection: new Journal(selectionPath, PersonaSelectionRecord) } : {}),
      questions: new Journal(stagePath(context, 'questions.jsonl'), QuestionSetRecord),
      responses,
      filter,
      judge,
    };
    const result = finalize(context, personas, questions, journals, hash);
    const summary: BuildSummary = {
      ...result,
      pairs: result.pairs.length,
      train: result.pairs.filter((pair) => pair.split === 'train').length,
      test: result.pairs.filter((pair) => pair.split === 'test').length,
      usage: roles.usage(),
      totalUsage: closeRun(),
      outDir,
    };
    writeFileAtomic(join(outDir, 'summary.json'), `${JSON.stringify({ ...summary, files: undefined }, null, 2)}\n`);
    options.print(formatSummary(summary));
    return summary;
  } catch (error) {
    // Whatever was spent so far is still worth knowing when a run stops.
    options.print(formatRunUsage(roles.usage(), closeRun()));
    throw error;
  } finally {
    await roles.close();
    await runLedger.close();
    release();
  }
}

const integer = (value: number) => Math.round(value).toLocaleString('en-US');
const usd = (value: number | undefined) => (value === undefined ? '–' : `$${value.toFixed(2)}`);

export function formatUsage(usage: readonly RoleUsage[], costCaption = 'estimated cost of the calls made'): string {
  const rows = usage.map((role) => [role.role, role.provider, String(role.calls), String(role.cached), String(role.failed), role.items ? integer(role.items) : '–', integer(role.promptTokens), integer(role.completionTokens), usd(role.costUsd)]);
  const total = usage.reduce((sum, role) => sum + (role.costUsd ?? 0), 0);
  return `${formatTable(['role', 'provider', 'calls', 'cached', 'failed', 'items', 'prompt tokens', 'completion tokens', 'cost'], rows)}${costCaption}: ${usd(total)}\n`;
}

/** This run's usage, then, when earlier runs over the folder spent too, the build's total. */
function formatRunUsage(usage: readonly RoleUsage[], total: TotalUsage): string {
  if (total.earlierRuns === 0) return formatUsage(usage);
  const runs = total.runs === 1 ? 'an earlier run' : `all ${total.runs} runs`;
  return `${formatUsage(usage)}\nCalls of ${runs} of this build (${USAGE_FILE}):\n${formatUsage(total.usage, 'estimated cost of the build so far')}`;
}

function formatSummary(summary: BuildSummary): string {
  const failed = summary.failures.filter((failure) => failure.failed > 0);
  const lines = [
    `\nBuilt ${summary.pairs} pairs (train ${summary.train}, test ${summary.test}) in ${summary.outDir}`,
    failed.length === 0 ? 'No failures.' : `Failures: ${failed.map((failure) => `${failure.stage} ${failure.failed}/${failure.items}`).join(', ')} (details in DATASET_CARD.md).`,
    ...(summary.retryable > 0 ? [`${summary.retryable} item(s) failed on calls: run the same command again to retry them.`] : []),
    '',
    formatRunUsage(summary.usage, summary.totalUsage),
  ];
  return `${lines.join('\n')}`;
}

function describeProvider(provider: BuildConfig['providers'][RoleName]): string {
  if (provider.type === 'http') return `http:${provider.url}`;
  return `${provider.type}:${provider.model}`;
}

/** `--dry-run`: the plan and cost estimate, from the config only. */
export function dryRun(configPath: string, print: (text: string) => void): void {
  const config = loadBuildConfig(configPath);
  const people = configuredPersonas(config);
  const plan = planBuild(config, people);
  const pricing: Partial<Record<RoleName, Pricing>> = {};
  for (const role of ROLE_NAMES) {
    const provider = config.providers[role];
    if ('pricing' in provider && provider.pricing) pricing[role] = provider.pricing;
  }
  const estimates = estimateByRole(plan, pricing);
  const who = people
    ? `${people.length} personas on ${axesOf(people).length} axes (${config.personas.source})`
    : `people from G.1 (assumed ${config.personas.source === 'generate' ? config.personas.maxPerAxis : 0} per axis)`;
  const stageRows = plan.map((stage) => [stage.stage, stage.role, integer(stage.calls), stage.items === undefined ? '–' : integer(stage.items), integer(stage.promptTokens), `${integer(stage.completionTokens)} / ${integer(stage.completionTokensMax)}`, stage.note]);
  const roleRows = estimates.map((estimate) => [
    estimate.role,
    describeProvider(config.providers[estimate.role]),
    integer(estimate.calls),
    integer(estimate.promptTokens),
    `${integer(estimate.completionTokens)} / ${integer(estimate.completionTokensMax)}`,
    estimate.usd === undefined ? 'no pricing' : `${usd(estimate.usd)} (max ${usd(estimate.usdMax)})`,
  ]);
  const total = estimates.reduce((sum, estimate) => sum + (estimate.usd ?? 0), 0);
  const totalMax = estimates.reduce((sum, estimate) => sum + (estimate.usdMax ?? 0), 0);
  print(
    [
      `Dry run of "${config.name}": nothing is called or written.`,
      `People: ${who}. Seed ${config.seed}. Prompts ${PROMPTS_VERSION}.`,
      '',
      'Planned calls per stage (minimum: re-samples of unusable CoTs, extra question calls and judge retries come on top):',
      formatTable(['stage', 'role', 'calls', 'items', 'prompt tokens', 'completion tokens (typical / max)', 'note'], stageRows),
      'Estimate per role (~4 characters per token; "max" = every completion at max_tokens):',
      formatTable(['role', 'provider', 'calls', 'prompt tokens', 'completion tokens (typical / max)', 'cost'], roleRows),
      `Estimated cost: ${usd(total)} typical, ${usd(totalMax)} at most (roles with pricing only; cached calls cost nothing).`,
      '',
    ].join('\n'),
  );
}
