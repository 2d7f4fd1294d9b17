/**
 * The worker side of the engine protocol: hosts one Engine behind src/core/protocol.ts.
 *
 * Owns: parsing every incoming message (a malformed one gets an `invalid-input` error addressed
 * to its id when one can be read), the single loaded Engine (a load disposes the previous one
 * first, so two models never hold GPU memory at once), one queue through which load, unload,
 * generate, score and tokenize run one at a time (WebLLM's low-level calls take no lock, and
 * Transformers.js chains every session run anyway), an AbortController per request for `cancel`,
 * and the guarantee that every request gets exactly one terminal reply.
 *
 * Failures handled: engine and factory errors (sent as their AppError code and message; anything
 * else as `internal`), work for a model that is no longer loaded (`not-loaded`), cancellation
 * before a request starts (answered at once) or while it runs (the engine stops at its next
 * step), a reply that cannot be structured-cloned (sent as an `internal` error instead), a
 * backend whose engine module is absent from the build (the factory's `unsupported` error), a
 * load that names or fetches a URL outside the worker's network allow-list (`network-refused`,
 * reported in place of whatever error the library made of the refused fetch).
 *
 * Runs anywhere a MessagePort-like object exists: the worker entry passes `self`, unit tests pass
 * a fake port and fake engine factories.
 */
import { EngineInfo, type Engine, type ProgressListener } from '../src/core/engine.ts';
import { AppError, toSerializedError } from '../src/core/errors.ts';
import {
  CacheStatus,
  WorkerRequest,
  readRequestId,
  type EngineSpec,
  type ErrorMessage,
  type RequestId,
  type SpecOptions,
  type WorkerBackend,
  type WorkerReply,
} from '../src/core/protocol.ts';

/** The part of a worker global scope (or MessagePort) the host uses. */
export interface HostPort {
  postMessage(message: WorkerReply): void;
  onmessage: ((event: MessageEvent) => void) | null;
}

/** What one backend's engine module provides to the host. */
export interface BackendModule<B extends WorkerBackend> {
  create(options: SpecOptions<B>, onProgress: ProgressListener): Promise<Engine>;
  /** Absent: `cacheStatus` requests for this backend answer `unsupported`. */
  cacheStatus?(options: SpecOptions<B>): Promise<CacheStatus>;
  deleteCache?(options: SpecOptions<B>): Promise<void>;
}

/** Lazy loaders of each backend's module, so a worker only downloads the engine it hosts. */
export type EngineFactories = { readonly [B in WorkerBackend]: () => Promise<BackendModule<B>> };

/** The worker's network policy around model loads (workers/networkGuard.ts implements it). */
export interface LoadNetworkPolicy {
  /** Called before each model loads: allows that load's hosts, or rejects with the refusal of a URL its spec names. */
  admit(spec: EngineSpec): Promise<void>;
  /** The first URL refused since the last `admit`: a load that fails after one reports it, not the library's own error. */
  refusal(): AppError | undefined;
}

export interface EngineHostOptions {
  /**
   * What a `crash` request does. Only test builds pass one (the worker entry throws an uncaught
   * error from it); without it a `crash` request answers `unsupported`.
   */
  onCrashRequest?: () => void;
  /** Without one (unit tests with fake engines), loads are not network-checked. */
  network?: LoadNetworkPolicy;
}

/** A queued unit of engine work. `run` resolves to the terminal reply. */
interface Task {
  readonly id: RequestId;
  readonly controller: AbortController;
  readonly run: (signal: AbortSignal) => Promise<WorkerReply>;
  started: boolean;
}

export class EngineHost {
  #engine: Engine | undefined;
  /** Requests that have not had their terminal reply yet. */
  readonly #open = new Set<RequestId>();
  readonly #tasks: Task[] = [];
  #running: Task | undefined;
  readonly #factories: EngineFactories;
  readonly #options: EngineHostOptions;
  readonly #port: HostPort;

  constructor(port: HostPort, factories: EngineFactories, options: EngineHostOptions = {}) {
    this.#port = port;
    this.#factories = factories;
    this.#options = options;
    port.onmessage = (event) => this.receive(event.data);
  }

  /** Handles one incoming message. Never throws: every failure becomes an `error` reply. */
  receive(data: unknown): void {
    const parsed = WorkerRequest.safeParse(data);
    if (!parsed.success) {
      const id = readRequestId(data);
      const detail = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(message)'}: ${issue.message}`).join('; ');
      this.#postUnaddressed(
        id !== null && this.#open.has(id) ? null : id,
        new AppError('invalid-input', `The model worker received a malformed request${id ? ` (${id})` : ''}: ${detail}. This is a bug in the page: reload it.`),
      );
      return;
    }
    const request = parsed.data;
    if (this.#open.has(request.id)) {
      // Answering with this id would look like the terminal reply of the request still open.
      this.#postUnaddressed(null, new AppError('invalid-input', `Request id ${request.id} is already in use: the page must not reuse ids.`));
      return;
    }
    this.#open.add(request.id);
    const { id } = request;
    switch (request.kind) {
      case 'load': {
        const spec = request.payload;
        this.#enqueue(id, true, async (signal) => ({ id, kind: 'result', request: 'load', payload: await this.#load(id, spec, signal) }));
        return;
      }
      case 'unload':
        this.#enqueue(id, true, async () => {
          await this.#disposeEngine();
          return { id, kind: 'result', request: 'unload', payload: {} };
        });
        return;
      case 'generate': {
        const { messages, options } = request.payload;
        this.#enqueue(id, false, async (signal) => {
          const engine = this.#requireEngine();
          const onToken = (text: string, tokens?: number) => this.#postEvent({ id, kind: 'token', text, ...(tokens === undefined ? {} : { tokens }) });
          const payload = await engine.generate(messages, options, onToken, signal);
          return { id, kind: 'result', request: 'generate', payload };
        });
        return;
      }
      case 'score': {
        const scoreRequest = request.payload;
        this.#enqueue(id, false, async (signal) => ({
          id,
          kind: 'result',
          request: 'score',
          payload: await this.#requireEngine().score(scoreRequest, signal),
        }));
        return;
      }
      case 'tokenize': {
        const { text } = request.payload;
        this.#enqueue(id, false, async () => ({
          id,
          kind: 'result',
          request: 'tokenize',
          payload: { ids: await this.#requireEngine().tokenize(text) },
        }));
        return;
      }
      case 'cancel':
        this.#finish({ id, kind: 'result', request: 'cancel', payload: { found: this.#cancel(request.payload.targetId) } });
        return;
      case 'ping':
        this.#finish({ id, kind: 'result', request: 'ping', payload: {} });
        return;
      case 'cacheStatus': {
        const spec = request.payload;
        this.#settle(id, async () => ({ id, kind: 'result', request: 'cacheStatus', payload: await this.#cacheStatus(spec) }));
        return;
      }
      case 'deleteCache': {
        const spec = request.payload;
        this.#settle(id, async () => {
          await this.#deleteCache(spec);
          return { id, kind: 'result', request: 'deleteCache', payload: {} };
        });
        return;
      }
      case 'crash':
        if (!this.#options.onCrashRequest) {
          this.#fail(id, new AppError('unsupported', 'Crash requests exist only in test builds.'));
          return;
        }
        // No terminal reply: the worker is about to die, and the client reports that instead.
        this.#open.delete(id);
        this.#options.onCrashRequest();
        return;
    }
  }

  /**
   * Queues engine work. `preempts` (load, unload) cancels everything queued or running before it,
   * since that work targets a model that is about to be replaced.
   */
  #enqueue(id: RequestId, preempts: boolean, run: Task['run']): void {
    if (preempts) {
      const reason = 'Cancelled: the model was replaced or unloaded before this request finished.';
      for (const task of [...this.#tasks]) this.#abortTask(task, reason);
      if (this.#running) this.#abortTask(this.#running, reason);
    }
    this.#tasks.push({ id, controller: new AbortController(), run, started: false });
    void this.#pump();
  }

  async #pump(): Promise<void> {
    if (this.#running) return;
    for (let task = this.#tasks.shift(); task; task = this.#tasks.shift()) {
      // Cancelled while queued: its error reply was already sent.
      if (!this.#open.has(task.id)) continue;
      this.#running = task;
      task.started = true;
      const current = task;
      await this.#settle(task.id, () => {
        if (current.controller.signal.aborted) throw new AppError('aborted', reasonOf(current.controller.signal));
        return current.run(current.controller.signal);
      });
      this.#running = undefined;
    }
  }

  /** Runs `work` and sends its reply, or its error, as the one terminal reply of `id`. */
  async #settle(id: RequestId, work: () => Promise<WorkerReply>): Promise<void> {
    try {
      this.#finish(await work());
    } catch (error) {
      this.#fail(id, error);
    }
  }

  #cancel(targetId: RequestId): boolean {
    const task = this.#running?.id === targetId ? this.#running : this.#tasks.find((queued) => queued.id === targetId);
    if (!task || !this.#open.has(targetId)) return false;
    this.#abortTask(task, 'Cancelled.');
    return true;
  }

  /** A task not started yet is answered now; a running one is signalled and answers when it stops. */
  #abortTask(task: Task, reason: string): void {
    task.controller.abort(new AppError('aborted', reason));
    if (!task.started) {
      this.#tasks.splice(this.#tasks.indexOf(task), 1);
      this.#fail(task.id, new AppError('aborted', reason));
    }
  }

  async #load(id: RequestId, spec: EngineSpec, signal: AbortSignal): Promise<Engine['info']> {
    await this.#disposeEngine();
    const onProgress: ProgressListener = (progress) => this.#postEvent({ id, kind: 'progress', progress });
    const network = this.#options.network;
    await network?.admit(spec);
    const engine = await this.#create(spec, onProgress).catch((error: unknown) => {
      throw network?.refusal() ?? error;
    });
    if (signal.aborted) {
      // Superseded while loading (creation cannot be interrupted): free it rather than keep a model nobody asked for.
      await engine.dispose();
      throw new AppError('aborted', reasonOf(signal));
    }
    this.#engine = engine;
    return engine.info;
  }

  async #create(spec: EngineSpec, onProgress: ProgressListener): Promise<Engine> {
    // One case per backend, so each factory receives its own options type.
    switch (spec.backend) {
      case 'transformers':
        return (await this.#factories.transformers()).create(spec.options, onProgress);
      case 'webllm':
        return (await this.#factories.webllm()).create(spec.options, onProgress);
    }
  }

  async #cacheStatus(spec: EngineSpec): Promise<CacheStatus> {
    switch (spec.backend) {
      case 'transformers': {
        const module = await this.#factories.transformers();
        if (!module.cacheStatus) throw unsupportedCache(spec.backend);
        return module.cacheStatus(spec.options);
      }
      case 'webllm': {
        const module = await this.#factories.webllm();
        if (!module.cacheStatus) throw unsupportedCache(spec.backend);
        return module.cacheStatus(spec.options);
      }
    }
  }

  async #deleteCache(spec: EngineSpec): Promise<void> {
    switch (spec.backend) {
      case 'transformers': {
        const module = await this.#factories.transformers();
        if (!module.deleteCache) throw unsupportedCache(spec.backend);
        return module.deleteCache(spec.options);
      }
      case 'webllm': {
        const module = await this.#factories.webllm();
        if (!module.deleteCache) throw unsupportedCache(spec.backend);
        return module.deleteCache(spec.options);
      }
    }
  }

  async #disposeEngine(): Promise<void> {
    const engine = this.#engine;
    this.#engine = undefined;
    await engine?.dispose();
  }

  #requireEngine(): Engine {
    if (!this.#engine) throw new AppError('not-loaded', 'No model is loaded in the worker: load a model first.');
    return this.#engine;
  }

  /** Sends an event of a request that is still open; events after the terminal reply are dropped. */
  #postEvent(event: WorkerReply): void {
    if (event.id !== null && this.#open.has(event.id)) this.#post(event);
  }

  #fail(id: RequestId, error: unknown): void {
    this.#finish({ id, kind: 'error', error: toSerializedError(error) });
  }

  /** Sends the terminal reply of an open request; a second terminal reply for the same id is dropped. */
  #finish(reply: WorkerReply): void {
    if (reply.id === null || !this.#open.delete(reply.id)) return;
    if (!this.#post(reply)) {
      this.#post({
        id: reply.id,
        kind: 'error',
        error: { code: 'internal', message: `The model worker could not send its ${reply.kind} reply (not structured-cloneable): this is a bug in the engine.` },
      });
    }
  }

  #postUnaddressed(id: RequestId | null, error: AppError): void {
    const reply: ErrorMessage = { id, kind: 'error', error: error.toJSON() };
    this.#post(reply);
  }

  /** False when the message could not be cloned (postMessage throws DataCloneError synchronously). */
  #post(reply: WorkerReply): boolean {
    try {
      this.#port.postMessage(reply);
      return true;
    } catch {
      return false;
    }
  }
}

function reasonOf(signal: AbortSignal): string {
  return signal.reason instanceof AppError ? signal.reason.message : 'Cancelled.';
}

function unsupportedCache(backend: WorkerBackend): AppError {
  return new AppError('unsupported', `The ${backend} engine does not report or delete cached models: use the browser's site-data settings to clear them.`);
}

/**
 * Adapts an engine module loaded at run time (one the build may or may not contain, such as the
 * WebLLM adapter) to a BackendModule, checking its shape instead of trusting it: the factory
 * export must be a function, what it returns must look like an Engine with a valid `info`, and
 * optional `cacheStatus` / `deleteCache` exports are used when present.
 */
export function backendModuleFrom<B extends WorkerBackend>(backend: B, loaded: unknown, factoryName: string): BackendModule<B> {
  const exports = isRecord(loaded) ? loaded : {};
  const factory = exports[factoryName];
  if (!isFunction(factory)) {
    throw new AppError('unsupported', `The ${backend} engine module has no ${factoryName} function: this build cannot run the ${backend} engine, choose another engine.`);
  }
  const cacheStatus = exports.cacheStatus;
  const deleteCache = exports.deleteCache;
  return {
    async create(options, onProgress) {
      const engine: unknown = await factory(options, onProgress);
      if (!isEngine(engine)) {
        throw new AppError('internal', `${factoryName} returned something that is not an Engine (generate, score, tokenize, dispose and a valid info): this is a bug in the ${backend} adapter.`);
      }
      return engine;
    },
    ...(isFunction(cacheStatus) ? { cacheStatus: async (options: SpecOptions<B>) => CacheStatus.parse(await cacheStatus(options)) } : {}),
    ...(isFunction(deleteCache) ? { deleteCache: async (options: SpecOptions<B>) => void (await deleteCache(options)) } : {}),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isFunction(value: unknown): value is (...args: unknown[]) => unknown {
  return typeof value === 'function';
}

function isEngine(value: unknown): value is Engine {
  return (
    isRecord(value) &&
    ['generate', 'score', 'tokenize', 'dispose'].every((method) => isFunction(value[method])) &&
    EngineInfo.safeParse(value.info).success
  );
}
