/// <reference types="@webgpu/types" />
/**
 * The driver page's script (driver.html, in every build): no UI, only `window.playgroundDriver`
 * over the page's own `WorkerEngine` — the same worker, engines and self-hosted runtime files as
 * the page — so a Node process can run a catalog model in headless Chromium through Playwright
 * (scripts/lib/eval/browserEngine.ts, `eval --engine webllm:<id>` / `browser:<id>`).
 *
 * Owns: one loaded engine at a time, call ids → AbortControllers for `cancel`, and turning every
 * failure into a serialized error (see driverApi.ts). Generations queue rather than supersede one
 * another: a batch caller's concurrent requests must all finish.
 */
import './lib/noEval.ts';
import { AppError, toSerializedError } from '../core/errors.ts';
import { WorkerEngine } from './engine/workerEngine.ts';
import type { DriverOutcome, PlaygroundDriver } from './driverApi.ts';

let engine: WorkerEngine | undefined;
const running = new Map<string, AbortController>();

function current(): WorkerEngine {
  if (!engine) throw new AppError('not-loaded', 'The driver page has no model loaded: call load() first.');
  return engine;
}

async function outcome<T>(work: () => Promise<T>): Promise<DriverOutcome<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    return { ok: false, error: toSerializedError(error) };
  }
}

async function withCall<T>(callId: string, work: (signal: AbortSignal) => Promise<T>): Promise<DriverOutcome<T>> {
  const controller = new AbortController();
  running.set(callId, controller);
  try {
    return await outcome(() => work(controller.signal));
  } finally {
    running.delete(callId);
  }
}

const driver: PlaygroundDriver = {
  async probeWebGpu() {
    try {
      return (await navigator.gpu?.requestAdapter()) != null;
    } catch {
      return false;
    }
  },

  load: (spec) =>
    outcome(async () => {
      await engine?.dispose();
      engine = undefined;
      engine = await WorkerEngine.load(spec, {
        onProgress: (progress) => window.playgroundDriverProgress?.(progress),
        generations: 'queue',
      });
      return engine.info;
    }),

  generate: (callId, messages, options) =>
    withCall(callId, (signal) => current().generate(messages, options, (text) => window.playgroundDriverToken?.(callId, text), signal)),

  score: (callId, request) => withCall(callId, (signal) => current().score(request, signal)),

  tokenize: (text) => outcome(() => current().tokenize(text)),

  cancel(callId) {
    running.get(callId)?.abort();
  },

  info: () => engine?.info ?? null,

  async dispose() {
    for (const controller of running.values()) controller.abort();
    await engine?.dispose();
    engine = undefined;
  },
};

window.playgroundDriver = driver;
document.documentElement.dataset['driver'] = 'ready';
