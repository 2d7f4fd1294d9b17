/// <reference types="vite/client" />
/**
 * The main-thread client of the model worker. `WorkerEngine` implements Engine, so the page
 * cannot tell that the model runs in a worker (workers/engine.worker.ts behind
 * src/core/protocol.ts).
 *
 * Owns: one worker per loaded model (`WorkerEngine.load` always starts a fresh one, because a
 * failed ONNX Runtime session poisons the context it ran in), request ids, zod parsing of every
 * request before it is sent and every reply when it arrives, AbortSignal → `cancel`, streaming
 * `token` events to the caller's onToken, "newest generation wins" (a new generate supersedes the
 * pending one, whose late result is dropped), and turning relative model/runtime URLs into
 * absolute ones (a worker resolves relative URLs against its own script, not the page).
 *
 * Failures handled: the worker dying — an `error` event (uncaught error or a script that failed to
 * load), `messageerror`, `terminate()` by the page, or silence while requests are pending (the
 * liveness check) — rejects every pending request with `worker-crashed` and notifies onCrash
 * listeners; a failed or cancelled load terminates its worker; a reply that does not parse rejects
 * its request with `internal`; a device-lost or out-of-memory error ends the worker, since it
 * cannot recover from either.
 */
import type { CancelSignal } from '../../core/cancel.ts';
import type { ChatMessage } from '../../core/chat.ts';
import type {
  Engine,
  EngineInfo,
  GenerateOptionsInput,
  GenerateResult,
  ProgressListener,
  ScoreRequest,
  ScoreResult,
  TokenListener,
} from '../../core/engine.ts';
import { AppError, fromSerializedError } from '../../core/errors.ts';
import {
  EngineSpec,
  WorkerReply,
  WorkerRequest,
  parseResult,
  readRequestId,
  type CacheStatus,
  type EngineSpecInput,
  type RequestId,
  type RequestKind,
  type RequestPayloadInput,
  type ResultOf,
} from '../../core/protocol.ts';
import engineWorkerUrl from '../../../workers/engine.worker.ts?worker&url';
import { TRUSTED_TYPES_POLICIES, createPolicy } from '../lib/trustedTypes.ts';

/** The part of a Worker the client uses (a fake in unit tests). */
export type WorkerLike = Pick<Worker, 'postMessage' | 'terminate' | 'addEventListener'>;

export type CrashListener = (error: AppError) => void;

export interface LivenessOptions {
  /** How often to ping a worker that has pending requests and has been quiet. */
  intervalMs: number;
  /**
   * Silence (no message of any kind) after which the worker counts as dead. Keep it above the
   * longest single blocking step of the model (a WASM forward pass or session creation blocks the
   * worker's event loop, so it cannot answer pings meanwhile).
   */
  timeoutMs: number;
}

export interface WorkerEngineOptions {
  onProgress?: ProgressListener;
  /** Aborting cancels the load and terminates its worker. */
  signal?: AbortSignal;
  /** Starts the worker; the default starts workers/engine.worker.ts as a module worker. */
  createWorker?: () => WorkerLike;
  onCrash?: CrashListener;
  /** Detects a worker that died silently; `false` turns it off. Default: ping every 5 s, dead after 60 s of silence. */
  liveness?: LivenessOptions | false;
  /** What relative URLs in the spec resolve against; default: the page's base URI. */
  baseUrl?: string;
  /**
   * `newest-wins` (default): starting a generation supersedes the pending one, which rejects with
   * `aborted` and is cancelled in the worker. `queue`: generations wait their turn.
   */
  generations?: 'newest-wins' | 'queue';
}

const DEFAULT_LIVENESS: LivenessOptions = { intervalMs: 5_000, timeoutMs: 60_000 };
/** How long dispose() waits for the worker to free its model before terminating it anyway. */
const UNLOAD_GRACE_MS = 3_000;
/** Engine errors after which the worker's device or heap is unusable. */
const FATAL_CODES = new Set(['device-lost', 'out-of-memory']);

export class WorkerEngine implements Engine {
  readonly info: EngineInfo;
  readonly #connection: WorkerConnection;
  readonly #spec: EngineSpec;
  readonly #generations: 'newest-wins' | 'queue';
  #currentGeneration: RequestId | undefined;

  private constructor(connection: WorkerConnection, spec: EngineSpec, info: EngineInfo, generations: 'newest-wins' | 'queue') {
    this.#connection = connection;
    this.#spec = spec;
    this.info = info;
    this.#generations = generations;
  }

  /** Starts a worker, loads the model in it and resolves once it is ready (warm-up included). */
  static async load(specInput: EngineSpecInput, options: WorkerEngineOptions = {}): Promise<WorkerEngine> {
    const parsed = EngineSpec.safeParse(specInput);
    if (!parsed.success) throw new AppError('invalid-input', `Invalid model spec: ${describeIssues(parsed.error.issues)}.`);
    const spec = withAbsoluteUrls(parsed.data, options.baseUrl ?? pageBaseUrl());
    if (options.signal?.aborted) throw new AppError('aborted', 'Loading was cancelled.');
    const connection = new WorkerConnection((options.createWorker ?? startEngineWorker)(), options.liveness ?? DEFAULT_LIVENESS);
    if (options.onCrash) connection.onCrash(options.onCrash);
    const onAbort = () => connection.close(new AppError('aborted', 'Loading was cancelled.'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const request = connection.send('load', spec, options.onProgress ? { onProgress: options.onProgress } : {});
      const info = await request.result;
      return new WorkerEngine(connection, spec, info, options.generations ?? 'newest-wins');
    } catch (error) {
      // A failed load may leave the worker's runtime poisoned: never reuse it.
      connection.close(error instanceof AppError ? error : new AppError('internal', String(error)));
      throw error;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async generate(
    messages: readonly ChatMessage[],
    options: GenerateOptionsInput,
    onToken?: TokenListener,
    signal?: CancelSignal,
  ): Promise<GenerateResult> {
    if (signal?.aborted) throw new AppError('aborted', 'Cancelled.');
    const previous = this.#currentGeneration;
    if (this.#generations === 'newest-wins' && previous !== undefined) {
      this.#connection.abandon(previous, new AppError('aborted', 'Superseded by a newer generation.'));
    }
    const request = this.#connection.send('generate', { messages: [...messages], options }, onToken ? { onToken } : {}, signal);
    this.#currentGeneration = request.id;
    try {
      return await request.result;
    } finally {
      if (this.#currentGeneration === request.id) this.#currentGeneration = undefined;
    }
  }

  async score(request: ScoreRequest, signal?: CancelSignal): Promise<ScoreResult> {
    if (signal?.aborted) throw new AppError('aborted', 'Cancelled.');
    return this.#connection.send('score', request, {}, signal).result;
  }

  async tokenize(text: string): Promise<number[]> {
    return (await this.#connection.send('tokenize', { text }).result).ids;
  }

  /** Whether a model of `modelId` (default: the loaded one) is in the browser's cache. */
  async cacheStatus(modelId?: string): Promise<CacheStatus> {
    return this.#connection.send('cacheStatus', this.#specFor(modelId)).result;
  }

  /** Deletes the cached files of `modelId` (default: the loaded one). */
  async deleteCache(modelId?: string): Promise<void> {
    await this.#connection.send('deleteCache', this.#specFor(modelId)).result;
  }

  /**
   * Frees the model (the worker disposes its engine, up to a short grace period) and ends the
   * worker. A running generation stops as a cancelled one does (`finishReason: 'aborted'`); queued
   * and later requests reject with `aborted`.
   */
  async dispose(): Promise<void> {
    await this.#connection.shutdown();
  }

  /** Same as dispose(). */
  async unload(): Promise<void> {
    await this.dispose();
  }

  /**
   * Kills the worker at once, e.g. to stop a computation that cannot be interrupted. Counts as a
   * crash: pending requests reject with `worker-crashed` and onCrash listeners run.
   */
  terminate(reason = 'terminated by the page'): void {
    this.#connection.crash(reason);
  }

  /** Calls `listener` once if the worker dies; returns a function that removes it. */
  onCrash(listener: CrashListener): () => void {
    return this.#connection.onCrash(listener);
  }

  /** False once the worker has crashed or been disposed. */
  get alive(): boolean {
    return this.#connection.alive;
  }

  /** The loaded model's spec, or the same backend's spec for another model. */
  #specFor(modelId: string | undefined): EngineSpec {
    const spec = this.#spec;
    if (spec.backend === 'transformers') {
      return modelId === undefined ? spec : { backend: 'transformers', options: { ...spec.options, model: modelId } };
    }
    if (modelId === undefined || modelId === spec.options.modelId) return spec;
    // The loaded model's weight and library URLs belong to that model; another id is looked up in the catalog.
    const { modelUrl: _modelUrl, modelLibUrl: _modelLibUrl, ...shared } = spec.options;
    return { backend: 'webllm', options: { ...shared, modelId } };
  }
}

interface Hooks {
  onToken?: TokenListener;
  onProgress?: ProgressListener;
}

/** One request awaiting its terminal reply. */
interface Pending extends Hooks {
  readonly kind: RequestKind;
  resolve(payload: unknown): void;
  reject(error: AppError): void;
}

let nextConnection = 0;

/** The worker, its pending requests and its death; shared by nothing but one WorkerEngine. */
class WorkerConnection {
  readonly #worker: WorkerLike;
  readonly #pending = new Map<RequestId, Pending>();
  readonly #crashListeners = new Set<CrashListener>();
  readonly #prefix = `c${++nextConnection}-`;
  readonly #liveness: LivenessOptions | false;
  #nextId = 0;
  #closed: AppError | undefined;
  #lastHeard = Date.now();
  #livenessTimer: ReturnType<typeof setInterval> | undefined;
  #pingOutstanding = false;

  constructor(worker: WorkerLike, liveness: LivenessOptions | false) {
    this.#worker = worker;
    this.#liveness = liveness;
    worker.addEventListener('message', (event) => this.#receive(event.data));
    worker.addEventListener('messageerror', () => this.crash('one of its replies could not be read'));
    worker.addEventListener('error', (event) => {
      // Keep the browser from also reporting it as an uncaught page error: it is handled here.
      event.preventDefault();
      // A script that fails to load fires a plain Event; an uncaught error an ErrorEvent with a message.
      this.crash('message' in event && event.message ? `error: ${event.message}` : 'its script failed to load or threw');
    });
  }

  get alive(): boolean {
    return this.#closed === undefined;
  }

  /**
   * Sends one request. The payload is parsed before it is sent, so bad input is rejected here with
   * `invalid-input` rather than after a round trip. An aborted `signal` sends `cancel`.
   */
  send<K extends RequestKind>(
    kind: K,
    payload: RequestPayloadInput<K>,
    hooks: Hooks = {},
    signal?: CancelSignal,
  ): { id: RequestId; result: Promise<ResultOf<K>> } {
    const id = `${this.#prefix}${++this.#nextId}`;
    const result = new Promise<ResultOf<K>>((resolve, reject) => {
      if (this.#closed) return reject(this.#closed);
      const message = WorkerRequest.safeParse({ id, kind, payload });
      if (!message.success) {
        return reject(new AppError('invalid-input', `Invalid ${kind} request: ${describeIssues(message.error.issues, 1)}.`));
      }
      const onAbort = () => this.cancel(id);
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => {
        signal?.removeEventListener('abort', onAbort);
        this.#updateLiveness();
      };
      this.#pending.set(id, {
        kind,
        ...hooks,
        resolve: (value) => {
          done();
          try {
            resolve(parseResult(kind, value));
          } catch (error) {
            reject(new AppError('internal', `The model worker's ${kind} result was malformed (${String(error)}): reload the model.`));
          }
        },
        reject: (error) => {
          done();
          reject(error);
        },
      });
      this.#post(message.data);
      this.#updateLiveness();
    });
    return { id, result };
  }

  /** Asks the worker to cancel `targetId`; its terminal reply still arrives and settles it. */
  cancel(targetId: RequestId): void {
    if (!this.#pending.has(targetId) || this.#closed) return;
    this.send('cancel', { targetId }).result.catch(() => {
      // The cancel's own outcome does not matter: the target's reply (or a crash) settles the target.
    });
  }

  /** Rejects `id` now, drops whatever it still sends, and cancels it in the worker. */
  abandon(id: RequestId, error: AppError): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.cancel(id);
    this.#pending.delete(id);
    pending.reject(error);
  }

  onCrash(listener: CrashListener): () => void {
    this.#crashListeners.add(listener);
    return () => this.#crashListeners.delete(listener);
  }

  /** The worker died or must be killed: everything pending rejects with `worker-crashed`. */
  crash(reason: string): void {
    if (this.#closed) return;
    const error = new AppError(
      'worker-crashed',
      `The model worker stopped (${reason}): reload the model; if it keeps happening choose a smaller model.`,
    );
    this.close(error);
    for (const listener of [...this.#crashListeners]) listener(error);
  }

  /** Ends the worker; pending and later requests reject with `error`. Not reported as a crash. */
  close(error: AppError): void {
    if (this.#closed) return;
    this.#closed = error;
    this.#worker.terminate();
    clearInterval(this.#livenessTimer);
    this.#livenessTimer = undefined;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const request of pending) request.reject(error);
  }

  /** Lets the engine free its model (GPU memory) for a moment, then ends the worker. */
  async shutdown(): Promise<void> {
    if (this.#closed) return;
    const unloaded = this.send('unload', {}).result.catch(() => undefined);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, UNLOAD_GRACE_MS);
    });
    await Promise.race([unloaded, grace]);
    clearTimeout(timer);
    this.close(new AppError('aborted', 'The model was unloaded: load it again to continue.'));
  }

  #receive(data: unknown): void {
    this.#lastHeard = Date.now();
    const parsed = WorkerReply.safeParse(data);
    if (!parsed.success) {
      const id = readRequestId(data);
      const pending = id === null ? undefined : this.#pending.get(id);
      if (pending && id !== null) {
        this.#pending.delete(id);
        pending.reject(new AppError('internal', `The model worker sent a malformed reply to ${pending.kind} (${parsed.error.issues[0]?.message ?? 'invalid'}): reload the model.`));
      }
      return;
    }
    const reply = parsed.data;
    if (reply.kind === 'error' && reply.id === null) {
      // The worker could not read one of our requests: a bug on this side, with nothing to settle.
      console.warn(`The model worker rejected a request: ${reply.error.message}`);
      return;
    }
    // Replies to abandoned (superseded) requests end here.
    const pending = reply.id === null ? undefined : this.#pending.get(reply.id);
    if (!pending || reply.id === null) return;
    switch (reply.kind) {
      case 'token':
        pending.onToken?.(reply.text, reply.tokens);
        return;
      case 'progress':
        pending.onProgress?.(reply.progress);
        return;
      case 'error': {
        this.#pending.delete(reply.id);
        const error = fromSerializedError(reply.error);
        pending.reject(error);
        if (FATAL_CODES.has(error.code)) this.crash(`${error.code}: ${error.message}`);
        return;
      }
      case 'result':
        this.#pending.delete(reply.id);
        if (reply.request !== pending.kind) {
          pending.reject(new AppError('internal', `The model worker answered a ${pending.kind} request with a ${reply.request} result: reload the model.`));
          return;
        }
        pending.resolve(reply.payload);
        return;
    }
  }

  #post(message: WorkerRequest): void {
    try {
      this.#worker.postMessage(message);
    } catch (error) {
      // Only a terminated-by-the-browser worker or an uncloneable payload gets here; both are fatal for this request.
      this.crash(`a request could not be sent: ${String(error)}`);
    }
  }

  /** Runs the liveness check while non-ping requests are pending, and stops it when none are. */
  #updateLiveness(): void {
    if (this.#liveness === false || this.#closed) return;
    const busy = [...this.#pending.values()].some((pending) => pending.kind !== 'ping');
    if (!busy) {
      clearInterval(this.#livenessTimer);
      this.#livenessTimer = undefined;
      return;
    }
    if (this.#livenessTimer !== undefined) return;
    const { intervalMs, timeoutMs } = this.#liveness;
    this.#lastHeard = Date.now();
    this.#livenessTimer = setInterval(() => {
      const silence = Date.now() - this.#lastHeard;
      if (silence >= timeoutMs) {
        this.crash(`no reply for ${Math.round(silence / 1000)} s`);
      } else if (silence >= intervalMs && !this.#pingOutstanding) {
        this.#pingOutstanding = true;
        this.send('ping', {}).result.then(
          () => (this.#pingOutstanding = false),
          () => (this.#pingOutstanding = false),
        );
      }
    }, Math.min(intervalMs, timeoutMs));
  }
}

/** Zod issues as one line; `skip` drops leading path segments (the message envelope). */
function describeIssues(issues: readonly { path: PropertyKey[]; message: string }[], skip = 0): string {
  return issues.map((issue) => `${issue.path.slice(skip).map(String).join('.') || '(value)'}: ${issue.message}`).join('; ');
}

/** The page's base URI, or none outside a page (e.g. in unit tests). */
function pageBaseUrl(): string | undefined {
  return globalThis.document?.baseURI ?? globalThis.location?.href;
}

/**
 * Makes the spec's URLs independent of the worker's location: the worker would resolve a relative
 * URL against its own script (e.g. assets/engine.worker-….js), not the page. WebLLM's adapter gets
 * the page URL as `baseUrl` (it finds the model catalog beside the page). Transformers.js also
 * gets page-relative defaults — models under `models/`, ONNX Runtime under `ort/` — so nothing is
 * fetched from its CDN. A same-origin model path becomes an origin-relative path (`/app/models/`)
 * rather than a full URL, because Transformers.js 4.3.2 skips its local-file existence check for
 * `http(s)://` paths and would then find no tokenizer.
 */
export function withAbsoluteUrls(spec: EngineSpec, baseUrl: string | undefined): EngineSpec {
  const absolute = (url: string) => (baseUrl ? new URL(url, baseUrl).href : url);
  if (spec.backend === 'transformers') {
    const { localModelPath = 'models/', wasmPaths = 'ort/' } = spec.options;
    return {
      backend: 'transformers',
      options: { ...spec.options, localModelPath: originRelative(localModelPath, baseUrl), wasmPaths: absolute(wasmPaths) },
    };
  }
  const { modelUrl, modelLibUrl, catalogUrl } = spec.options;
  const pageUrl = spec.options.baseUrl === undefined ? baseUrl : absolute(spec.options.baseUrl);
  return {
    backend: 'webllm',
    options: {
      ...spec.options,
      ...(pageUrl === undefined ? {} : { baseUrl: pageUrl }),
      ...(modelUrl === undefined ? {} : { modelUrl: absolute(modelUrl) }),
      ...(modelLibUrl === undefined ? {} : { modelLibUrl: absolute(modelLibUrl) }),
      ...(catalogUrl === undefined ? {} : { catalogUrl: absolute(catalogUrl) }),
    },
  };
}

/** `path` resolved against `baseUrl`: origin-relative when on the same origin, a full URL otherwise. */
function originRelative(path: string, baseUrl: string | undefined): string {
  if (!baseUrl) return path;
  const url = new URL(path, baseUrl);
  return url.origin === new URL(baseUrl).origin ? `${url.pathname}${url.search}` : url.href;
}

/**
 * Vouches for the model worker's script URL, and no other, so `new Worker` passes the page's
 * Trusted Types check (Chromium requires a TrustedScriptURL there).
 */
const workerScriptPolicy = createPolicy(TRUSTED_TYPES_POLICIES.worker, {
  createScriptURL(url: string) {
    if (url !== engineWorkerHref()) throw new TypeError(`The ${TRUSTED_TYPES_POLICIES.worker} policy only vouches for the model worker's script.`);
    return url;
  },
});

/** Where Vite put workers/engine.worker.ts (bundled through the `?worker&url` import). */
function engineWorkerHref(): string {
  return new URL(engineWorkerUrl, import.meta.url).href;
}

/** Starts workers/engine.worker.ts as a module worker. */
export function startEngineWorker(): WorkerLike {
  const href = engineWorkerHref();
  // The DOM typings predate Trusted Types: Worker takes a TrustedScriptURL where the browser has them.
  const scriptUrl = (workerScriptPolicy?.createScriptURL(href) ?? href) as string;
  return new Worker(scriptUrl, { type: 'module', name: 'model-worker' });
}
