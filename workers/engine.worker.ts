/**
 * The model worker's entry: wires this worker's message port to an EngineHost (which owns the
 * protocol, the queue and the error handling) with the real engine factories. Each engine module
 * is imported only when a model of that backend is loaded, so a worker downloads one engine.
 *
 * The WebLLM adapter (src/engines/webllm/) may be absent from a build: it is looked up with
 * import.meta.glob, which Vite resolves at build time to a dynamic import when the file exists
 * and to nothing when it does not, so its absence becomes an `unsupported` error, not a broken build.
 *
 * The network guard wraps fetch and the other network entry points before any engine module is
 * imported, so engines only ever see the guarded ones (workers/networkGuard.ts).
 */
import { AppError } from '../src/core/errors.ts';
import { EngineHost, backendModuleFrom, type EngineFactories } from './engineHost.ts';
import { NetworkGuard } from './networkGuard.ts';

/** Set by vite.config.ts: true in the dev server and in test builds (PLAYGROUND_TEST_BUILD=1), false in releases. */
declare const __PLAYGROUND_TEST_BUILD__: boolean;

const network = new NetworkGuard(self);

const webLlmPath = '../src/engines/webllm/index.ts';
const webLlmModules = import.meta.glob('../src/engines/webllm/index.ts');

const factories: EngineFactories = {
  transformers: async () => ({ create: (await import('../src/engines/transformers.ts')).createTransformersEngine }),
  webllm: async () => {
    const load = webLlmModules[webLlmPath];
    if (!load) throw new AppError('unsupported', 'This build has no WebLLM engine: choose the Transformers.js engine.');
    return backendModuleFrom('webllm', await load(), 'createWebLlmEngine');
  },
};

new EngineHost(self, factories, {
  network,
  // An uncaught error, as a real crash raises: the page sees the worker's error event.
  ...(__PLAYGROUND_TEST_BUILD__ ? { onCrashRequest: () => setTimeout(() => { throw new Error('Crash requested by a test.'); }) } : {}),
});
