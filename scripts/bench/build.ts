/**
 * bench:build — the dataset build against the scripted OpenAI-compatible server with injected
 * latency (generator, judge and baseline all on it; reward model and embedder are the tiny local
 * encoders). Reports:
 *  - achieved concurrency over the configured limit, per role and overall: for each role, the summed
 *    time its requests spent at the server divided by (limit × the role's busy span, first request
 *    in to last answer out). 1.0 = every slot busy for the whole stage; the stage tails (and the
 *    judge's level boundary) are what keep it below 1;
 *  - the wall-time ratio of a cached re-run (a new output folder over the first run's request cache:
 *    zero HTTP calls, local encoders recomputed) to the first run.
 * The server runs in a worker thread, so its clock and answers are independent of the build's event
 * loop. Timings are noisy on a shared machine, so each of BENCH_ROUNDS rounds (3) is a fresh build
 * then its cached re-run (A B A B …; interleave.ts), and both numbers are medians over the rounds
 * with their spread. Knobs: BENCH_LATENCY_MS (200), BENCH_CONCURRENCY (8), BENCH_QUESTIONS per
 * persona and axis (16). Last line: {"concurrency_utilisation": median, "concurrency_utilisation_spread":
 * {min, q1, q3, max, rounds}, "cached_rerun_time_ratio": median, "cached_rerun_time_ratio_spread": {…}}.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { buildDataset } from '../lib/dataset/build.ts';
import { createReporter } from '../lib/reporter.ts';
import { datasetChatHandler } from '../fixtures/datasetScript.ts';
import { reply, startScriptedOpenAiServer, ScriptedReply, type ScriptedRequest } from '../fixtures/scriptedOpenAiServer.ts';
import { ensureTinyEncoders } from '../fixtures/tinyEncoderFixture.ts';
import { benchRounds, interleave, ratioSpread } from './interleave.ts';

const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 200);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const QUESTIONS = Number(process.env.BENCH_QUESTIONS ?? 16);
const ROUNDS = benchRounds(3);

type ChatRoleName = 'generator' | 'baseline' | 'judge';
interface Timing {
  role: ChatRoleName;
  receivedAt: number;
  respondedAt: number;
}
type FromServer = { kind: 'ready'; baseUrl: string } | { kind: 'timings'; timings: Timing[] };

function roleOf(request: ScriptedRequest): ChatRoleName {
  const system = (request.body as { messages?: { content: string }[] } | undefined)?.messages?.[0]?.content ?? '';
  if (system.startsWith('You are a helpful assistant that selects the output')) return 'judge';
  if (system.startsWith('You are a helpful assistant. You will be given a question')) return 'baseline';
  return 'generator';
}

/**
 * The scripted server runs in a worker thread: its timers and answers do not wait on the build's
 * event loop (whose request-cache writes fsync synchronously), so the timings it records are the
 * endpoint's view of how busy the build kept it.
 */
async function serveInWorker(): Promise<void> {
  const script = datasetChatHandler({
    people: {
      diet: [
        ['Veganism', 'Ellen DeGeneres'],
        ['Gluten-Free', 'Gwyneth Paltrow'],
        ['Ketogenic', 'Halle Berry'],
      ],
      politics: [
        ['Liberal', 'Bernie Sanders'],
        ['Conservative', 'Donald Trump'],
        ['Centrist', 'Halle Berry'],
      ],
    },
    unusableCotEvery: 5,
    malformedJudgeEvery: 6,
  });
  const server = await startScriptedOpenAiServer({
    '/v1/chat/completions': async (body, index, request) => {
      const answer = await script(body, index, request);
      const spec = answer instanceof ScriptedReply ? answer.spec : { body: answer };
      return reply({ ...spec, delayMs: LATENCY_MS });
    },
  });
  parentPort?.on('message', (message: string) => {
    if (message === 'timings') {
      const timings = server.requests.flatMap((request) => (request.respondedAt === undefined ? [] : [{ role: roleOf(request), receivedAt: request.receivedAt, respondedAt: request.respondedAt }]));
      parentPort?.postMessage({ kind: 'timings', timings } satisfies FromServer);
    } else if (message === 'close') {
      void server.close().then(() => parentPort?.close());
    }
  });
  parentPort?.postMessage({ kind: 'ready', baseUrl: server.baseUrl } satisfies FromServer);
}

async function main(): Promise<void> {
  // The worker registers tsx itself (worker threads do not inherit the loader), then runs this file.
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); });`;
  const worker = new Worker(bootstrap, { eval: true });
  const next = () => new Promise<FromServer>((resolve) => worker.once('message', resolve));
  const ready = await next();
  if (ready.kind !== 'ready') throw new Error('The scripted server did not start.');
  const timings = async () => {
    worker.postMessage('timings');
    const message = await next();
    if (message.kind !== 'timings') throw new Error('Unexpected message from the scripted server.');
    return message.timings;
  };

  const root = mkdtempSync(join(tmpdir(), 'bench-build-'));
  const config = benchConfig(ready.baseUrl, await ensureTinyEncoders());
  const configPath = join(root, 'config.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  const timed = async (outDir: string, path: string): Promise<number> => {
    const started = performance.now();
    await buildDataset({ configPath: path, outDir, reporter: createReporter('silent'), print: () => {} });
    return (performance.now() - started) / 1000;
  };

  const utilisations: number[] = [];
  const seen = { requests: 0 };
  const times = await interleave(
    ROUNDS,
    async (round) => {
      const seconds = await timed(join(root, `first-${round}`), configPath);
      const all = await timings();
      const first = all.slice(seen.requests);
      seen.requests = all.length;
      utilisations.push(utilisation(first, round));
      process.stderr.write(`round ${round + 1}: first run ${seconds.toFixed(2)} s (${first.length} HTTP requests, ${LATENCY_MS} ms latency, limit ${CONCURRENCY})\n`);
      return seconds;
    },
    async (round) => {
      const cachedConfig = join(root, `config-cached-${round}.json`);
      writeFileSync(cachedConfig, JSON.stringify({ ...config, cache: join(root, `first-${round}`, 'cache.sqlite') }, null, 2));
      const seconds = await timed(join(root, `cached-${round}`), cachedConfig);
      const all = await timings();
      process.stderr.write(`round ${round + 1}: cached re-run into a new folder ${seconds.toFixed(2)} s (${all.length - seen.requests} HTTP requests)\n`);
      seen.requests = all.length;
      return seconds;
    },
    { alternate: false },
  );
  const resumeSeconds = await timed(join(root, 'first-0'), configPath);
  worker.postMessage('close');

  process.stderr.write(`re-run of a finished folder ${resumeSeconds.toFixed(2)} s\n`);
  const { median: concurrency, ...concurrencySpread } = ratioSpread(utilisations);
  const { median: cachedRatio, ...cachedSpread } = ratioSpread(times.b.map((seconds, i) => seconds / (times.a[i] as number)));
  process.stdout.write(
    `${JSON.stringify({ concurrency_utilisation: concurrency, concurrency_utilisation_spread: concurrencySpread, cached_rerun_time_ratio: cachedRatio, cached_rerun_time_ratio_spread: cachedSpread })}\n`,
  );
}

/** The build config: generator, judge and baseline on the scripted server, the tiny local encoders. */
function benchConfig(baseUrl: string, encoders: { reward: string; embedder: string }) {
  const endpoint = (model: string) => ({ type: 'openai', baseUrl, model, concurrency: CONCURRENCY, backoffMs: 5 });
  return {
    name: 'bench',
    personas: { source: 'generate', axes: ['diet', 'politics'], maxPerAxis: 3 },
    questions: { personalPerPersona: QUESTIONS, divergentPerAxis: QUESTIONS, perCall: 8 },
    responses: { cotsPerQuestion: 2, answersPerCot: 5, maxTokens: 256 },
    filter: { rewardWindow: 8, k: 4, kmeansRestarts: 3 },
    split: { personalTest: 3, personalTrain: 3, divergentTestPerAxis: 3, divergentTrain: 3 },
    providers: {
      generator: endpoint('scripted-gpt-4'),
      judge: endpoint('scripted-gpt-4'),
      baseline: endpoint('scripted-zephyr'),
      reward: { type: 'local', model: encoders.reward },
      embedder: { type: 'local', model: encoders.embedder },
    },
  };
}

/** Achieved over configured concurrency across the chat roles of one build, per role on stderr. */
function utilisation(requests: readonly Timing[], round: number): number {
  const perRole: Record<string, number> = {};
  let busy = 0;
  let capacity = 0;
  for (const role of ['generator', 'baseline', 'judge'] as const) {
    const ofRole = requests.filter((timing) => timing.role === role);
    if (ofRole.length === 0) continue;
    const start = Math.min(...ofRole.map((timing) => timing.receivedAt));
    const end = Math.max(...ofRole.map((timing) => timing.respondedAt));
    const time = ofRole.reduce((sum, timing) => sum + (timing.respondedAt - timing.receivedAt), 0);
    perRole[role] = Number((time / (CONCURRENCY * (end - start))).toFixed(3));
    busy += time;
    capacity += CONCURRENCY * (end - start);
    process.stderr.write(`round ${round + 1}: ${role}: ${ofRole.length} requests, achieved concurrency ${(time / (end - start)).toFixed(2)} of ${CONCURRENCY}\n`);
    if (process.env.BENCH_DEBUG) {
      const buckets: number[] = [];
      for (let t = start; t < end; t += 100) buckets.push(ofRole.filter((r) => r.receivedAt <= t && r.respondedAt > t).length);
      process.stderr.write(`${buckets.join(' ')}\n`);
    }
  }
  process.stderr.write(`round ${round + 1}: utilisation per role: ${JSON.stringify(perRole)}\n`);
  return busy / capacity;
}

await (isMainThread ? main() : serveInWorker());
