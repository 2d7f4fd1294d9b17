/// <reference types="@webgpu/types" />
/**
 * Browser-side harness for tests/e2e/worker.spec.ts, bundled into test builds only
 * (PLAYGROUND_TEST_BUILD=1). It drives the real WorkerEngine — the real module worker with the
 * Transformers.js engine — and returns plain, cloneable results to Playwright through
 * `window.harness`. It keeps its own handle on the Worker it starts, so a test can kill the
 * worker behind the client's back (a silent death) or post the test-only `crash` request.
 */
import '../../../src/app/lib/noEval.ts';
import type { EngineInfo, GenerateOptionsInput, GenerateResult, LoadProgress, ScoreRequest, ScoreResult } from '../../../src/core/engine.ts';
import { AppError, toSerializedError, type SerializedError } from '../../../src/core/errors.ts';
import type { ChatMessage } from '../../../src/core/chat.ts';
import type { CacheStatus, EngineSpecInput, WorkerRequestInput } from '../../../src/core/protocol.ts';
import { WorkerEngine, startEngineWorker, type LivenessOptions, type WorkerLike } from '../../../src/app/engine/workerEngine.ts';

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: SerializedError };

export interface LoadReport {
  info: EngineInfo;
  ms: number;
  /** Every progress report, with the milliseconds since load() was called. */
  progress: (LoadProgress & { atMs: number })[];
}

export interface GenerateReport {
  result: GenerateResult;
  deltas: string[];
  ms: number;
  /** Milliseconds from the call to the first streamed delta. */
  firstDeltaMs: number | null;
}

export type CrashHow = 'crash-request' | 'silent-terminate' | 'client-terminate';

export interface CrashReport {
  /** The generation that was streaming when the worker died. */
  pending: Outcome<GenerateResult>;
  deltasBeforeCrash: number;
  /** What onCrash listeners received. */
  crashes: SerializedError[];
  aliveAfter: boolean;
  /** A request made after the crash. */
  later: Outcome<number[]>;
  /** Milliseconds from killing the worker to the pending request's rejection. */
  detectionMs: number;
}

export interface Harness {
  probeWebGpu(): Promise<{ adapter: boolean; vendor: string; architecture: string; shaderF16: boolean }>;
  load(device: 'webgpu' | 'wasm', liveness?: LivenessOptions | false): Promise<LoadReport>;
  generate(messages: ChatMessage[], options: GenerateOptionsInput): Promise<GenerateReport>;
  tokenize(text: string): Promise<number[]>;
  score(request: ScoreRequest): Promise<{ result: ScoreResult; ms: number }>;
  cacheStatus(): Promise<Outcome<CacheStatus>>;
  /** Cancels a streaming generation after `afterDeltas` deltas. */
  cancelAfter(afterDeltas: number): Promise<GenerateReport>;
  /** Starts two generations at once: the first is superseded by the second. */
  supersede(): Promise<{ first: Outcome<GenerateResult>; second: Outcome<GenerateResult>; firstDeltas: number }>;
  crashMidGeneration(how: CrashHow): Promise<CrashReport>;
  /** Posts the crash request while a load is fetching files. */
  crashDuringLoad(device: 'webgpu' | 'wasm'): Promise<{ pending: Outcome<EngineInfo>; progressBeforeCrash: number; crashes: SerializedError[]; detectionMs: number }>;
  workersStarted(): number;
  /** Loads any spec in a fresh worker and releases it (the network-policy tests); never throws. */
  tryLoad(spec: EngineSpecInput): Promise<Outcome<EngineInfo>>;
  dispose(): Promise<void>;
}

declare global {
  interface Window {
    harness: Harness;
  }
}

let engine: WorkerEngine | undefined;
let worker: WorkerLike | undefined;
let started = 0;
const crashes: SerializedError[] = [];

function current(): WorkerEngine {
  if (!engine) throw new AppError('not-loaded', 'Harness: call load() first.');
  return engine;
}

async function outcome<T>(promise: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error: toSerializedError(error) };
  }
}

/** Long enough to still be streaming when a test interrupts it (the tiny model rarely samples EOS). */
const LONG_GENERATION = { maxNewTokens: 400, temperature: 1, seed: 5 } as const;
const PROMPT: ChatMessage[] = [{ role: 'user', content: 'Tell me a long story about the sea.' }];

function untilDeltas(count: number): { onToken: (text: string) => void; reached: Promise<void>; seen: () => number } {
  let seen = 0;
  let reach: () => void = () => {};
  const reached = new Promise<void>((resolve) => (reach = resolve));
  return {
    onToken: () => {
      if (++seen === count) reach();
    },
    reached,
    seen: () => seen,
  };
}

function startLoad(device: 'webgpu' | 'wasm', liveness: LivenessOptions | false | undefined, onProgress: (report: LoadProgress) => void): Promise<WorkerEngine> {
  return WorkerEngine.load(
    // Relative to this page (tests/e2e/harness/), as the client must resolve them: the build's root.
    { backend: 'transformers', options: { model: 'tiny-llama', device, localModelPath: '../../../models/', wasmPaths: '../../../ort/', useBrowserCache: false } },
    {
      onProgress,
      onCrash: (error) => crashes.push(error.toJSON()),
      createWorker: () => {
        started++;
        worker = startEngineWorker();
        return worker;
      },
      ...(liveness === undefined ? {} : { liveness }),
    },
  );
}

/** The test-only request that makes the worker throw an uncaught error (test builds only). */
function postCrashRequest(): void {
  const crash: WorkerRequestInput = { id: 'harness-crash', kind: 'crash', payload: {} };
  worker?.postMessage(crash);
}

const harness: Harness = {
  async probeWebGpu() {
    const adapter = await navigator.gpu?.requestAdapter();
    return {
      adapter: adapter !== null && adapter !== undefined,
      vendor: adapter?.info.vendor ?? '',
      architecture: adapter?.info.architecture ?? '',
      shaderF16: adapter?.features.has('shader-f16') ?? false,
    };
  },

  async load(device, liveness) {
    await engine?.dispose();
    const progress: LoadReport['progress'] = [];
    const start = performance.now();
    engine = await startLoad(device, liveness, (report) => progress.push({ ...report, atMs: performance.now() - start }));
    return { info: engine.info, ms: performance.now() - start, progress };
  },

  async crashDuringLoad(device) {
    await engine?.dispose();
    engine = undefined;
    crashes.length = 0;
    let progressBeforeCrash = 0;
    let firstProgress: () => void = () => {};
    const progressed = new Promise<void>((resolve) => (firstProgress = resolve));
    const loading = outcome(
      startLoad(device, undefined, () => {
        progressBeforeCrash++;
        firstProgress();
      }).then((loaded) => loaded.info),
    );
    // The load is fetching files (the worker's event loop is free): the crash request is read at once.
    await progressed;
    const killedAt = performance.now();
    postCrashRequest();
    const pending = await loading;
    return { pending, progressBeforeCrash, crashes: [...crashes], detectionMs: performance.now() - killedAt };
  },

  async generate(messages, options) {
    const deltas: string[] = [];
    const start = performance.now();
    let firstDeltaMs: number | null = null;
    const result = await current().generate(messages, options, (text) => {
      firstDeltaMs ??= performance.now() - start;
      deltas.push(text);
    });
    return { result, deltas, ms: performance.now() - start, firstDeltaMs };
  },

  tokenize: (text) => current().tokenize(text),

  async score(request) {
    const start = performance.now();
    const result = await current().score(request);
    return { result, ms: performance.now() - start };
  },

  cacheStatus: () => outcome(current().cacheStatus()),

  async cancelAfter(afterDeltas) {
    const controller = new AbortController();
    const deltas: string[] = [];
    const start = performance.now();
    const result = await current().generate(PROMPT, LONG_GENERATION, (text) => {
      deltas.push(text);
      if (deltas.length === afterDeltas) controller.abort();
    }, controller.signal);
    return { result, deltas, ms: performance.now() - start, firstDeltaMs: null };
  },

  async supersede() {
    const first = untilDeltas(2);
    const firstResult = outcome(current().generate(PROMPT, LONG_GENERATION, first.onToken));
    await first.reached;
    const second = outcome(current().generate(PROMPT, { maxNewTokens: 8, temperature: 0 }));
    return { first: await firstResult, second: await second, firstDeltas: first.seen() };
  },

  async crashMidGeneration(how) {
    const target = current();
    crashes.length = 0;
    const streaming = untilDeltas(3);
    const pendingResult = outcome(target.generate(PROMPT, LONG_GENERATION, streaming.onToken));
    await streaming.reached;
    const killedAt = performance.now();
    if (how === 'crash-request') {
      postCrashRequest();
    } else if (how === 'silent-terminate') {
      // Behind the client's back: no event reaches it, only its liveness check can notice.
      worker?.terminate();
    } else {
      target.terminate();
    }
    const pending = await pendingResult;
    const detectionMs = performance.now() - killedAt;
    const deltasBeforeCrash = streaming.seen();
    const later = await outcome(target.tokenize('after the crash'));
    return { pending, deltasBeforeCrash, crashes: [...crashes], aliveAfter: target.alive, later, detectionMs };
  },

  workersStarted: () => started,

  tryLoad(spec) {
    return outcome(
      WorkerEngine.load(spec, { liveness: false }).then(async (loaded) => {
        await loaded.dispose();
        return loaded.info;
      }),
    );
  },

  async dispose() {
    await engine?.dispose();
    engine = undefined;
  },
};

window.harness = harness;
const status = document.getElementById('status');
if (status) status.textContent = 'ready';
