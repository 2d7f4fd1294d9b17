/**
 * The model worker's network allow-list (src/core/networkPolicy.ts) and its enforcement at the
 * worker's network entry points (workers/networkGuard.ts), on a fake worker scope whose network
 * functions record what actually went out; then through EngineHost, as the worker entry wires it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src/core/errors.ts';
import { parseCatalog } from '../../src/core/catalog.ts';
import { catalogUrlOf, describeAllowList, modelUrlsOf, networkAllowList, networkRefusal, specRefusal } from '../../src/core/networkPolicy.ts';
import { EngineSpec, WorkerReply, type WorkerRequestInput } from '../../src/core/protocol.ts';
import { EngineHost, type EngineFactories, type HostPort } from '../../workers/engineHost.ts';
import { NetworkGuard, type GuardedScope } from '../../workers/networkGuard.ts';
import { FakeEngine } from '../support/fakeEngine.ts';
import { PROJECT_ROOT } from '../support/runCli.ts';

const PAGE = 'https://me.example/playground/';
const CATALOG = readFileSync(join(PROJECT_ROOT, 'public/models.json'), 'utf8');
const WORKER_SCRIPT = 'https://me.example/playground/assets/engine.worker-abc.js';
const WEIGHTS = 'https://huggingface.co/you/zephyr-7b-beta-q4f32_1-MLC';
const LIBRARY = 'https://libs.example.org/zephyr-q4f32_1-webgpu.wasm';

const webLlmSpec = (options: Partial<EngineSpec['options']> = {}): EngineSpec =>
  EngineSpec.parse({ backend: 'webllm', options: { modelId: 'zephyr-7b-beta-q4f32_1-MLC', modelUrl: WEIGHTS, modelLibUrl: LIBRARY, baseUrl: PAGE, ...options } });
const transformersSpec = (options: Record<string, unknown> = {}): EngineSpec =>
  EngineSpec.parse({ backend: 'transformers', options: { model: 'tiny-llama', device: 'wasm', localModelPath: '/playground/models/', wasmPaths: `${PAGE}ort/`, ...options } });

function refusedCode(error: unknown): string | undefined {
  return error instanceof AppError ? error.code : undefined;
}

describe('the network allow-list', () => {
  it("holds the page's origin and the origins of the model's URLs, sorted and without duplicates", () => {
    const list = networkAllowList(PAGE, [LIBRARY, `${WEIGHTS}/resolve/main/`, WEIGHTS, 'models/mine/', 'data:,x', null, undefined, 'not a url at all:::']);
    expect(list).toEqual({ pageOrigin: 'https://me.example', modelOrigins: ['https://huggingface.co', 'https://libs.example.org'] });
    expect(modelUrlsOf(webLlmSpec())).toEqual([WEIGHTS, LIBRARY]);
    expect(modelUrlsOf(transformersSpec())).toEqual([]);
  });

  it("takes a load's model URLs from the request, else from the catalog entry it names", () => {
    const catalog = parseCatalog(CATALOG);
    const byId = webLlmSpec({ modelId: 'SmolLM2-135M-Instruct-q0f32-MLC', modelUrl: undefined, modelLibUrl: undefined });
    expect(catalogUrlOf(byId)).toBe(`${PAGE}models.json`);
    expect(networkAllowList(PAGE, modelUrlsOf(byId, catalog)).modelOrigins).toEqual(['https://huggingface.co', 'https://raw.githubusercontent.com']);
    // Given URLs win, and a model the catalog does not have (or that has no URLs yet) adds no host.
    expect(catalogUrlOf(webLlmSpec())).toBeUndefined();
    expect(modelUrlsOf(webLlmSpec(), catalog)).toEqual([WEIGHTS, LIBRARY]);
    for (const modelId of ['no-such-model', 'zephyr-7b-beta-q4f16_1', 'tiny-llama-random']) expect(modelUrlsOf(webLlmSpec({ modelId, modelUrl: undefined, modelLibUrl: undefined }), catalog), modelId).toEqual([]);
    expect(modelUrlsOf(byId)).toEqual([]);
    expect(catalogUrlOf(transformersSpec())).toBeUndefined();
  });

  it('allows the page origin, the model hosts and in-browser URLs, and refuses everything else with a message naming both', () => {
    const list = networkAllowList(PAGE, modelUrlsOf(webLlmSpec()));
    for (const url of [`${PAGE}models.json`, 'https://me.example/other/path', `${WEIGHTS}/resolve/main/params_shard_0.bin`, LIBRARY, 'data:application/octet-stream;base64,AA==', 'blob:https://me.example/0b1c']) {
      expect(networkRefusal(list, url), url).toBeUndefined();
    }
    for (const url of [
      'https://cdn.jsdelivr.net/npm/onnxruntime-web/dist/ort-wasm.wasm',
      'http://huggingface.co/you/model', // another scheme is another origin
      'https://me.example:8443/',
      'https://huggingface.co.evil.example/',
      'wss://me.example/socket',
      'ftp://me.example/file',
      'javascript:alert(1)',
    ]) {
      expect(refusedCode(networkRefusal(list, url)), url).toBe('network-refused');
    }
    const refusal = networkRefusal(list, 'https://tracker.example/collect?pairs=secret');
    expect(refusal?.message).toBe(
      'The model worker refused to contact https://tracker.example (https://tracker.example/collect?pairs=secret): it downloads only from ' +
        'this site (https://me.example) and https://huggingface.co, https://libs.example.org (and the file servers they redirect to). ' +
        "A model's files must come from its entry in models.json or from the custom model URLs you enter.",
    );
  });

  it('describes the list as the Model panel states it', () => {
    expect(describeAllowList(networkAllowList(PAGE, []))).toBe('this site (https://me.example)');
    expect(describeAllowList(networkAllowList(PAGE, [WEIGHTS]))).toBe('this site (https://me.example) and https://huggingface.co (and the file servers it redirects to)');
  });

  it("refuses a load whose runtime files, models or catalog are not on the load's own list", () => {
    const transformers = transformersSpec({ wasmPaths: 'https://cdn.jsdelivr.net/npm/onnxruntime-web@1.22.0/dist/' });
    expect(specRefusal(networkAllowList(PAGE, modelUrlsOf(transformers)), transformers)?.message).toMatch(/^The model worker refused to contact https:\/\/cdn\.jsdelivr\.net /);
    const webllm = webLlmSpec({ catalogUrl: 'https://catalogs.example/models.json' });
    expect(refusedCode(specRefusal(networkAllowList(PAGE, modelUrlsOf(webllm)), webllm))).toBe('network-refused');
    for (const fine of [transformersSpec(), webLlmSpec(), webLlmSpec({ catalogUrl: `${PAGE}models.json` })]) {
      expect(specRefusal(networkAllowList(PAGE, modelUrlsOf(fine)), fine)).toBeUndefined();
    }
  });
});

/** A worker scope whose network functions record the URLs that really went out. */
function fakeScope() {
  const sent: string[] = [];
  const urlOf = (input: string | URL | Request) => (typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
  class FakeCache {
    async add(request: RequestInfo | URL): Promise<void> {
      sent.push(`cache ${urlOf(request)}`);
    }
    async addAll(requests: RequestInfo[]): Promise<void> {
      for (const request of requests) sent.push(`cache ${urlOf(request)}`);
    }
  }
  class FakeXhr {
    open(_method: string, url: string | URL): void {
      sent.push(`xhr ${String(url)}`);
    }
  }
  class FakeSocket {
    constructor(url: string | URL) {
      sent.push(`socket ${String(url)}`);
    }
  }
  class FakeEventSource {
    constructor(url: string | URL) {
      sent.push(`events ${String(url)}`);
    }
  }
  const scope: GuardedScope = {
    fetch: async (input) => {
      const url = new URL(urlOf(input), WORKER_SCRIPT).href;
      sent.push(`fetch ${url}`);
      return url === `${PAGE}models.json` ? new Response(CATALOG) : new Response('ok');
    },
    location: { href: WORKER_SCRIPT },
    Cache: FakeCache,
    XMLHttpRequest: FakeXhr as unknown as GuardedScope['XMLHttpRequest'],
    WebSocket: FakeSocket,
    EventSource: FakeEventSource,
  };
  return { scope, sent, cache: new FakeCache(), xhr: new FakeXhr() };
}

describe('NetworkGuard', () => {
  it('allows only the page origin until a load is admitted', async () => {
    const { scope, sent } = fakeScope();
    new NetworkGuard(scope);
    await scope.fetch('../models.json');
    await expect(scope.fetch(`${WEIGHTS}/resolve/main/mlc-chat-config.json`)).rejects.toMatchObject({ code: 'network-refused' });
    expect(sent).toEqual(['fetch https://me.example/playground/models.json']);
  });

  it("admits a load's model hosts at every entry point and refuses any other host before a request is made", async () => {
    const { scope, sent, cache, xhr } = fakeScope();
    const guard = new NetworkGuard(scope);
    await guard.admit(webLlmSpec());
    await scope.fetch(new Request(`${WEIGHTS}/resolve/main/tokenizer.json`));
    await scope.fetch(new URL(LIBRARY));
    await cache.add(`${WEIGHTS}/resolve/main/params_shard_0.bin`);
    new (scope.EventSource as NonNullable<GuardedScope['EventSource']>)(`${PAGE}events`);
    const elsewhere = 'https://telemetry.example/v1/collect';
    await expect(scope.fetch(elsewhere)).rejects.toMatchObject({ code: 'network-refused' });
    await expect(scope.fetch(new Request(elsewhere))).rejects.toMatchObject({ code: 'network-refused' });
    await expect(cache.add(elsewhere)).rejects.toMatchObject({ code: 'network-refused' });
    // One refused URL refuses the whole batch: nothing of it is requested.
    await expect(cache.addAll([`${WEIGHTS}/resolve/main/params_shard_1.bin`, elsewhere])).rejects.toMatchObject({ code: 'network-refused' });
    expect(() => xhr.open('GET', elsewhere)).toThrow(/refused to contact https:\/\/telemetry\.example/);
    expect(() => new (scope.WebSocket as NonNullable<GuardedScope['WebSocket']>)('wss://me.example/socket')).toThrow(AppError);
    expect(() => new (scope.EventSource as NonNullable<GuardedScope['EventSource']>)(elsewhere)).toThrow(AppError);
    expect(sent).toEqual([
      `fetch ${WEIGHTS}/resolve/main/tokenizer.json`,
      `fetch ${LIBRARY}`,
      `cache ${WEIGHTS}/resolve/main/params_shard_0.bin`,
      `events ${PAGE}events`,
    ]);
  });

  it("admits the catalog entry's hosts for a load that names its model by id, reading the page's catalog", async () => {
    const { scope, sent } = fakeScope();
    const guard = new NetworkGuard(scope);
    await guard.admit(webLlmSpec({ modelId: 'smollm2-135m-instruct-q0f32', modelUrl: undefined, modelLibUrl: undefined }));
    expect(guard.allowList.modelOrigins).toEqual(['https://huggingface.co', 'https://raw.githubusercontent.com']);
    expect(sent).toEqual([`fetch ${PAGE}models.json`]);
    await expect(guard.admit(webLlmSpec({ modelUrl: undefined, modelLibUrl: undefined, catalogUrl: 'https://catalogs.example/models.json' }))).rejects.toMatchObject({ code: 'network-refused' });
    expect(sent).toEqual([`fetch ${PAGE}models.json`]);
  });

  it('keeps the first refusal since the last admitted load, and a refused spec leaves the list as it was', async () => {
    const { scope } = fakeScope();
    const guard = new NetworkGuard(scope);
    await guard.admit(webLlmSpec());
    await expect(scope.fetch('https://first.example/')).rejects.toThrow();
    await expect(scope.fetch('https://second.example/')).rejects.toThrow();
    expect(guard.refusal()?.message).toMatch(/first\.example/);
    await expect(guard.admit(transformersSpec({ wasmPaths: 'https://cdn.jsdelivr.net/npm/onnxruntime-web/dist/' }))).rejects.toThrow(/cdn\.jsdelivr\.net/);
    expect(guard.allowList.modelOrigins).toEqual(['https://huggingface.co', 'https://libs.example.org']);
    await guard.admit(transformersSpec());
    expect(guard.refusal()).toBeUndefined();
    expect(guard.allowList.modelOrigins).toEqual([]);
  });
});

describe('the worker host with the network guard', () => {
  /** A host wired like workers/engine.worker.ts, with a Transformers.js stand-in that fetches `urls` and wraps a failure as the library does. */
  function host(urls: string[]) {
    const { scope, sent } = fakeScope();
    const replies: WorkerReply[] = [];
    const port: HostPort = { postMessage: (reply) => replies.push(WorkerReply.parse(structuredClone(reply))), onmessage: null };
    const create = vi.fn(async () => {
      for (const url of urls) {
        try {
          await scope.fetch(url);
        } catch (error) {
          throw new Error(`Could not locate file: "${url}".`, { cause: error });
        }
      }
      return new FakeEngine('tiny');
    });
    const factories: EngineFactories = {
      transformers: async () => ({ create }),
      webllm: async () => ({ create }),
    };
    new EngineHost(port, factories, { network: new NetworkGuard(scope) });
    const load = async (payload: WorkerRequestInput['payload']) => {
      port.onmessage?.(new MessageEvent('message', { data: { id: 'load', kind: 'load', payload } }));
      await vi.waitFor(() => expect(replies.filter((reply) => reply.kind === 'result' || reply.kind === 'error')).toHaveLength(1));
      return replies.at(-1);
    };
    return { load, sent, create };
  }

  it("reports a refused download as the load's error, not the library's wrapping of it", async () => {
    const hub = 'https://huggingface.co/tiny-llama/resolve/main/config.json';
    const { load, sent } = host(['/playground/models/tiny-llama/config.json', hub]);
    const reply = await load(transformersSpec({ allowRemote: true }));
    expect(reply).toMatchObject({ kind: 'error', error: { code: 'network-refused', message: expect.stringMatching(/^The model worker refused to contact https:\/\/huggingface\.co \(/) } });
    expect(sent).toEqual(['fetch https://me.example/playground/models/tiny-llama/config.json']);
  });

  it('refuses a load that names a runtime outside the list before the engine starts', async () => {
    const { load, create } = host([]);
    const reply = await load(transformersSpec({ wasmPaths: 'https://cdn.jsdelivr.net/npm/onnxruntime-web/dist/' }));
    expect(reply).toMatchObject({ kind: 'error', error: { code: 'network-refused' } });
    expect(create).not.toHaveBeenCalled();
  });

  it('lets a WebLLM load download from the custom URLs the user entered', async () => {
    const { load, sent } = host([`${WEIGHTS}/resolve/main/mlc-chat-config.json`, LIBRARY]);
    expect(await load(webLlmSpec())).toMatchObject({ kind: 'result', request: 'load' });
    expect(sent).toEqual([`fetch ${WEIGHTS}/resolve/main/mlc-chat-config.json`, `fetch ${LIBRARY}`]);
  });
});
