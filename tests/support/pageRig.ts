/**
 * The page's root state (`Playground`) in Node, for the `page` vitest project: an in-memory
 * IndexedDB (fake-indexeddb, a fresh factory per rig), the page's own files (models.json, the demo
 * set) served from public/ through `fetch`, a browser without WebGPU, and the model worker replaced
 * by the real EngineHost running in this process over FakeEngine, behind the real WorkerEngine
 * client: the state reaches the model only through the worker protocol, as on the page.
 *
 * Time is fake (vi.useFakeTimers): `drive` (fakeClock.ts) runs the clock until a promise settles, so
 * debounces, frame batches, worker message hops and the fake engine's token steps happen in order
 * without any real waiting. setImmediate stays real: fake-indexeddb completes its requests on it,
 * like I/O, whatever the clock says.
 */
import 'fake-indexeddb/auto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IDBFactory } from 'fake-indexeddb';
import { vi } from 'vitest';
import { Playground } from '../../src/app/state/playground.svelte.ts';
import { fakeEngineFactories, type FakeEngine } from './fakeEngine.ts';
import { drive } from './fakeClock.ts';
import { inProcessWorkers, type InProcessWorker } from './inProcessWorker.ts';

export interface PageRig {
  playground: Playground;
  workers: InProcessWorker[];
  engines: FakeEngine[];
  /** Opens another page on the same database (a reload). */
  reopen(): Promise<PageRig>;
}

/** Installs the fake clock, the empty IndexedDB and the page's surroundings; undone by `restorePageEnvironment`. */
export function installPageEnvironment(): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.stubGlobal('indexedDB', new IDBFactory());
  // A browser without WebGPU: the offline default (Transformers.js on WASM) is what loads.
  vi.stubGlobal('navigator', {});
  vi.stubGlobal('fetch', servePublic);
}

export function restorePageEnvironment(): void {
  vi.useRealTimers();
  vi.unstubAllGlobals();
}

async function servePublic(input: string | URL | Request): Promise<Response> {
  const path = typeof input === 'string' ? input : input instanceof URL ? input.pathname : input.url;
  try {
    return new Response(await readFile(join('public', path.replace(/^\.?\//, ''))));
  } catch {
    return new Response('Not found', { status: 404 });
  }
}

/** Opens the playground as the page does, with the fake engine (one token per fake ms) behind an in-process worker. */
export async function openPlayground(dbName = 'page-test'): Promise<PageRig> {
  const { factories, engines } = fakeEngineFactories();
  const { workers, options } = inProcessWorkers(factories);
  const playground = await drive(Playground.create({ dbName, worker: options }));
  return { playground, workers, engines, reopen: () => openPlayground(dbName) };
}

/** Loads the catalog's selected model (the tiny one) through the worker. */
export async function loadModel(playground: Playground): Promise<void> {
  await drive(playground.model.load());
  if (playground.model.status !== 'ready') throw new Error(`The model did not load: ${JSON.stringify(playground.model.error)}`);
}

/** Lets pending work (debounced saves, context loads, IndexedDB requests) run for `ms` of fake time. */
export async function settle(ms = 100): Promise<void> {
  await drive(new Promise<void>((resolve) => setTimeout(resolve, ms)));
}

/** Pastes `text` into the pairs editor and lets validation, saving and the person's context load run. */
export async function paste(playground: Playground, text: string): Promise<void> {
  playground.pairs.text = text;
  playground.flush();
  await settle(1000);
}
