import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import type { LoadProgress } from '../../src/core/engine.ts';
import { AppError } from '../../src/core/errors.ts';
import { WorkerReply, type WorkerRequestInput } from '../../src/core/protocol.ts';
import { EngineHost, backendModuleFrom, type EngineFactories, type HostPort } from '../../workers/engineHost.ts';
import { fakeEngineFactories, fakeLogprobs, sleep, FakeEngine } from '../support/fakeEngine.ts';

const SPEC = { backend: 'transformers', options: { model: 'tiny', device: 'wasm' } } as const;
const MESSAGES = [{ role: 'user', content: 'Hi' }] as const;

/** A host on a fake port: `send` delivers a message as the worker would receive it; replies are cloned like postMessage does. */
function setup(options: { factories?: Partial<EngineFactories>; onCrashRequest?: () => void; uncloneable?: (reply: WorkerReply) => boolean } = {}) {
  const replies: WorkerReply[] = [];
  const { factories, engines, created } = fakeEngineFactories(options.factories);
  const port: HostPort = {
    postMessage: (reply) => {
      // postMessage throws DataCloneError synchronously for a message it cannot clone.
      if (options.uncloneable?.(reply)) throw new DOMException('could not be cloned', 'DataCloneError');
      replies.push(WorkerReply.parse(structuredClone(reply)));
    },
    onmessage: null,
  };
  new EngineHost(port, factories, options.onCrashRequest ? { onCrashRequest: options.onCrashRequest } : {});
  const send = (data: unknown) => port.onmessage?.(new MessageEvent('message', { data }));
  const request = (message: WorkerRequestInput) => send(message);
  const of = (id: string) => replies.filter((reply) => reply.id === id);
  const terminal = (id: string) => of(id).filter((reply) => reply.kind === 'result' || reply.kind === 'error');
  const settled = async (...ids: string[]) => {
    await vi.waitFor(() => ids.forEach((id) => expect(terminal(id)).toHaveLength(1)), { timeout: 5000, interval: 2 });
    return ids.map((id) => terminal(id)[0] as WorkerReply);
  };
  return { replies, engines, created, send, request, of, terminal, settled };
}

async function loaded(options: Parameters<typeof setup>[0] = {}) {
  const host = setup(options);
  host.request({ id: 'load', kind: 'load', payload: SPEC });
  await host.settled('load');
  return host;
}

describe('EngineHost', () => {
  it('loads through the factory of the spec backend, streams progress under the load id, then answers with the engine info', async () => {
    const host = setup();
    host.request({ id: 'l1', kind: 'load', payload: { backend: 'transformers', options: { model: 'tiny', device: 'webgpu', dtype: 'fp32', wasmPaths: '/ort/' } } });
    const [reply] = await host.settled('l1');
    expect(host.created).toEqual([{ model: 'tiny', device: 'webgpu', dtype: 'fp32', wasmPaths: '/ort/' }]);
    const progress: LoadProgress[] = host.of('l1').flatMap((r) => (r.kind === 'progress' ? [r.progress] : []));
    expect(progress.map((p) => p.stage)).toEqual(['fetch', 'ready']);
    expect(reply).toEqual({ id: 'l1', kind: 'result', request: 'load', payload: host.engines[0]?.info });
    // Events come before the terminal reply.
    expect(host.of('l1').at(-1)?.kind).toBe('result');
  });

  it('answers a malformed message with invalid-input, addressed to its id when one can be read', async () => {
    const host = setup();
    host.send('hello');
    host.send({ id: 'x1', kind: 'teleport', payload: {} });
    host.send({ id: 'g1', kind: 'generate', payload: { messages: [], options: {} } });
    host.send({ id: 's1', kind: 'score', payload: { promptIds: [1], continuations: [[]] } });
    const unaddressed = host.replies.find((reply) => reply.id === null);
    expect(unaddressed).toMatchObject({ kind: 'error', error: { code: 'invalid-input', message: expect.stringContaining('malformed request') } });
    const [x1, g1, s1] = await host.settled('x1', 'g1', 's1');
    expect(x1).toMatchObject({ kind: 'error', error: { code: 'invalid-input', message: expect.stringContaining('(x1)') } });
    expect(g1).toMatchObject({ kind: 'error', error: { code: 'invalid-input', message: expect.stringContaining('payload.messages') } });
    expect(s1).toMatchObject({ kind: 'error', error: { code: 'invalid-input', message: expect.stringContaining('payload.continuations.0') } });
  });

  it('refuses engine work before a model is loaded, saying what to do', async () => {
    const host = setup();
    host.request({ id: 't1', kind: 'tokenize', payload: { text: 'a' } });
    const [reply] = await host.settled('t1');
    expect(reply).toEqual({ id: 't1', kind: 'error', error: { code: 'not-loaded', message: 'No model is loaded in the worker: load a model first.' } });
  });

  it('streams generation deltas as token events of the request, ending in one result whose text they add up to', async () => {
    const host = await loaded();
    host.request({ id: 'g1', kind: 'generate', payload: { messages: [...MESSAGES], options: { maxNewTokens: 5 } } });
    const [reply] = await host.settled('g1');
    const tokens = host.of('g1').flatMap((r) => (r.kind === 'token' ? [r.text] : []));
    expect(tokens).toEqual([' w0', ' w1', ' w2', ' w3', ' w4']);
    expect(reply).toMatchObject({ kind: 'result', request: 'generate', payload: { text: tokens.join(''), finishReason: 'length' } });
    expect(host.of('g1').at(-1)).toBe(reply);
  });

  it('runs generate, score and tokenize one at a time, in arrival order', async () => {
    const host = await loaded();
    const scoreRequest = { promptIds: [1, 5], continuations: [[7, 8], [9]] };
    host.request({ id: 'g', kind: 'generate', payload: { messages: [...MESSAGES], options: { maxNewTokens: 3 } } });
    host.request({ id: 's1', kind: 'score', payload: scoreRequest });
    host.request({ id: 't', kind: 'tokenize', payload: { text: 'ab' } });
    host.request({ id: 's2', kind: 'score', payload: scoreRequest });
    const [, s1, t] = await host.settled('g', 's1', 't', 's2');
    const engine = host.engines[0] as FakeEngine;
    expect(engine.maxActive).toBe(1);
    expect(engine.log).toEqual(['generate', 'generate:end', 'score', 'score:end', 'tokenize', 'tokenize:end', 'score', 'score:end']);
    expect(s1).toMatchObject({ request: 'score', payload: { logprobs: fakeLogprobs(scoreRequest), method: 'fake' } });
    expect(t).toMatchObject({ request: 'tokenize', payload: { ids: [97, 98] } });
  });

  it('cancels a running generation through its AbortSignal: the engine stops and the result says aborted', async () => {
    const host = await loaded();
    host.request({ id: 'g', kind: 'generate', payload: { messages: [...MESSAGES], options: { maxNewTokens: 1000 } } });
    await vi.waitFor(() => expect(host.of('g').length).toBeGreaterThanOrEqual(2));
    host.request({ id: 'c', kind: 'cancel', payload: { targetId: 'g' } });
    const [generated, cancel] = await host.settled('g', 'c');
    expect(cancel).toEqual({ id: 'c', kind: 'result', request: 'cancel', payload: { found: true } });
    expect(generated).toMatchObject({ kind: 'result', request: 'generate', payload: { finishReason: 'aborted' } });
    expect(generated?.kind === 'result' && generated.request === 'generate' && generated.payload.tokenIds.length).toBeLessThan(100);
  });

  it('answers a cancelled queued request at once without running it, and reports cancels of unknown ids as not found', async () => {
    const host = await loaded();
    host.request({ id: 'g', kind: 'generate', payload: { messages: [...MESSAGES], options: { maxNewTokens: 200 } } });
    host.request({ id: 's', kind: 'score', payload: { promptIds: [1], continuations: [[3]] } });
    host.request({ id: 'c1', kind: 'cancel', payload: { targetId: 's' } });
    host.request({ id: 'c2', kind: 'cancel', payload: { targetId: 'nobody' } });
    const [score, c1, c2] = await host.settled('s', 'c1', 'c2');
    expect(score).toEqual({ id: 's', kind: 'error', error: { code: 'aborted', message: 'Cancelled.' } });
    expect(c1).toMatchObject({ payload: { found: true } });
    expect(c2).toMatchObject({ payload: { found: false } });
    // The generation was still running when the score was answered.
    expect(host.terminal('g')).toEqual([]);
    host.request({ id: 'c3', kind: 'cancel', payload: { targetId: 'g' } });
    await host.settled('g', 'c3');
    expect(host.engines[0]?.log).not.toContain('score');
  });

  it('disposes the loaded engine before creating the next, and cancels work queued for the replaced model', async () => {
    const host = await loaded();
    host.request({ id: 'g1', kind: 'generate', payload: { messages: [...MESSAGES], options: { maxNewTokens: 1000 } } });
    host.request({ id: 's1', kind: 'score', payload: { promptIds: [1], continuations: [[3]] } });
    host.request({ id: 'load2', kind: 'load', payload: { backend: 'transformers', options: { model: 'second', device: 'wasm' } } });
    host.request({ id: 't2', kind: 'tokenize', payload: { text: 'z' } });
    const [g1, s1, load2, t2] = await host.settled('g1', 's1', 'load2', 't2');
    const [first, second] = host.engines as [FakeEngine, FakeEngine];
    expect(g1).toMatchObject({ kind: 'result', payload: { finishReason: 'aborted' } });
    expect(s1).toMatchObject({ kind: 'error', error: { code: 'aborted', message: expect.stringContaining('the model was replaced or unloaded') } });
    expect(load2).toMatchObject({ kind: 'result', payload: { model: 'second' } });
    expect(t2).toMatchObject({ kind: 'result', payload: { ids: [122] } });
    expect(first.disposed).toBe(true);
    expect(first.log).toEqual(['generate', 'generate:end', 'dispose']);
    expect(second.log).toEqual(['tokenize', 'tokenize:end']);
  });

  it('when a second load supersedes one still loading, frees the first model and answers it aborted', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const engines: FakeEngine[] = [];
    const host = setup({
      factories: {
        transformers: async () => ({
          async create(spec) {
            if (spec.model === 'slow') await gate;
            const engine = new FakeEngine(spec.model);
            engines.push(engine);
            return engine;
          },
        }),
      },
    });
    host.request({ id: 'a', kind: 'load', payload: { backend: 'transformers', options: { model: 'slow', device: 'wasm' } } });
    await sleep(5);
    host.request({ id: 'b', kind: 'load', payload: { backend: 'transformers', options: { model: 'fast', device: 'wasm' } } });
    release();
    const [a, b] = await host.settled('a', 'b');
    expect(a).toMatchObject({ kind: 'error', error: { code: 'aborted' } });
    expect(b).toMatchObject({ kind: 'result', payload: { model: 'fast' } });
    expect(engines.map((engine) => [engine.info.model, engine.disposed])).toEqual([
      ['slow', true],
      ['fast', false],
    ]);
  });

  it('unloads: the engine is disposed and later work is refused', async () => {
    const host = await loaded();
    host.request({ id: 'u', kind: 'unload', payload: {} });
    host.request({ id: 't', kind: 'tokenize', payload: { text: 'a' } });
    const [u, t] = await host.settled('u', 't');
    expect(u).toEqual({ id: 'u', kind: 'result', request: 'unload', payload: {} });
    expect(t).toMatchObject({ kind: 'error', error: { code: 'not-loaded' } });
    expect(host.engines[0]?.disposed).toBe(true);
  });

  it('sends engine failures with their code and message; anything that is not an AppError as internal', async () => {
    const host = await loaded();
    const engine = host.engines[0] as FakeEngine;
    engine.failNext = new AppError('context-exceeded', 'The prompt needs 3000 tokens: shorten it.');
    host.request({ id: 's1', kind: 'score', payload: { promptIds: [1], continuations: [[3]] } });
    const [s1] = await host.settled('s1');
    engine.failNext = new TypeError('boom');
    host.request({ id: 's2', kind: 'score', payload: { promptIds: [1], continuations: [[3]] } });
    const [s2] = await host.settled('s2');
    expect(s1).toEqual({ id: 's1', kind: 'error', error: { code: 'context-exceeded', message: 'The prompt needs 3000 tokens: shorten it.' } });
    expect(s2).toEqual({ id: 's2', kind: 'error', error: { code: 'internal', message: 'boom' } });
  });

  it('passes a factory failure through, e.g. a backend whose module this build lacks', async () => {
    const host = setup();
    host.request({ id: 'w', kind: 'load', payload: { backend: 'webllm', options: { modelId: 'SmolLM2-135M-Instruct-q0f32-MLC' } } });
    const [reply] = await host.settled('w');
    expect(reply).toMatchObject({ kind: 'error', error: { code: 'unsupported', message: expect.stringContaining('no WebLLM engine') } });
  });

  it('replaces a reply that cannot be cloned by an internal error, so the request still ends', async () => {
    const host = await loaded({ uncloneable: (reply) => reply.kind === 'result' && reply.request === 'tokenize' });
    host.request({ id: 't', kind: 'tokenize', payload: { text: 'a' } });
    const [reply] = await host.settled('t');
    expect(reply).toMatchObject({ kind: 'error', error: { code: 'internal', message: expect.stringContaining('could not send its result') } });
  });

  it('honours a crash request only where the build provides one, and sends nothing for it', async () => {
    const plain = setup();
    plain.request({ id: 'k', kind: 'crash', payload: {} });
    const [refused] = await plain.settled('k');
    expect(refused).toMatchObject({ kind: 'error', error: { code: 'unsupported' } });

    const onCrashRequest = vi.fn();
    const test = setup({ onCrashRequest });
    test.request({ id: 'k', kind: 'crash', payload: {} });
    await sleep(5);
    expect(onCrashRequest).toHaveBeenCalledOnce();
    expect(test.of('k')).toEqual([]);
  });

  it('refuses a request reusing an open id without touching the open request', async () => {
    const host = await loaded();
    host.request({ id: 'g', kind: 'generate', payload: { messages: [...MESSAGES], options: { maxNewTokens: 4 } } });
    host.request({ id: 'g', kind: 'tokenize', payload: { text: 'a' } });
    const [generated] = await host.settled('g');
    expect(generated).toMatchObject({ kind: 'result', request: 'generate' });
    expect(host.replies.find((reply) => reply.id === null)).toMatchObject({ error: { code: 'invalid-input', message: expect.stringContaining('Request id g is already in use') } });
  });

  it('answers cache requests through the backend module, or unsupported when it has none', async () => {
    const cacheStatus = vi.fn(async () => ({ cached: true }));
    const host = setup({
      factories: { webllm: async () => ({ create: async () => new FakeEngine(), cacheStatus }) },
    });
    host.request({ id: 'c1', kind: 'cacheStatus', payload: SPEC });
    host.request({ id: 'c2', kind: 'cacheStatus', payload: { backend: 'webllm', options: { modelId: 'm', cacheBackend: 'indexeddb' } } });
    host.request({ id: 'd1', kind: 'deleteCache', payload: { backend: 'webllm', options: { modelId: 'm' } } });
    const [c1, c2, d1] = await host.settled('c1', 'c2', 'd1');
    expect(c1).toMatchObject({ kind: 'error', error: { code: 'unsupported', message: expect.stringContaining('transformers engine does not report') } });
    expect(c2).toEqual({ id: 'c2', kind: 'result', request: 'cacheStatus', payload: { cached: true } });
    expect(cacheStatus).toHaveBeenCalledWith({ modelId: 'm', cacheBackend: 'indexeddb' });
    expect(d1).toMatchObject({ kind: 'error', error: { code: 'unsupported' } });
  });

  it('gives every request exactly one terminal reply, and no event after it, whatever arrives in whatever order', async () => {
    const request = fc.oneof(
      fc.constant({ kind: 'load' as const }),
      fc.constant({ kind: 'unload' as const }),
      fc.record({ kind: fc.constant('generate' as const), tokens: fc.integer({ min: 1, max: 6 }) }),
      fc.constant({ kind: 'score' as const }),
      fc.constant({ kind: 'tokenize' as const }),
      fc.record({ kind: fc.constant('cancel' as const), target: fc.nat() }),
      fc.constant({ kind: 'ping' as const }),
      fc.constant({ kind: 'garbage' as const }),
      fc.constant({ kind: 'fail' as const }),
    );
    const step = fc.record({ request, pauseMs: fc.integer({ min: 0, max: 3 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), async (steps) => {
        const host = setup();
        const ids: string[] = [];
        for (const [index, { request, pauseMs }] of steps.entries()) {
          const id = `r${index}`;
          ids.push(id);
          if (request.kind === 'load') host.request({ id, kind: 'load', payload: SPEC });
          else if (request.kind === 'unload') host.request({ id, kind: 'unload', payload: {} });
          else if (request.kind === 'generate') host.request({ id, kind: 'generate', payload: { messages: [...MESSAGES], options: { maxNewTokens: request.tokens } } });
          else if (request.kind === 'score') host.request({ id, kind: 'score', payload: { promptIds: [1], continuations: [[4, 5]] } });
          else if (request.kind === 'tokenize') host.request({ id, kind: 'tokenize', payload: { text: 'q' } });
          else if (request.kind === 'cancel') host.request({ id, kind: 'cancel', payload: { targetId: `r${request.target % (index + 1)}` } });
          else if (request.kind === 'ping') host.request({ id, kind: 'ping', payload: {} });
          else if (request.kind === 'garbage') host.send({ id, kind: 'generate', payload: { messages: 'none' } });
          else {
            for (const engine of host.engines) engine.failNext = new AppError('out-of-memory', 'Out of memory: choose a smaller model.');
            host.request({ id, kind: 'tokenize', payload: { text: 'q' } });
          }
          if (pauseMs > 0) await sleep(pauseMs);
        }
        await host.settled(...ids);
        await sleep(10);
        for (const id of ids) {
          const replies = host.of(id);
          expect(host.terminal(id)).toHaveLength(1);
          expect(replies.at(-1)?.kind === 'result' || replies.at(-1)?.kind === 'error').toBe(true);
        }
        // One engine alive at most, and every replaced one disposed.
        expect(host.engines.slice(0, -1).every((engine) => engine.disposed)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});

describe('backendModuleFrom (engine modules loaded at run time)', () => {
  const options = { modelId: 'm' };
  const noProgress = () => {};

  it('refuses a module without the factory function, as unsupported', () => {
    expect(() => backendModuleFrom('webllm', {}, 'createWebLlmEngine')).toThrow(
      expect.objectContaining({ code: 'unsupported', message: expect.stringContaining('has no createWebLlmEngine function') }),
    );
    expect(() => backendModuleFrom('webllm', undefined, 'createWebLlmEngine')).toThrow(AppError);
  });

  it('checks that the factory returned an Engine', async () => {
    const module = backendModuleFrom('webllm', { createWebLlmEngine: async () => ({ info: { backend: 'webllm' } }) }, 'createWebLlmEngine');
    await expect(module.create(options, noProgress)).rejects.toMatchObject({ code: 'internal', message: expect.stringContaining('not an Engine') });
  });

  it('uses a valid module: the engine, and its cache functions with their results parsed', async () => {
    const engine = new FakeEngine('web');
    const create = vi.fn(async () => engine);
    const module = backendModuleFrom(
      'webllm',
      { createWebLlmEngine: create, cacheStatus: async () => ({ cached: 'yes' }), deleteCache: async () => 'done' },
      'createWebLlmEngine',
    );
    expect(await module.create(options, noProgress)).toBe(engine);
    expect(create).toHaveBeenCalledWith(options, noProgress);
    await expect(module.cacheStatus?.(options)).rejects.toThrow(/cached/);
    await expect(module.deleteCache?.(options)).resolves.toBeUndefined();
    expect(backendModuleFrom('webllm', { createWebLlmEngine: create }, 'createWebLlmEngine').cacheStatus).toBeUndefined();
  });
});
