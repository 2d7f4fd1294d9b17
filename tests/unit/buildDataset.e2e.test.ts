/**
 * `build-dataset` end to end on 127.0.0.1, through the real CLI in a child process (node + tsx):
 * generator and judge are the scripted OpenAI-compatible server (scripts/fixtures/datasetScript.ts:
 * canned G.1/G.2/G.4 answers, a malformed judge reply now and then, a persona whose verdicts are
 * never readable, injected 500s and 429s); the baseline is the tiny Llama on the local engine; the
 * reward model and the embedder are the tiny encoders (the embedder a sentence-transformers folder
 * with a Dense layer).
 *
 * What it proves:
 * - the output validates against our pair schema and the authors' raw and formatted layouts, and
 *   unreadable verdicts end as recorded failures (never random labels);
 * - kill -9 during the baseline stage and again during the judge stage, then the same command:
 *   no completed call is repeated at the server (every request body was answered 200 at most once
 *   across the three runs), no journal record is lost or duplicated, and the final files are
 *   byte-identical to an uninterrupted build's;
 * - 500/429 are retried and the repeat succeeds; malformed judge replies are retried with a new call;
 * - a finished build re-run makes zero calls; a new output folder over the same cache makes zero calls;
 * - summary.json keeps the run's usage and the total over every run: across two kills and a re-run,
 *   the total counts each call the server completed exactly once;
 * - --dry-run makes zero calls and prints the plan with a cost estimate; a bad config exits 2 naming the fields;
 * - with the baseline on the scripted server, its requests carry top_k = 50 (the authors' `generate`
 *   default) and G.3 as the paper prints it, and the card records both.
 *
 * The kill points are chosen by watching the output folder (baseline) and by holding the judge's
 * requests at the server until every judge slot is taken (so every earlier reply has been cached
 * when the kill lands); nothing here depends on timing.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthorsFormattedRecord, AuthorsRawRecord, PreferencePair } from '../../src/core/schema.ts';
import { JudgeBatchRecord, ResponsesRecord } from '../../src/core/dataset/records.ts';
import { COT_RESPONSE_SYSTEM } from '../../src/core/prompts.ts';
import { buildDataset, type BuildSummary } from '../../scripts/lib/dataset/build.ts';
import { createReporter } from '../../scripts/lib/reporter.ts';
import { datasetChatHandler, type DatasetScriptOptions } from '../../scripts/fixtures/datasetScript.ts';
import { collect, PROJECT_ROOT, spawnCli, type CliRun } from '../support/runCli.ts';
import { reply, startScriptedOpenAiServer, type ScriptedHandler, type ScriptedServer } from '../../scripts/fixtures/scriptedOpenAiServer.ts';
import { ensureTinyEncoders } from '../../scripts/fixtures/tinyEncoderFixture.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';

const SCRIPT: DatasetScriptOptions = {
  people: {
    diet: [
      ['Veganism', 'Ellen DeGeneres'],
      ['Ketogenic', 'Halle Berry'],
    ],
    politics: [
      ['Liberal', 'Bernie Sanders'],
      ['Centrist', 'Halle Berry'],
    ],
  },
  malformedJudgeEvery: 4,
  unreadableFor: ['Bernie Sanders'],
  faultEvery: 5,
};

/** Our output files: everything but the run's own bookkeeping (summary.json, build.json, cache, stages). */
function datasetFiles(outDir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(outDir, path), readFileSync(path, 'utf8'));
    }
  };
  walk(join(outDir, 'authors'));
  for (const file of ['pairs.jsonl', 'DATASET_CARD.md']) files.set(file, readFileSync(join(outDir, file), 'utf8'));
  return files;
}

const jsonLines = (text: string) => text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as unknown);

/** Request bodies the server answered with 200 more than once: a repeated completed call. */
function repeatedCompletedCalls(server: ScriptedServer): string[] {
  const counts = new Map<string, number>();
  for (const request of server.requests) if (request.status === 200) counts.set(request.key, (counts.get(request.key) ?? 0) + 1);
  return [...counts.entries()].filter(([, count]) => count > 1).map(([key]) => key.slice(0, 120));
}

function isJudgeRequest(body: unknown): boolean {
  const messages = (body as { messages?: { role: string; content: string }[] } | undefined)?.messages;
  return messages?.[0]?.content.startsWith('You are a helpful assistant that selects the output') ?? false;
}

/** The scripted models, plus a switch that holds judge requests unanswered (for the kill test). */
function scriptedModels() {
  const inner = datasetChatHandler(SCRIPT);
  const held: (() => void)[] = [];
  const state = { holdJudge: false };
  const handler: ScriptedHandler = (body, callIndex, request) => {
    if (state.holdJudge && isJudgeRequest(body)) return new Promise((resolve) => held.push(() => resolve(reply({ destroy: true }))));
    return inner(body, callIndex, request);
  };
  return { handler, held, state };
}

function writeConfig(dir: string, server: ScriptedServer, models: { llama: string; sentenceTransformer: string; reward: string }, extra: Record<string, unknown> = {}): string {
  const config = JSON.parse(readFileSync(join(PROJECT_ROOT, 'examples', 'build-dataset', 'tiny.json'), 'utf8')) as { providers: Record<string, Record<string, unknown>> };
  for (const role of ['generator', 'judge']) (config.providers[role] as Record<string, unknown>).baseUrl = server.baseUrl;
  (config.providers.baseline as Record<string, unknown>).model = models.llama;
  (config.providers.reward as Record<string, unknown>).model = models.reward;
  (config.providers.embedder as Record<string, unknown>).model = models.sentenceTransformer;
  const path = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify({ ...config, ...extra }, null, 2));
  return path;
}

function startCli(args: readonly string[]): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawnCli(['build-dataset', ...args]);
  return { child, done: collect(child) };
}

const runCliToEnd = (args: readonly string[]) => startCli(args).done;

/** Polls until `condition` holds (the child's progress decides when; the test timeout bounds it). */
async function until(condition: () => boolean, child: ChildProcess): Promise<void> {
  while (!condition()) {
    if (child.exitCode !== null) throw new Error('The build finished before the kill point was reached.');
    await delay(25);
  }
}

/** summary.json as the build wrote it (`files` left out). */
const readSummary = (outDir: string) => JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8')) as Omit<BuildSummary, 'files'>;

/** Calls the model answered for the scripted server's roles (generator and judge). */
const serverCalls = (usage: BuildSummary['usage']) => usage.filter((role) => role.role === 'generator' || role.role === 'judge').reduce((sum, role) => sum + role.calls, 0);

const lineCount = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0);

let models: { llama: string; sentenceTransformer: string; reward: string };
let root: string;
const servers: ScriptedServer[] = [];

beforeAll(async () => {
  const [llama, encoders] = await Promise.all([ensureTinyModel(), ensureTinyEncoders()]);
  models = { llama, ...encoders };
  root = mkdtempSync(join(tmpdir(), 'build-dataset-e2e-'));
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

describe('build-dataset (tiny models, scripted GPT-4)', () => {
  let serverA: ScriptedServer;
  let configA: string;
  const outA = () => join(root, 'a');
  let runA: CliRun;

  beforeAll(async () => {
    serverA = await startScriptedOpenAiServer({ '/v1/chat/completions': scriptedModels().handler });
    servers.push(serverA);
    configA = writeConfig(root, serverA, models);
    runA = await runCliToEnd(['--config', configA, '--out', outA(), '--quiet']);
  });

  it('builds a dataset that validates against our schema and the authors\u2019 layouts', () => {
    expect(runA.stderr).toBe('');
    expect(runA.code).toBe(0);
    expect(runA.stdout).toMatch(/Built \d+ pairs \(train \d+, test \d+\)/);
    expect(runA.stdout).toMatch(/judge\s+openai:scripted-gpt-4\s+\d+\s+0\s+0/);

    const pairs = jsonLines(readFileSync(join(outA(), 'pairs.jsonl'), 'utf8')).map((line) => PreferencePair.parse(line));
    expect(pairs.length).toBeGreaterThan(0);
    expect(new Set(pairs.map((pair) => pair.persona))).toEqual(new Set(['Ellen DeGeneres', 'Halle Berry']));
    expect(new Set(pairs.map((pair) => pair.type))).toEqual(new Set(['personal', 'divergent']));
    for (const pair of pairs) {
      expect(pair.meta).toMatchObject({ provenance: { promptsVersion: 'wikipersonas-acl2025-appG-v1', seed: 24, models: { judge: 'openai:scripted-gpt-4' } } });
      expect(pair.meta?.diverse_ys).toContain(pair.chosen);
      expect(pair.meta?.diverse_ys).toContain(pair.rejected);
      expect(pair.chosen).not.toBe(pair.rejected);
    }

    const files = datasetFiles(outA());
    const raw = [...files.keys()].filter((path) => /^authors\/(train|test)_3p_4d_total_6r_tem2\.0_top1\.0_cot_filtered5m4k_yl-random_cot_annotated\.json$/u.test(path));
    expect(raw).toHaveLength(2);
    for (const path of raw) for (const record of jsonLines(files.get(path) ?? '')) AuthorsRawRecord.parse(record);
    const formatted = [...files.keys()].filter((path) => path.includes('_self-yl/'));
    expect(formatted.map((path) => path.split('_self-yl/')[1]).sort()).toEqual(
      expect.arrayContaining(['train_prefs.json', 'test_personal_prefs.json', 'test_common_prefs.json', 'train_halleberry_prefs.json', 'test_halleberry_common_prefs.json', 'cv0/train_meta_prefs.json', 'cv1/test_meta_prefs.json', 'cvdiet/train_meta_personal_prefs.json']),
    );
    for (const path of formatted) for (const record of jsonLines(files.get(path) ?? '')) AuthorsFormattedRecord.parse(record);

    const summary = readSummary(outA());
    expect(serverCalls(summary.usage)).toBe(serverA.requests.filter((request) => request.status === 200).length);
    expect(summary.totalUsage).toEqual({ runs: 1, earlierRuns: 0, usage: summary.usage });

    const card = files.get('DATASET_CARD.md') ?? '';
    expect(card).toContain('| CoT answers: top-k | 50 (local engine: top-k, then top-p) |');
    expect(card).toContain('| answer embeddings | Transformer (≤ 16 tokens) → Pooling (mean) → Dense (32 → 24, bias, Tanh) → Normalize (modules.json) |');
  });

  it('records unreadable verdicts as failures with the raw reply, never as labels', () => {
    const judge = jsonLines(readFileSync(join(outA(), 'stages', 'judge.jsonl'), 'utf8')).map((line) => JudgeBatchRecord.parse(line));
    const failed = judge.flatMap((record) => record.results).filter((result) => !result.ok);
    expect(failed.length).toBeGreaterThan(0);
    for (const result of failed) {
      expect(result.rowId).toMatch(/^p-bernie-sanders-\d+$|@Bernie Sanders$/u);
      expect(result).toMatchObject({ ok: false, retryable: false, error: expect.stringMatching(/^unreadable verdict after 2 call\(s\)/), raw: expect.stringContaining('Concise explanation') });
    }
    const pairs = jsonLines(readFileSync(join(outA(), 'pairs.jsonl'), 'utf8')) as PreferencePair[];
    expect(pairs.some((pair) => pair.persona === 'Bernie Sanders')).toBe(false);
    const card = readFileSync(join(outA(), 'DATASET_CARD.md'), 'utf8');
    expect(card).toMatch(new RegExp(`\\| judge matches \\(G\\.4\\) \\| \\d+ \\| ${failed.length} \\|`, 'u'));
  });

  it('retries 500/429 until the same request succeeds, and re-asks the judge after a malformed reply', () => {
    const faulted = serverA.requests.filter((request) => request.status === 500 || request.status === 429);
    expect(faulted.length).toBeGreaterThan(0);
    for (const request of faulted) {
      expect(serverA.requests.filter((other) => other.key === request.key && other.status === 200)).toHaveLength(1);
    }
    const judge = jsonLines(readFileSync(join(outA(), 'stages', 'judge.jsonl'), 'utf8')).map((line) => JudgeBatchRecord.parse(line));
    expect(judge.some((record) => record.calls > 1 && record.results.some((result) => result.ok && result.attempt > 1))).toBe(true);
    expect(repeatedCompletedCalls(serverA)).toEqual([]);
  });

  it('re-running a finished build makes zero calls and changes nothing; the build\u2019s cost is kept', async () => {
    const before = serverA.requests.length;
    const files = datasetFiles(outA());
    const first = readSummary(outA());
    const rerun = await runCliToEnd(['--config', configA, '--out', outA(), '--quiet']);
    expect(rerun.code).toBe(0);
    expect(serverA.requests.length).toBe(before);
    expect(rerun.stdout).toMatch(/generator\s+openai:scripted-gpt-4\s+0\s+0\s+0/);
    expect(datasetFiles(outA())).toEqual(files);
    // This run spent nothing; the total still holds the first run's calls and cost.
    const summary = readSummary(outA());
    expect(serverCalls(summary.usage)).toBe(0);
    expect(summary.totalUsage.usage).toEqual(first.usage);
    expect(rerun.stdout).toContain('Calls of an earlier run of this build (usage.jsonl):');
    expect(rerun.stdout).toMatch(/estimated cost of the build so far: \$\d+\.\d\d\n/);
  });

  it('a new output folder over the same request cache makes zero calls and builds the same files', async () => {
    const before = serverA.requests.length;
    const config = writeConfig(root, serverA, models, { cache: join(outA(), 'cache.sqlite') });
    const out = join(root, 'cached');
    const run = await runCliToEnd(['--config', config, '--out', out, '--quiet']);
    expect(run.code).toBe(0);
    expect(serverA.requests.length).toBe(before);
    expect(run.stdout).toMatch(/judge\s+openai:scripted-gpt-4\s+0\s+\d+\s+0/);
    expect(datasetFiles(out)).toEqual(datasetFiles(outA()));
  });

  it('kill -9 twice, then the same command: nothing lost, duplicated or called twice, same files', async () => {
    const models2 = scriptedModels();
    const serverB = await startScriptedOpenAiServer({ '/v1/chat/completions': models2.handler });
    servers.push(serverB);
    const config = writeConfig(root, serverB, models);
    const out = join(root, 'b');
    const args = ['--config', config, '--out', out, '--quiet'];

    // Kill 1: in the baseline stage, once a few questions are journaled.
    const first = startCli(args);
    await until(() => lineCount(join(out, 'stages', 'responses.jsonl')) >= 3, first.child);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    const journaled = lineCount(join(out, 'stages', 'responses.jsonl'));
    expect(journaled).toBeLessThan(10);

    // Kill 2: in the judge stage, when every judge slot (concurrency 2) waits on a held request.
    models2.state.holdJudge = true;
    const second = startCli(args);
    await until(() => models2.held.length >= 2, second.child);
    second.child.kill('SIGKILL');
    expect((await second.done).signal).toBe('SIGKILL');
    models2.state.holdJudge = false;
    for (const release of models2.held.splice(0)) release();
    expect(lineCount(join(out, 'stages', 'responses.jsonl'))).toBe(10);

    const last = await runCliToEnd(args);
    expect(last.stderr).toBe('');
    expect(last.code).toBe(0);

    expect(repeatedCompletedCalls(serverB)).toEqual([]);
    // Every call the server completed, counted once across the three runs (two of them killed).
    const { totalUsage } = readSummary(out);
    expect(totalUsage.runs).toBe(3);
    expect(serverCalls(totalUsage.usage)).toBe(serverB.requests.filter((request) => request.status === 200).length);
    expect(last.stdout).toContain('Calls of all 3 runs of this build (usage.jsonl):');
    const responses = jsonLines(readFileSync(join(out, 'stages', 'responses.jsonl'), 'utf8')).map((line) => ResponsesRecord.parse(line));
    expect(new Set(responses.map((record) => record.key)).size).toBe(responses.length);
    const matchIds = jsonLines(readFileSync(join(out, 'stages', 'judge.jsonl'), 'utf8')).flatMap((line) => JudgeBatchRecord.parse(line).results.map((result) => result.matchId));
    expect(new Set(matchIds).size).toBe(matchIds.length);
    expect(datasetFiles(out)).toEqual(datasetFiles(outA()));
  }, 300_000); // three builds in child processes: well past the default timeout on a loaded machine

  it('--dry-run prints the plan and a cost estimate and calls nothing', async () => {
    const before = serverA.requests.length;
    const out = join(root, 'dry');
    const run = await runCliToEnd(['--config', configA, '--out', out, '--dry-run']);
    expect(run.code).toBe(0);
    expect(serverA.requests.length).toBe(before);
    expect(existsSync(out)).toBe(false);
    expect(run.stdout).toContain('Planned calls per stage');
    expect(run.stdout).toMatch(/personas \(G\.1\)\s+generator\s+2\s/);
    expect(run.stdout).toMatch(/judge \(G\.4\)\s+judge\s+\d+/);
    expect(run.stdout).toMatch(/Estimated cost: \$\d+\.\d\d typical, \$\d+\.\d\d at most/);
  });

  it('refuses a bad config with exit 2 and one line per problem', async () => {
    const path = join(root, 'bad.json');
    const config = JSON.parse(readFileSync(configA, 'utf8')) as { providers: { judge: Record<string, unknown> }; judge: Record<string, unknown> };
    config.providers.judge.baseUrl = 'localhost:1234';
    config.judge.batchSize = 9;
    writeFileSync(path, JSON.stringify(config));
    const run = await runCliToEnd(['--config', path, '--out', join(root, 'bad'), '--quiet']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('is not a valid build config');
    expect(run.stderr).toContain('judge.batchSize: expected a whole number from 1 to 5, got 9');
    expect(run.stderr).toContain('providers.judge.baseUrl: expected an http(s) URL such as "https://api.openai.com/v1", got "localhost:1234"');
    expect(existsSync(join(root, 'bad'))).toBe(false);
  });
});

describe('build-dataset with sampled CoTs (baseline on the scripted server)', () => {
  it('re-samples unusable CoTs and conditions phase 2 on categories read from the CoT', async () => {
    const server = await startScriptedOpenAiServer({ '/v1/chat/completions': datasetChatHandler({ ...SCRIPT, unusableCotEvery: 3, faultEvery: undefined, unreadableFor: [] }) });
    servers.push(server);
    const dir = join(root, 'sampled');
    mkdirSync(dir, { recursive: true });
    const config = writeConfig(dir, server, models, {});
    const parsed = JSON.parse(readFileSync(config, 'utf8')) as { providers: Record<string, unknown>; responses: Record<string, unknown> };
    parsed.providers.baseline = { type: 'openai', baseUrl: server.baseUrl, model: 'scripted-zephyr', concurrency: 4, backoffMs: 5 };
    parsed.responses = { ...parsed.responses, personalCots: 'sampled', maxTokens: 512 };
    writeFileSync(config, JSON.stringify(parsed));

    const summary = await buildDataset({ configPath: config, outDir: join(dir, 'out'), reporter: createReporter('silent'), print: () => {} });
    expect(summary.retryable).toBe(0);
    const responses = jsonLines(readFileSync(join(dir, 'out', 'stages', 'responses.jsonl'), 'utf8')).map((line) => ResponsesRecord.parse(line));
    const personal = responses.filter((record) => record.key.startsWith('p-'));
    expect(personal.length).toBeGreaterThan(0);
    for (const record of personal) {
      if (!record.ok) throw new Error(record.error);
      expect(record.cots).toEqual(['Axis: diet\nCategories: Veganism, Ketogenic, Paleo', 'Axis: diet\nCategories: Veganism, Ketogenic, Paleo']);
      expect(record.candidates.filter((candidate) => candidate.phase === 1)).toHaveLength(2);
      for (const candidate of record.candidates.filter((c) => c.phase === 2)) expect(['Veganism', 'Ketogenic', 'Paleo']).toContain(candidate.category);
    }
    // Some CoT slot needed more than one sample (every third scripted CoT is unusable).
    expect(personal.some((record) => record.ok && record.cotSamples > record.cots.length)).toBe(true);
    // Phase-1 answers were cleaned: "As someone who loves keto, …" lost its opener.
    const first = personal[0];
    expect(first?.ok && first.candidates[0]?.text.startsWith('As someone')).toBe(false);
    expect(summary.pairs).toBeGreaterThan(0);

    // The authors' sampling: top_k 50 on every baseline request, none on GPT-4's; G.3 as the paper prints it.
    const baseline = server.requests.filter((request) => (request.body as { model?: string }).model === 'scripted-zephyr');
    expect(baseline.length).toBeGreaterThan(0);
    for (const request of baseline) {
      expect(request.body).toMatchObject({ temperature: 2, top_p: 1, top_k: 50 });
      expect((request.body as { messages: unknown[] }).messages[0]).toEqual({ role: 'system', content: COT_RESPONSE_SYSTEM });
    }
    for (const request of server.requests.filter((other) => !baseline.includes(other))) expect(request.body).not.toHaveProperty('top_k');
    const card = readFileSync(join(dir, 'out', 'DATASET_CARD.md'), 'utf8');
    expect(card).toContain('top-k 50');
    expect(card).toContain('| CoT answers: top-k | 50, sent as `top_k` |');
    expect(card).toContain('| G.3 axis list | the paper\u2019s |');
  });
});
