/**
 * An Engine in Node that runs a catalog model in headless Chromium, through the page's own model
 * worker: the production build's driver page (driver.html → src/app/driver.ts) driven by
 * Playwright. This is how `eval --engine webllm:<catalog id>` scores with WebLLM (WebGPU only
 * exists in a page), and how `browser:<catalog id>[@wasm|@webgpu]` checks that the page's engines
 * give the same numbers as Node's.
 *
 * Owns: a static server for the build on 127.0.0.1 (dist/, plus `/models/` from public/models and
 * the generated tiny model when present; real 404s, which Transformers.js's file probes need),
 * the browser (the one scripts/lib/chromium.ts picks), the catalog entry → worker spec mapping,
 * `auto` device choice, and request routing: with `network: 'local'` (the default for
 * Transformers.js entries, whose files are all served here) every request that would leave
 * 127.0.0.1 is aborted and reported.
 *
 * Failures handled: no build (run `npm run build`), an unknown or not-yet-hosted catalog entry, a
 * device the entry or the browser lacks, errors thrown in the page (they come back serialized,
 * their codes intact), cancellation (an interrupt to the page), and a browser that dies (every
 * later call rejects with `worker-crashed`). It builds nothing itself.
 */
import { CHROMIUM_ARGS, chromiumExecutablePath } from '../chromium.ts';
import { existsSync, statSync, createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, relative, resolve, sep } from 'node:path';
import type { Browser, BrowserContext, Page } from '@playwright/test';
import { z } from 'zod';
import type { CancelSignal } from '../../../src/core/cancel.ts';
import { findEntry, needsUrls, parseCatalog, type CatalogEntry } from '../../../src/core/catalog.ts';
import type { ChatMessage } from '../../../src/core/chat.ts';
import {
  EngineInfo,
  GenerateResult,
  LoadProgress,
  ScoreResult,
  type Engine,
  type GenerateOptionsInput,
  type ProgressListener,
  type ScoreRequest,
  type TokenListener,
} from '../../../src/core/engine.ts';
import { AppError, SerializedError, fromSerializedError } from '../../../src/core/errors.ts';
import type { EngineSpecInput } from '../../../src/core/protocol.ts';
import type { DriverOutcome } from '../../../src/app/driverApi.ts';

const PROJECT_ROOT = resolve(import.meta.dirname, '../../..');
const DRIVER_PAGE = 'driver.html';

export type BrowserDevice = 'webgpu' | 'wasm' | 'auto';

export interface BrowserEngineOptions {
  /** A `public/models.json` id (or a WebLLM model id). */
  catalogId: string;
  /** Transformers.js entries: the device in the page; `auto` takes WebGPU when the browser has an adapter. WebLLM needs WebGPU. */
  device: BrowserDevice;
  /** The production build (`npm run build`); default dist/. */
  distDir?: string;
  /** Folder served as `/models/` after the build's own files; default public/models. */
  modelsDir?: string;
  /**
   * `local`: abort every request that would leave 127.0.0.1. `open`: let the page fetch model
   * files from their hosts (WebLLM's weights and libraries). Default: `local` for Transformers.js
   * entries, `open` for WebLLM ones.
   */
  network?: 'local' | 'open';
  /** Browser profile kept between runs (WebLLM's Cache API copy of the weights); default a throwaway one. */
  profileDir?: string;
  /** Port on 127.0.0.1; fixed with `profileDir`, since the browser caches per origin. Default: any free port. */
  port?: number;
  /** Extra Chromium flags (e.g. `--use-angle=vulkan` for a Linux GPU). */
  chromiumArgs?: readonly string[];
  /** Told about every request the page tried to send off 127.0.0.1 (and, with `network: 'local'`, aborted). */
  onExternalRequest?: (url: string, blocked: boolean) => void;
}

export interface BrowserEngine extends Engine {
  /** Where the build is served, e.g. http://127.0.0.1:41234/. */
  readonly origin: string;
  /** Every URL the browser requested, in order (the worker's requests included). */
  requestedUrls(): readonly string[];
}


/** A driver answer (driverApi.ts `DriverOutcome`); the value is parsed with the call's own schema. */
const Outcome = z.discriminatedUnion('ok', [z.object({ ok: z.literal(true), value: z.unknown() }), z.object({ ok: z.literal(false), error: SerializedError })]);

export async function createBrowserEngine(options: BrowserEngineOptions, onProgress?: ProgressListener): Promise<BrowserEngine> {
  const distDir = resolve(options.distDir ?? join(PROJECT_ROOT, 'dist'));
  if (!existsSync(join(distDir, DRIVER_PAGE)) || !existsSync(join(distDir, 'models.json'))) {
    throw new AppError(
      'model-files-missing',
      `${distDir} holds no production build with ${DRIVER_PAGE}: run \`npm run build\` first (the browser engine serves the build, it does not make one).`,
    );
  }
  const entry = await catalogEntry(distDir, options.catalogId);
  assertDeviceFits(entry, options.device);
  const network = options.network ?? (entry.engine === 'webllm' ? 'open' : 'local');
  const server = await serveBuild(distDir, options.modelsDir ?? join(PROJECT_ROOT, 'public/models'), options.port);
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  try {
    ({ browser, context } = await launch(options));
    const requested: string[] = [];
    context.on('request', (request) => requested.push(request.url()));
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
      options.onExternalRequest?.(url, network === 'local');
      return network === 'local' ? route.abort('blockedbyclient') : route.continue();
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const driver = new DriverConnection(page);
    await driver.open(`${origin}${DRIVER_PAGE}`, onProgress);
    const spec = await workerSpec(entry, options.device, driver);
    const info = await driver.load(spec);
    const ownedBrowser = browser;
    const ownedContext = context;
    return {
      info,
      origin,
      requestedUrls: () => [...requested],
      generate: (messages, generateOptions, onToken, signal) => driver.generate(messages, generateOptions, onToken, signal),
      score: (request, signal) => driver.score(request, signal),
      tokenize: (text) => driver.tokenize(text),
      async dispose() {
        await driver.dispose();
        await ownedContext.close().catch(() => undefined);
        await ownedBrowser?.close().catch(() => undefined);
        await closeServer(server);
      },
    };
  } catch (error) {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await closeServer(server);
    throw error;
  }
}

/** The entry of the catalog the build serves (dist/models.json: what the page itself offers). */
async function catalogEntry(distDir: string, id: string): Promise<CatalogEntry> {
  const catalog = parseCatalog(await readFile(join(distDir, 'models.json'), 'utf8'));
  const entry = findEntry(catalog, id);
  if (!entry) {
    throw new AppError('invalid-input', `No model "${id}" in the catalog (public/models.json); known ids: ${catalog.models.map((model) => model.id).join(', ')}.`);
  }
  if (needsUrls(entry)) {
    throw new AppError(
      'invalid-input',
      `${entry.label} is a build you host: set its modelUrl and modelLibUrl in public/models.json (README, "Zephyr-7B-beta on WebLLM") and rebuild with \`npm run build\`.`,
    );
  }
  return entry;
}

/** Refuses a device the entry cannot use, before any browser starts. */
function assertDeviceFits(entry: CatalogEntry, device: BrowserDevice): void {
  if (entry.engine === 'webllm' && device === 'wasm') {
    throw new AppError('unsupported', `${entry.label} runs on WebLLM, which needs WebGPU: drop @wasm, or pick a Transformers.js entry for WASM.`);
  }
  if (entry.engine === 'transformers' && device !== 'auto' && !entry.devices.includes(device)) {
    throw new AppError('unsupported', `${entry.label} runs on ${entry.devices.join(' or ')}, not ${device}.`);
  }
}

/** The worker spec the page would load for `entry` (src/app/state/model.svelte.ts does the same). */
async function workerSpec(entry: CatalogEntry, device: BrowserDevice, driver: DriverConnection): Promise<EngineSpecInput> {
  const hasWebGpu = device === 'wasm' ? false : await driver.probeWebGpu();
  if (entry.engine === 'webllm') {
    if (!hasWebGpu) {
      throw new AppError('no-webgpu', `Headless Chromium exposes no WebGPU adapter here, so ${entry.label} (WebLLM) cannot run: use a machine with a GPU (a Linux GPU may need BROWSER_ENGINE_CHROMIUM_ARGS="--use-angle=vulkan"), or score the model with local:<ONNX export> or openai:<baseUrl>#<model>.`);
    }
    return { backend: 'webllm', options: { modelId: entry.modelId } };
  }
  const chosen = device === 'auto' ? (hasWebGpu && entry.devices.includes('webgpu') ? 'webgpu' : 'wasm') : device;
  if (!entry.devices.includes(chosen)) throw new AppError('unsupported', `${entry.label} runs on ${entry.devices.join(' or ')}, not ${chosen}: this browser has no WebGPU adapter.`);
  if (chosen === 'webgpu' && !hasWebGpu) throw new AppError('no-webgpu', `Headless Chromium exposes no WebGPU adapter here: use @wasm for ${entry.label}.`);
  const path = entry.modelPath.replace(/\/+$/, '');
  const slash = path.lastIndexOf('/');
  return {
    backend: 'transformers',
    options: {
      model: path.slice(slash + 1),
      device: chosen,
      dtype: entry.dtype,
      ...(slash === -1 ? {} : { localModelPath: path.slice(0, slash + 1) }),
      // A throwaway profile by default: the Cache API copy would only cost a write.
      useBrowserCache: false,
    },
  };
}

async function launch(options: BrowserEngineOptions): Promise<{ browser: Browser | undefined; context: BrowserContext }> {
  // Imported when used: Playwright is a dev dependency and the CLI's other engines do not need it.
  const { chromium } = await import('@playwright/test');
  const executablePath = chromiumExecutablePath(chromium);
  const launchOptions = {
    ...(executablePath ? { executablePath } : {}),
    headless: true,
    args: [...CHROMIUM_ARGS, ...(options.chromiumArgs ?? [])],
  };
  if (options.profileDir) return { browser: undefined, context: await chromium.launchPersistentContext(options.profileDir, launchOptions) };
  const browser = await chromium.launch(launchOptions);
  return { browser, context: await browser.newContext() };
}

let nextCall = 0;

/** The Node end of driverApi.ts: every answer zod-parsed, every error rebuilt with its code. */
class DriverConnection {
  readonly #page: Page;
  readonly #tokenListeners = new Map<string, TokenListener>();
  #progress: ProgressListener | undefined;
  #closed: AppError | undefined;

  constructor(page: Page) {
    this.#page = page;
    page.on('crash', () => (this.#closed ??= new AppError('worker-crashed', 'The browser page running the model crashed: re-run; if it keeps happening choose a smaller model.')));
    page.on('close', () => (this.#closed ??= new AppError('aborted', 'The browser running the model was closed.')));
  }

  async open(url: string, onProgress: ProgressListener | undefined): Promise<void> {
    this.#progress = onProgress;
    await this.#page.exposeFunction('playgroundDriverProgress', (progress: unknown) => {
      const parsed = LoadProgress.safeParse(progress);
      if (parsed.success) this.#progress?.(parsed.data);
    });
    await this.#page.exposeFunction('playgroundDriverToken', (callId: unknown, text: unknown) => {
      if (typeof callId === 'string' && typeof text === 'string') this.#tokenListeners.get(callId)?.(text);
    });
    const response = await this.#page.goto(url);
    if (!response?.ok()) throw new AppError('model-files-missing', `${url} answered ${response?.status() ?? 'nothing'}: rebuild with \`npm run build\`.`);
    // The callbacks below run in the page, where this module's helpers do not exist: they reach the driver directly.
    await this.#page.waitForFunction(() => window.playgroundDriver !== undefined);
  }

  probeWebGpu(): Promise<boolean> {
    return this.#page.evaluate(() => window.playgroundDriver?.probeWebGpu() ?? false);
  }

  async load(spec: EngineSpecInput): Promise<EngineInfo> {
    // No timeout (page.evaluate has none): a WebLLM model downloads and compiles for minutes the first time.
    const answer = await this.#call(EngineInfo, () => this.#page.evaluate((s) => window.playgroundDriver!.load(s), spec));
    this.#progress = undefined;
    return answer;
  }

  async generate(messages: readonly ChatMessage[], options: GenerateOptionsInput, onToken?: TokenListener, signal?: CancelSignal): Promise<GenerateResult> {
    const callId = `g${++nextCall}`;
    if (onToken) this.#tokenListeners.set(callId, onToken);
    try {
      return await this.#cancellable(callId, signal, () =>
        this.#call(GenerateResult, () => this.#page.evaluate((call) => window.playgroundDriver!.generate(call.id, call.messages, call.options), { id: callId, messages: [...messages], options })),
      );
    } finally {
      this.#tokenListeners.delete(callId);
    }
  }

  score(request: ScoreRequest, signal?: CancelSignal): Promise<ScoreResult> {
    const callId = `s${++nextCall}`;
    return this.#cancellable(callId, signal, () => this.#call(ScoreResult, () => this.#page.evaluate((call) => window.playgroundDriver!.score(call.id, call.request), { id: callId, request })));
  }

  tokenize(text: string): Promise<number[]> {
    return this.#call(z.array(z.number().int()), () => this.#page.evaluate((t) => window.playgroundDriver!.tokenize(t), text));
  }

  async dispose(): Promise<void> {
    if (this.#closed) return;
    await this.#page.evaluate(() => window.playgroundDriver?.dispose()).catch(() => undefined);
    this.#closed = new AppError('aborted', 'The model was unloaded: load it again to continue.');
  }

  async #cancellable<T>(callId: string, signal: CancelSignal | undefined, work: () => Promise<T>): Promise<T> {
    if (signal?.aborted) throw new AppError('aborted', 'Cancelled.');
    const onAbort = () => {
      this.#page.evaluate((id) => window.playgroundDriver?.cancel(id), callId).catch(() => undefined);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await work();
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async #call<T extends z.ZodType>(schema: T, evaluate: () => Promise<DriverOutcome<unknown>>): Promise<z.output<T>> {
    if (this.#closed) throw this.#closed;
    let answer: unknown;
    try {
      answer = await evaluate();
    } catch (error) {
      // The page died, navigated or timed out mid-call.
      throw this.#closed ?? new AppError('worker-crashed', `The browser page running the model stopped answering (${error instanceof Error ? error.message.split('\n')[0] : String(error)}): re-run.`);
    }
    const outcome = Outcome.safeParse(answer);
    const value = outcome.success && outcome.data.ok ? schema.safeParse(outcome.data.value) : undefined;
    if (outcome.success && !outcome.data.ok) throw fromSerializedError(outcome.data.error);
    if (!value?.success) {
      const issue = outcome.success ? value?.error.issues[0] : outcome.error.issues[0];
      throw new AppError('internal', `The driver page sent a malformed answer (${issue?.message ?? 'invalid'}): rebuild with \`npm run build\`.`);
    }
    return value.data;
  }
}

// ---------------------------------------------------------------------------------------------
// Static server

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};

/** The generated tiny model (scripts/fixtures/tinyModelFixture.ts), as vite.config.ts serves it in dev and preview. */
const TINY_MODEL_DIR = join(PROJECT_ROOT, 'tests/fixtures/generated/tiny-llama');

interface Mount {
  prefix: string;
  dir: string;
}

/** Files only (GET/HEAD), from the build first, then the model mounts; anything else is a real 404. */
async function serveBuild(distDir: string, modelsDir: string, port = 0): Promise<Server> {
  const mounts: Mount[] = [
    { prefix: '/', dir: distDir },
    { prefix: '/models/tiny-llama/', dir: TINY_MODEL_DIR },
    { prefix: '/models/', dir: modelsDir },
  ];
  const server = createServer((request, response) => handle(mounts, request, response));
  await new Promise<void>((done, fail) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      fail(
        error.code === 'EADDRINUSE'
          ? new AppError('unavailable', `Port ${port} on 127.0.0.1 is in use (is another webllm: run going? its browser profile and cached weights belong to this port): wait for it to finish, or stop what holds the port.`)
          : error,
      ),
    );
    server.listen(port, '127.0.0.1', () => {
      server.removeAllListeners('error');
      done();
    });
  });
  return server;
}

function handle(mounts: readonly Mount[], request: IncomingMessage, response: ServerResponse): void {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { Allow: 'GET, HEAD' }).end();
    return;
  }
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://127.0.0.1').pathname);
  } catch {
    response.writeHead(400).end();
    return;
  }
  for (const mount of mounts) {
    if (!pathname.startsWith(mount.prefix)) continue;
    const file = fileInside(mount.dir, pathname.slice(mount.prefix.length));
    if (!file) continue;
    response.writeHead(200, {
      'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': statSync(file).size,
      // As vite.config.ts: Transformers.js fetches each model file twice at once, and Chromium fails one HTTP cache write.
      'Cache-Control': 'no-store',
    });
    if (request.method === 'HEAD') response.end();
    else createReadStream(file).pipe(response);
    return;
  }
  response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`Not found: ${pathname}`);
}

/** `dir/name` when it is an existing file that does not escape `dir`. */
function fileInside(dir: string, name: string): string | undefined {
  const path = resolve(dir, name);
  const inside = relative(dir, path);
  if (inside === '' || inside.startsWith('..') || inside.startsWith(sep)) return undefined;
  return existsSync(path) && statSync(path).isFile() ? path : undefined;
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((done) => server.close(() => done()));
}
