import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Engine } from '../../src/core/engine.ts';
import { AppError } from '../../src/core/errors.ts';
import type { SpecOptions } from '../../src/core/protocol.ts';
import { WorkerEngine, withAbsoluteUrls, type WorkerEngineOptions } from '../../src/app/engine/workerEngine.ts';
import type { EngineFactories } from '../../workers/engineHost.ts';
import { drive } from '../support/fakeClock.ts';
import { inProcessWorkers, type InProcessWorker } from '../support/inProcessWorker.ts';
import { fakeEngineFactories, fakeLogprobs, sleep, FakeEngine } from '../support/fakeEngine.ts';

interface Rig {
  workers: InProcessWorker[];
  engines: FakeEngine[];
  created: SpecOptions<'transformers'>[];
  options: WorkerEngineOptions;
  load(overrides?: Partial<WorkerEngineOptions>): Promise<WorkerEngine>;
}

function rig(factories: Partial<EngineFactories> = {}, stepMs = 1): Rig {
  const { factories: all, engines, created } = fakeEngineFactories(factories, stepMs);
  const { workers, options } = inProcessWorkers(all);
  return {
    workers,
    engines,
    created,
    options,
    load: (overrides = {}) => WorkerEngine.load({ backend: 'transformers', options: { model: 'tiny', device: 'wasm' } }, { ...options, ...overrides }),
  };
}

const MESSAGES = [{ role: 'user' as const, content: 'Hi' }];
const CRASH_MESSAGE = /^The model worker stopped \(.+\): reload the model; if it keeps happening choose a smaller model\.$/;

let toDispose: WorkerEngine[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(toDispose.map((engine) => engine.dispose()));
  toDispose = [];
});

async function loadedRig(factories: Partial<EngineFactories> = {}, overrides: Partial<WorkerEngineOptions> = {}, stepMs = 1) {
  const r = rig(factories, stepMs);
  const engine = await r.load(overrides);
  toDispose.push(engine);
  return { ...r, engine, worker: r.workers[0] as InProcessWorker };
}

describe('WorkerEngine against the real host in a fake worker', () => {
  it('is an Engine', () => {
    expectTypeOfEngine(WorkerEngine.prototype);
  });

  it('loads: progress reaches onProgress, info is the worker engine\'s, and URLs arrive absolute with page-relative defaults', async () => {
    const onProgress = vi.fn();
    const { engine, created, engines } = await loadedRig({}, { onProgress });
    expect(engine.info).toEqual(engines[0]?.info);
    expect(onProgress.mock.calls.map(([progress]) => progress.stage)).toEqual(['fetch', 'ready']);
    expect(created).toEqual([{ model: 'tiny', device: 'wasm', localModelPath: '/app/models/', wasmPaths: 'https://example.org/app/ort/' }]);
  });

  it('streams a generation to onToken and resolves with the result; scores and tokenizes through the worker', async () => {
    const { engine } = await loadedRig();
    const deltas: string[] = [];
    const result = await engine.generate(MESSAGES, { maxNewTokens: 4 }, (text) => deltas.push(text));
    expect(deltas).toEqual([' w0', ' w1', ' w2', ' w3']);
    expect(result).toMatchObject({ text: deltas.join(''), finishReason: 'length', tokenIds: [100, 101, 102, 103] });
    const request = { promptIds: [1, 9], continuations: [[4, 5], [6]] };
    expect(await engine.score(request)).toEqual({ logprobs: fakeLogprobs(request), method: 'fake' });
    expect(await engine.tokenize('hé')).toEqual([104, 233]);
  });

  it('rejects invalid input with invalid-input before anything is sent', async () => {
    const { engine, worker } = await loadedRig();
    const before = worker.sent.length;
    await expect(engine.score({ promptIds: [1], continuations: [] })).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringContaining('continuations') });
    await expect(engine.generate(MESSAGES, { maxNewTokens: -1 })).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringContaining('options.maxNewTokens') });
    expect(worker.sent.length).toBe(before);
    await expect(WorkerEngine.load({ backend: 'transformers', options: { model: '', device: 'wasm' } }, rig().options)).rejects.toMatchObject({
      code: 'invalid-input',
      message: expect.stringContaining('options.model'),
    });
  });

  it('turns an aborted signal into a cancel message; the worker stops the generation', async () => {
    const { engine, worker } = await loadedRig();
    const controller = new AbortController();
    let streamed = 0;
    const result = await engine.generate(MESSAGES, { maxNewTokens: 500 }, () => {
      if (++streamed === 2) controller.abort();
    }, controller.signal);
    expect(result.finishReason).toBe('aborted');
    expect(result.tokenIds.length).toBeLessThan(50);
    const generate = worker.sent.find((message) => message.kind === 'generate');
    expect(worker.sent).toContainEqual({ id: expect.any(String), kind: 'cancel', payload: { targetId: generate?.id } });
    await expect(engine.score({ promptIds: [1], continuations: [[2]] }, AbortSignal.abort())).rejects.toMatchObject({ code: 'aborted' });
  });

  it('lets the newest generation win: the older one rejects at once, its later tokens are dropped, and the worker cancels it', async () => {
    const { engine, worker } = await loadedRig();
    const first: string[] = [];
    const older = engine.generate(MESSAGES, { maxNewTokens: 500 }, (text) => first.push(text));
    await vi.waitFor(() => expect(first.length).toBeGreaterThan(0));
    const newer = engine.generate(MESSAGES, { maxNewTokens: 3 });
    await expect(older).rejects.toEqual(new AppError('aborted', 'Superseded by a newer generation.'));
    const seenWhenSuperseded = first.length;
    expect((await newer).text).toBe(' w0 w1 w2');
    expect(first.length).toBe(seenWhenSuperseded);
    const olderId = worker.sent.find((message) => message.kind === 'generate')?.id;
    expect(worker.sent.some((message) => message.kind === 'cancel' && message.payload.targetId === olderId)).toBe(true);
  });

  it('queues generations instead when asked to', async () => {
    const { engine } = await loadedRig({}, { generations: 'queue' });
    const [a, b] = await Promise.all([engine.generate(MESSAGES, { maxNewTokens: 2 }), engine.generate(MESSAGES, { maxNewTokens: 3 })]);
    expect([a.tokenIds.length, b.tokenIds.length]).toEqual([2, 3]);
  });

  it('on a worker error event rejects everything pending with worker-crashed, tells crash listeners once, and refuses later calls', async () => {
    const onCrash = vi.fn();
    const { engine, worker } = await loadedRig({}, { onCrash });
    const listener = vi.fn();
    engine.onCrash(listener);
    const removed = vi.fn();
    engine.onCrash(removed)();
    const pending = engine.generate(MESSAGES, { maxNewTokens: 500 });
    const queued = engine.score({ promptIds: [1], continuations: [[2]] });
    await sleep(5);
    worker.fail('RangeError: Array buffer allocation failed');
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'worker-crashed', message: expect.stringMatching(CRASH_MESSAGE) });
    expect(String((error as AppError).message)).toContain('(error: RangeError: Array buffer allocation failed)');
    await expect(queued).rejects.toMatchObject({ code: 'worker-crashed' });
    expect(onCrash).toHaveBeenCalledOnce();
    expect(listener).toHaveBeenCalledOnce();
    expect(removed).not.toHaveBeenCalled();
    expect(worker.terminated).toBe(true);
    expect(engine.alive).toBe(false);
    await expect(engine.tokenize('a')).rejects.toMatchObject({ code: 'worker-crashed' });
  });

  it('starts a fresh worker for the next load after a crash', async () => {
    const r = rig();
    const first = await r.load();
    first.terminate();
    const second = await r.load();
    toDispose.push(second);
    expect(r.workers).toHaveLength(2);
    expect(await second.tokenize('ok')).toEqual([111, 107]);
  });

  it('treats a messageerror and terminate() by the page as crashes too', async () => {
    const a = await loadedRig();
    const pendingA = a.engine.generate(MESSAGES, { maxNewTokens: 500 });
    a.worker.dispatchEvent(new MessageEvent('messageerror'));
    await expect(pendingA).rejects.toMatchObject({ code: 'worker-crashed', message: expect.stringContaining('(one of its replies could not be read)') });

    const b = await loadedRig();
    const onCrash = vi.fn();
    b.engine.onCrash(onCrash);
    const pendingB = b.engine.score({ promptIds: [1], continuations: [[2]] });
    b.engine.terminate();
    await expect(pendingB).rejects.toMatchObject({ code: 'worker-crashed', message: expect.stringContaining('(terminated by the page)') });
    expect(onCrash).toHaveBeenCalledOnce();
    expect(b.worker.terminated).toBe(true);
  });

  // The two liveness tests run on fake time: on real time a busy machine can delay a pong past the timeout.
  it('detects a worker that went silent while a request was pending, by pinging it', async () => {
    vi.useFakeTimers();
    const { engine, worker } = await drive(loadedRig({}, { liveness: { intervalMs: 10, timeoutMs: 150 } }));
    const pending = engine.generate(MESSAGES, { maxNewTokens: 10_000 });
    await drive(sleep(20));
    worker.silent = true;
    const started = Date.now();
    await expect(drive(pending)).rejects.toMatchObject({ code: 'worker-crashed', message: expect.stringMatching(/\(no reply for \d+ s\)/) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(worker.terminated).toBe(true);
  });

  it('does not mistake a slow but answering worker for a dead one, and does not ping an idle one', async () => {
    // Each score step takes 60 ms, over the 40 ms timeout: only the pongs keep it alive.
    vi.useFakeTimers();
    const { engine, worker } = await drive(loadedRig({}, { liveness: { intervalMs: 10, timeoutMs: 40 } }, 60));
    const request = { promptIds: [1], continuations: [[2]] };
    for (let i = 0; i < 4; i++) expect(await drive(engine.score(request))).toEqual({ logprobs: fakeLogprobs(request), method: 'fake' });
    expect(engine.alive).toBe(true);
    const pings = worker.sent.filter((message) => message.kind === 'ping').length;
    expect(pings).toBeGreaterThan(0);
    await drive(sleep(60));
    expect(worker.sent.filter((message) => message.kind === 'ping').length).toBe(pings);
  });

  it('rejects a failed load with the worker\'s error and ends that worker', async () => {
    const r = rig({
      transformers: async () => ({
        create: async () => {
          throw new AppError('model-files-missing', 'Model files not found for "tiny": expected config.json.');
        },
      }),
    });
    await expect(r.load()).rejects.toEqual(new AppError('model-files-missing', 'Model files not found for "tiny": expected config.json.'));
    expect(r.workers[0]?.terminated).toBe(true);
  });

  it('cancels a load through its signal by ending the worker', async () => {
    const r = rig({ transformers: async () => ({ create: () => new Promise(() => {}) }) });
    const controller = new AbortController();
    const loading = r.load({ signal: controller.signal });
    await sleep(5);
    controller.abort();
    await expect(loading).rejects.toMatchObject({ code: 'aborted', message: 'Loading was cancelled.' });
    expect(r.workers[0]?.terminated).toBe(true);
    await expect(r.load({ signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'aborted' });
    expect(r.workers).toHaveLength(1);
  });

  it('rejects a request whose reply is malformed or answers another kind of request, with internal', async () => {
    const { engine, worker } = await loadedRig({}, {}, 50);
    const first = engine.tokenize('a');
    const firstId = worker.sent.at(-1)?.id;
    worker.inject({ id: firstId, kind: 'result', request: 'tokenize', payload: { ids: 'nope' } });
    await expect(first).rejects.toMatchObject({ code: 'internal', message: expect.stringContaining('malformed reply to tokenize') });
    const second = engine.tokenize('b');
    const secondId = worker.sent.at(-1)?.id;
    worker.inject({ id: secondId, kind: 'result', request: 'ping', payload: {} });
    await expect(second).rejects.toMatchObject({ code: 'internal', message: expect.stringContaining('answered a tokenize request with a ping result') });
  });

  it('warns about an error the worker could not address to a request, and settles nothing with it', async () => {
    const { engine, worker } = await loadedRig();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      worker.inject({ id: null, kind: 'error', error: { code: 'invalid-input', message: 'The model worker received a malformed request: …' } });
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('The model worker rejected a request: The model worker received a malformed request'));
      expect(await engine.tokenize('ok')).toEqual([111, 107]);
    } finally {
      warn.mockRestore();
    }
  });

  it('ends the worker on an error the device cannot recover from, after rejecting the request with it', async () => {
    const { engine, engines } = await loadedRig();
    const onCrash = vi.fn();
    engine.onCrash(onCrash);
    (engines[0] as FakeEngine).failNext = new AppError('device-lost', 'The GPU was lost: reload the page.');
    await expect(engine.tokenize('a')).rejects.toMatchObject({ code: 'device-lost' });
    expect(onCrash).toHaveBeenCalledWith(expect.objectContaining({ code: 'worker-crashed', message: expect.stringContaining('device-lost') }));
    expect(engine.alive).toBe(false);
  });

  it('disposes: the worker stops its work, unloads its engine and ends; later calls reject with aborted', async () => {
    const { engine, worker, engines } = await loadedRig({}, { generations: 'queue' });
    const onCrash = vi.fn();
    engine.onCrash(onCrash);
    const running = engine.generate(MESSAGES, { maxNewTokens: 10_000 });
    const queued = engine.score({ promptIds: [1], continuations: [[2]] }).catch((error: unknown) => error);
    await sleep(10);
    await engine.dispose();
    // The running generation stops at its next step, as a cancelled one does; queued work is refused.
    expect(await running).toMatchObject({ finishReason: 'aborted' });
    expect(await queued).toMatchObject({ code: 'aborted', message: expect.stringContaining('unloaded') });
    expect(worker.sent.some((message) => message.kind === 'unload')).toBe(true);
    expect(engines[0]?.disposed).toBe(true);
    expect(worker.terminated).toBe(true);
    expect(onCrash).not.toHaveBeenCalled();
    await expect(engine.score({ promptIds: [1], continuations: [[2]] })).rejects.toMatchObject({ code: 'aborted', message: expect.stringContaining('load it again') });
  });

  it('passes cache requests through: the loaded spec by default, another model of the same backend by id', async () => {
    const cacheStatus = vi.fn(async (options: SpecOptions<'webllm'>) => ({ cached: options.modelId === 'other' }));
    const deleteCache = vi.fn(async () => {});
    const r = rig({ webllm: async () => ({ create: async () => new FakeEngine('web'), cacheStatus, deleteCache }) });
    const engine = await WorkerEngine.load({ backend: 'webllm', options: { modelId: 'web', modelUrl: 'models/web/', cacheBackend: 'indexeddb' } }, r.options);
    toDispose.push(engine);
    expect(await engine.cacheStatus()).toEqual({ cached: false });
    expect(await engine.cacheStatus('other')).toEqual({ cached: true });
    await engine.deleteCache('other');
    const page = 'https://example.org/app/index.html';
    expect(cacheStatus.mock.calls.map(([options]) => options)).toEqual([
      { modelId: 'web', modelUrl: 'https://example.org/app/models/web/', cacheBackend: 'indexeddb', baseUrl: page },
      { modelId: 'other', cacheBackend: 'indexeddb', baseUrl: page },
    ]);
    expect(deleteCache).toHaveBeenCalledWith({ modelId: 'other', cacheBackend: 'indexeddb', baseUrl: page });

    const { engine: transformers } = await loadedRig();
    await expect(transformers.cacheStatus()).rejects.toMatchObject({ code: 'unsupported' });
  });
});

describe('withAbsoluteUrls', () => {
  const base = 'https://example.org/app/page.html';

  it('gives Transformers.js an origin-relative model path and an absolute runtime URL, defaulting both under the page', () => {
    expect(withAbsoluteUrls({ backend: 'transformers', options: { model: 'm', device: 'webgpu' } }, base).options).toEqual({
      model: 'm',
      device: 'webgpu',
      localModelPath: '/app/models/',
      wasmPaths: 'https://example.org/app/ort/',
    });
    expect(
      withAbsoluteUrls({ backend: 'transformers', options: { model: 'm', device: 'wasm', localModelPath: '../weights/', wasmPaths: '/static/ort/' } }, base).options,
    ).toMatchObject({ localModelPath: '/weights/', wasmPaths: 'https://example.org/static/ort/' });
    // Another origin stays a full URL.
    expect(withAbsoluteUrls({ backend: 'transformers', options: { model: 'm', device: 'wasm', localModelPath: 'https://cdn.example.com/models/' } }, base).options).toMatchObject({
      localModelPath: 'https://cdn.example.com/models/',
    });
  });

  it('gives WebLLM the page URL and absolute weight, library and catalog URLs, leaving absent ones absent', () => {
    expect(
      withAbsoluteUrls({ backend: 'webllm', options: { modelId: 'z', modelUrl: 'models/z/', modelLibUrl: 'libs/z.wasm', catalogUrl: '../catalog.json' } }, base).options,
    ).toEqual({
      modelId: 'z',
      baseUrl: base,
      modelUrl: 'https://example.org/app/models/z/',
      modelLibUrl: 'https://example.org/app/libs/z.wasm',
      catalogUrl: 'https://example.org/catalog.json',
    });
    expect(withAbsoluteUrls({ backend: 'webllm', options: { modelId: 'z' } }, base).options).toEqual({ modelId: 'z', baseUrl: base });
    expect(withAbsoluteUrls({ backend: 'webllm', options: { modelId: 'z' } }, undefined).options).toEqual({ modelId: 'z' });
  });

  it('leaves paths as given when there is no page to resolve against', () => {
    expect(withAbsoluteUrls({ backend: 'transformers', options: { model: 'm', device: 'wasm' } }, undefined).options).toMatchObject({ localModelPath: 'models/', wasmPaths: 'ort/' });
  });
});

/** Compile-time: WorkerEngine instances are Engines (the page cannot tell a worker is there). */
function expectTypeOfEngine(value: Engine): Engine {
  return value;
}
