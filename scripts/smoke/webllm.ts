/**
 * Opt-in smoke test of the WebLLM engine on a real GPU: `npm run smoke:webllm -- [options]`.
 * Not part of CI: it needs a WebGPU-capable GPU and network access to huggingface.co and
 * raw.githubusercontent.com (prebuilt weights and model libraries).
 *
 * What it does: bundles scripts/smoke/webllmHarness.ts (the real adapter, the real WebLLM) with
 * Vite, serves it on 127.0.0.1 (a secure context, as WebGPU requires), launches Chromium with
 * WebGPU through Playwright (CHROMIUM_PATH, the system's Chromium or Chrome, else Playwright's own;
 * see scripts/lib/chromium.ts), loads a prebuilt model from public/models.json, generates, scores,
 * and prints: the GPU, load time, generation tokens/s, the agreement of scores with the logits and
 * log-probs WebLLM produced while generating the same tokens, whether the order of scored
 * continuations matters, the run-time check's verdict (one pass or forced decoding, and why),
 * forced decoding against one pass on a long pair (times, ratio, max difference), and the scores
 * of two demo pairs. Last line: a JSON object with the scoring comparison.
 *
 * Options:
 *   --model <id>          catalog id or WebLLM model id (default smollm2-360m-instruct-q4f32_1,
 *                         an f32 build that needs no shader-f16)
 *   --model-url <url>     weights folder of a custom build (with --model-lib-url; e.g. Zephyr)
 *   --model-lib-url <url> its compiled .wasm
 *   --max-new-tokens <n>  greedy tokens for the speed figure (default 128)
 *   --headed              show the browser window
 *   --profile <dir>       browser profile kept between runs, so the model stays cached
 *                         (default .cache/smoke-webllm-profile)
 * Extra Chromium flags (e.g. for a Linux GPU: --use-angle=vulkan) go in SMOKE_CHROMIUM_ARGS.
 *
 * Exit: 0 when every check passes; 1 when a check fails; 2 when this machine cannot run it
 * (no WebGPU adapter, the model cannot be loaded, bad options).
 */
import { chromiumExecutablePath } from '../lib/chromium.ts';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from '@playwright/test';
import { build } from 'vite';
import { findEntry, parseCatalog, withCustomUrls, type WebLlmCatalogEntry } from '../../src/core/catalog.ts';
import type * as Harness from './webllmHarness.ts';
import type { ScoringComparison } from '../../src/engines/webllm/index.ts';
import type { SmokeOptions, SmokeReport } from './webllmHarness.ts';

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const HARNESS = join(PROJECT_ROOT, 'scripts/smoke/webllmHarness.ts');
/** Forced decoding replays the logits WebLLM sampled from: equal up to float rounding. */
const RAW_TOLERANCE = 1e-4;
/** WebLLM's log-probs come from an f32 softmax on the GPU. */
const WEBLLM_TOLERANCE = 2e-3;

type HarnessModule = typeof Harness;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'smollm2-360m-instruct-q4f32_1' },
      'model-url': { type: 'string' },
      'model-lib-url': { type: 'string' },
      'max-new-tokens': { type: 'string', default: '128' },
      headed: { type: 'boolean', default: false },
      profile: { type: 'string', default: join(PROJECT_ROOT, '.cache/smoke-webllm-profile') },
    },
  });
  const entry = await pickEntry(values.model, values['model-url'], values['model-lib-url']);
  const maxNewTokens = Number(values['max-new-tokens']);
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 2) throw new UsageError('--max-new-tokens must be an integer ≥ 2');

  const outDir = await mkdtemp(join(tmpdir(), 'webllm-smoke-'));
  let server: Server | undefined;
  try {
    console.log('Bundling the harness with Vite…');
    await build({
      configFile: false,
      root: PROJECT_ROOT,
      logLevel: 'warn',
      define: { 'process.env.NODE_ENV': JSON.stringify('production') },
      build: {
        outDir,
        emptyOutDir: true,
        target: 'es2022',
        minify: false,
        lib: { entry: HARNESS, formats: ['es'], fileName: () => 'harness.js' },
      },
    });
    server = await serve(outDir);
    const address = server.address();
    const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

    await mkdir(values.profile, { recursive: true });
    const executablePath = chromiumExecutablePath(chromium);
    const context = await chromium.launchPersistentContext(values.profile, {
      ...(executablePath ? { executablePath } : {}),
      headless: !values.headed,
      args: ['--enable-unsafe-webgpu', '--ignore-gpu-blocklist', '--enable-features=Vulkan', ...(process.env.SMOKE_CHROMIUM_ARGS?.split(/\s+/).filter(Boolean) ?? [])],
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      page.on('console', (message) => console.log(`  ${message.text()}`));
      await page.goto(`${origin}/`);
      const options: SmokeOptions = { entry, maxNewTokens, referenceTokens: 32, seed: 7 };
      console.log(`Loading ${entry.label} [${entry.modelId}] (about ${entry.sizes.downloadMB} MB the first time)…`);
      const report = await page.evaluate(
        async ({ url, smoke }) => ((await import(url)) as HarnessModule).runSmoke(smoke),
        { url: `${origin}/harness.js`, smoke: options },
      );
      process.exitCode = printReport(entry, report);
    } finally {
      await context.close();
    }
  } finally {
    server?.close();
    await rm(outDir, { recursive: true, force: true });
  }
}

async function pickEntry(id: string, modelUrl: string | undefined, modelLibUrl: string | undefined): Promise<WebLlmCatalogEntry> {
  const catalog = parseCatalog(await readFile(join(PROJECT_ROOT, 'public/models.json'), 'utf8'));
  const entry = findEntry(catalog, id);
  if (!entry) throw new UsageError(`No model "${id}" in public/models.json.`);
  if (entry.engine !== 'webllm') throw new UsageError(`${entry.label} runs on Transformers.js, not WebLLM.`);
  if (modelUrl !== undefined || modelLibUrl !== undefined) {
    if (!modelUrl || !modelLibUrl) throw new UsageError('--model-url and --model-lib-url go together.');
    return withCustomUrls(entry, { modelUrl, modelLibUrl });
  }
  if (entry.modelUrl === null || entry.modelLibUrl === null) {
    throw new UsageError(`${entry.label} is a build you host: pass --model-url and --model-lib-url (README, "Zephyr-7B-beta on WebLLM").`);
  }
  return entry;
}

/** Static files on 127.0.0.1 (a secure context, so WebGPU is exposed); `/` is an empty page. */
async function serve(root: string): Promise<Server> {
  const types: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.html': 'text/html' };
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    if (path === '/favicon.ico') {
      response.writeHead(204).end();
      return;
    }
    if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><meta charset="utf-8"><title>WebLLM smoke</title>');
      return;
    }
    const file = normalize(join(root, path));
    if (!file.startsWith(root + sep)) {
      response.writeHead(403).end();
      return;
    }
    readFile(file).then(
      (body) => response.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(body),
      () => response.writeHead(404).end(),
    );
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return server;
}

/** Prints the report; returns the exit code. */
function printReport(entry: WebLlmCatalogEntry, report: SmokeReport): number {
  const { gpu } = report;
  console.log(`\nWebLLM smoke: ${entry.label} [${entry.modelId}]`);
  if (!gpu.available) {
    console.log('GPU: no WebGPU adapter in this browser (try --headed, SMOKE_CHROMIUM_ARGS="--use-angle=vulkan", or another machine).');
    return 2;
  }
  console.log(`GPU: ${[gpu.vendor, gpu.architecture, gpu.description].filter(Boolean).join(' / ') || 'unknown'} (shader-f16: ${gpu.shaderF16 ? 'yes' : 'no'})`);
  if (gpu.architecture === 'swiftshader') console.log('  (SwiftShader is a CPU implementation: expect very low speed.)');
  if (report.error) {
    console.log(`Failed: [${report.error.code}] ${report.error.message}`);
    return report.loadSeconds === undefined ? 2 : 1;
  }
  const checks: boolean[] = [];
  if (report.loadSeconds !== undefined) console.log(`Load: ${report.loadSeconds.toFixed(1)} s`);
  const generation = report.generation;
  if (generation) {
    const first = generation.firstTokenSeconds === null ? '' : `, first token after ${generation.firstTokenSeconds.toFixed(2)} s`;
    const decode = generation.decodeTokensPerSecond === null ? '' : `, ${generation.decodeTokensPerSecond.toFixed(1)} tok/s decoding`;
    console.log(`Generation: ${generation.tokens} tokens in ${generation.seconds.toFixed(2)} s = ${generation.tokensPerSecond.toFixed(1)} tok/s${decode}${first} (finish: ${generation.finishReason})`);
  }
  const agreement = report.agreement;
  if (agreement) {
    console.log(`Agreement over ${agreement.tokens} sampled tokens (temperature 1):`);
    const raw = agreement.maxDiffRawLogits <= RAW_TOLERANCE;
    console.log(`  forced decoding vs the raw logits WebLLM sampled from: max |Δ log p| = ${agreement.maxDiffRawLogits.toExponential(2)} (≤ ${RAW_TOLERANCE}) ${raw ? 'ok' : 'FAIL'}`);
    checks.push(raw);
    if (agreement.maxDiffWebLlmLogprobs === null) {
      console.log("  WebLLM's own logprobs: a different number of entries than sampled tokens, not compared");
    } else {
      const own = agreement.maxDiffWebLlmLogprobs <= WEBLLM_TOLERANCE;
      console.log(`  forced decoding vs WebLLM's own logprobs: max |Δ| = ${agreement.maxDiffWebLlmLogprobs.toExponential(2)} (≤ ${WEBLLM_TOLERANCE}) ${own ? 'ok' : 'FAIL'}`);
      checks.push(own);
    }
    console.log(`  prompt tokens: ${agreement.adapterPromptTokens} scored by the adapter (prefix ids included), ${agreement.webllmPromptTokens ?? '?'} counted by WebLLM (prefix ids excluded)`);
    if (!raw) console.log('  A large difference means the prompt was tokenized differently (Transformers.js vs tokenizers-cpp) or the scoring loop is misaligned.');
  }
  const scoring = report.scoring;
  if (scoring) {
    console.log(`Scoring method chosen at the first score: ${scoring.check?.method ?? 'unknown'}. ${scoring.check?.reason ?? ''}`);
    const comparison = scoring.comparison;
    if (comparison) {
      const { forced, fast } = medianSeconds(comparison);
      console.log(
        `Forced decoding vs ${comparison.fastMethod} on a ${scoring.promptTokens}-token prompt with answers of ${scoring.answerTokens.join(' and ')} tokens: ${forced.toFixed(2)} s vs ${fast.toFixed(2)} s, median speedup ${comparison.medianSpeedup.toFixed(1)}× over ${comparison.rounds.length} interleaved rounds, max |Δ log p| ${comparison.maxAbsDiff.toExponential(2)}`,
      );
    }
  }
  if (report.orderIndependent !== undefined) {
    console.log(`Scoring order independence (resets between continuations): ${report.orderIndependent ? 'ok' : 'FAIL'}`);
    checks.push(report.orderIndependent);
  }
  for (const pair of report.pairs ?? []) {
    console.log(
      `Pair "${pair.id}": chosen ${pair.chosenMean.toFixed(3)}, rejected ${pair.rejectedMean.toFixed(3)}, margin ${pair.margin.toFixed(3)} (${pair.correct ? 'prefers chosen' : 'prefers rejected'}), ${pair.tokens} tokens in ${pair.seconds.toFixed(2)} s`,
    );
  }
  const passed = checks.length > 0 && checks.every(Boolean);
  console.log(passed ? '\nResult: PASS' : '\nResult: FAIL');
  const comparison = report.scoring?.comparison;
  console.log(
    JSON.stringify({
      model: entry.modelId,
      method: report.scoring?.check?.method ?? null,
      forced_seconds: comparison ? medianSeconds(comparison).forced : null,
      fast_seconds: comparison ? medianSeconds(comparison).fast : null,
      speedup_median: comparison?.medianSpeedup ?? null,
      max_abs_diff: comparison?.maxAbsDiff ?? null,
      check_max_abs_diff: report.scoring?.check?.maxAbsDiff ?? null,
    }),
  );
  return passed ? 0 : 1;
}

/** Median seconds of each path over the interleaved rounds. */
function medianSeconds(comparison: ScoringComparison): { forced: number; fast: number } {
  const median = (values: number[]) => ([...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number) / 1000;
  return { forced: median(comparison.rounds.map((r) => r.referenceMs)), fast: median(comparison.rounds.map((r) => r.fastMs)) };
}

class UsageError extends Error {}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 2;
});
