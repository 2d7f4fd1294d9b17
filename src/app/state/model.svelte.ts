/**
 * The model: catalog, WebGPU support, loading (progress, cancel), unloading, the browser cache,
 * custom URLs for self-hosted builds, and the single-engine lock every model task goes through.
 *
 * One model, one worker, one task at a time: persona inference, generation, scoring and the
 * token view all call `run`, which refuses a second task while one runs (the page disables the
 * buttons too) and hands the task an AbortSignal that the page's Stop/Cancel buttons abort.
 * The page only talks to the model through WorkerEngine.
 *
 * Failures handled: a catalog that does not load or parse (message, no models), no WebGPU or no
 * shader-f16 (models that need them are disabled with the reason; the Transformers.js engine on
 * WASM stays available), a failed or cancelled load (the worker is discarded by the client), the
 * worker crashing later (status becomes an error with the next step, the running task fails).
 */
import {
  needsUrls,
  parseCatalog,
  validateCustomModel,
  type CatalogEntry,
  type ModelCatalog,
} from '../../core/catalog.ts';
import type { LoadProgress } from '../../core/engine.ts';
import { AppError, toSerializedError, type SerializedError } from '../../core/errors.ts';
import { networkAllowList, type NetworkAllowList } from '../../core/networkPolicy.ts';
import type { EngineSpecInput } from '../../core/protocol.ts';
import { WorkerEngine, type WorkerEngineOptions } from '../engine/workerEngine.ts';
import { FrameBatch } from '../lib/frameBatch.ts';
import { detectGpu, type GpuSupport } from '../lib/gpu.ts';
import type { ModelStamp } from '../storage/records.ts';
import { z } from 'zod';

export type DeviceChoice = 'auto' | 'webgpu' | 'wasm';
/** How the model worker starts: the real module worker by default (tests host the real engine host in-process). */
export type ModelWorkerOptions = Pick<WorkerEngineOptions, 'createWorker' | 'liveness' | 'baseUrl'>;
export type TaskName = 'infer' | 'generate' | 'score' | 'tokens';
export type ModelStatus = 'idle' | 'loading' | 'ready' | 'error';

/** User-entered URLs for a catalog entry whose build the user hosts. */
export const CustomUrls = z.object({ entryId: z.string(), modelUrl: z.string(), modelLibUrl: z.string() });
export type CustomUrls = z.infer<typeof CustomUrls>;

export interface LoadView {
  stage: LoadProgress['stage'];
  text: string;
  fraction: number | undefined;
  loadedMB: number | undefined;
  totalMB: number | undefined;
}

/** What to do next, by error code, beyond what the message itself says. */
const NEXT_STEP: Partial<Record<SerializedError['code'], string>> = {
  'no-webgpu': 'Choose the WASM device (Transformers.js runs on the CPU without WebGPU).',
  'no-shader-f16': 'Choose a q4f32 build: it needs no shader-f16.',
  'out-of-memory': 'Choose a smaller model, close other GPU-heavy tabs, then load again.',
  'device-lost': 'The GPU was reset. Close other GPU-heavy tabs and load the model again, or choose a smaller one.',
  'worker-crashed': 'Load the model again; if it keeps crashing, choose a smaller model or the WASM device.',
  'quota-exceeded': 'Free browser storage: delete cached models with "Delete from cache", or clear site data.',
  'download-interrupted': 'Check your connection and load again: files already downloaded are kept.',
};

export class ModelController {
  #catalog = $state.raw<ModelCatalog | null>(null);
  #catalogError = $state<string | null>(null);
  #gpu = $state<GpuSupport>({ status: 'checking' });
  #selectedId = $state<string | undefined>(undefined);
  #device = $state<DeviceChoice>('auto');
  #customUrls = $state<CustomUrls[]>([]);
  #customError = $state<string | null>(null);
  #customWarnings = $state<string[]>([]);

  #status = $state<ModelStatus>('idle');
  #progress = $state<LoadView | null>(null);
  #error = $state<SerializedError | null>(null);
  #notice = $state<string | null>(null);
  #engine = $state.raw<WorkerEngine | null>(null);
  #stamp = $state<ModelStamp | null>(null);
  #loadAbort: AbortController | null = null;
  /** Bytes per file of the current load (plain bookkeeping; the view is `#progress`). */
  #bytes: Record<string, { loaded: number; total: number }> = {};

  #cached = $state<Record<string, boolean>>({});
  #cacheSupported = $state<boolean | null>(null);
  #storage = $state<{ usageMB: number; quotaMB: number } | null>(null);

  #task = $state<{ name: TaskName; label: string } | null>(null);
  #taskAbort: AbortController | null = null;

  readonly #progressBatch = new FrameBatch<LoadProgress>((items) => this.#applyProgress(items));
  readonly #onSettings: () => void;
  readonly #worker: ModelWorkerOptions;

  constructor(onSettings: () => void, worker: ModelWorkerOptions = {}) {
    this.#onSettings = onSettings;
    this.#worker = worker;
  }

  async init(settings: { modelId: string | undefined; device: DeviceChoice; customModels: unknown[] }): Promise<void> {
    this.#device = settings.device;
    this.#customUrls = settings.customModels.flatMap((value) => {
      const parsed = CustomUrls.safeParse(value);
      return parsed.success ? [parsed.data] : [];
    });
    const [gpu] = await Promise.all([detectGpu(), this.#loadCatalog(), this.#estimateStorage()]);
    this.#gpu = gpu;
    const catalog = this.#catalog;
    if (!catalog) return;
    const stored = catalog.models.find((entry) => entry.id === settings.modelId);
    const usable = (entry: CatalogEntry | undefined) => entry !== undefined && this.unavailableReason(entry) === null;
    // Without WebGPU the offline default (Transformers.js on WASM) is the only model that can run.
    const fallback = catalog.models.find((entry) => entry.id === catalog.offlineDefault);
    this.#selectedId = (usable(stored) ? stored : usable(fallback) ? fallback : catalog.models.find(usable))?.id ?? catalog.models[0]?.id;
  }

  // Reads ---------------------------------------------------------------------------------------

  get catalog(): ModelCatalog | null {
    return this.#catalog;
  }
  get catalogError(): string | null {
    return this.#catalogError;
  }
  get gpu(): GpuSupport {
    return this.#gpu;
  }
  get status(): ModelStatus {
    return this.#status;
  }
  get progress(): LoadView | null {
    return this.#progress;
  }
  get error(): SerializedError | null {
    return this.#error;
  }
  get nextStep(): string | null {
    return this.#error ? (NEXT_STEP[this.#error.code] ?? null) : null;
  }
  get notice(): string | null {
    return this.#notice;
  }
  get engine(): WorkerEngine | null {
    return this.#engine;
  }
  get stamp(): ModelStamp | null {
    return this.#stamp;
  }
  get task() {
    return this.#task;
  }
  get busy(): boolean {
    return this.#task !== null;
  }
  get cached(): Readonly<Record<string, boolean>> {
    return this.#cached;
  }
  get cacheSupported(): boolean | null {
    return this.#cacheSupported;
  }
  get storage() {
    return this.#storage;
  }
  get customError(): string | null {
    return this.#customError;
  }
  get customWarnings(): readonly string[] {
    return this.#customWarnings;
  }
  get customModels(): readonly CustomUrls[] {
    return this.#customUrls;
  }

  get selectedId(): string | undefined {
    return this.#selectedId;
  }
  set selectedId(id: string | undefined) {
    this.#selectedId = id;
    this.#customError = null;
    this.#customWarnings = [];
    this.#onSettings();
  }
  get selected(): CatalogEntry | undefined {
    return this.#catalog?.models.find((entry) => entry.id === this.#selectedId);
  }

  get device(): DeviceChoice {
    return this.#device;
  }
  set device(device: DeviceChoice) {
    this.#device = device;
    this.#onSettings();
  }

  /**
   * The device a Transformers.js entry would load on with the current choice. "Auto" prefers
   * WebGPU on a hardware adapter and WASM on a software one (SwiftShader, llvmpipe), where WASM is
   * an order of magnitude faster.
   */
  resolvedDevice(entry: CatalogEntry, choice: DeviceChoice = this.#device): 'webgpu' | 'wasm' | null {
    if (entry.engine !== 'transformers') return this.#gpu.status === 'available' ? 'webgpu' : null;
    const webgpu = entry.devices.includes('webgpu') && this.#gpu.status === 'available';
    const wasm = entry.devices.includes('wasm');
    if (choice === 'webgpu') return webgpu ? 'webgpu' : null;
    if (choice === 'wasm') return wasm ? 'wasm' : null;
    const software = this.#gpu.status === 'available' && this.#gpu.software;
    if (webgpu && !(software && wasm)) return 'webgpu';
    return wasm ? 'wasm' : null;
  }

  /** What "Auto" resolves to for the selected Transformers.js entry, and why when the GPU is passed over. */
  get autoDevice(): { device: 'webgpu' | 'wasm' | null; why: string | null } {
    const entry = this.selected;
    if (!entry || entry.engine !== 'transformers') return { device: null, why: null };
    const device = this.resolvedDevice(entry, 'auto');
    const gpu = this.#gpu;
    const why = device === 'wasm' && gpu.status === 'available' && gpu.software ? `the GPU adapter is a software renderer (${gpu.description}), where WASM is much faster` : null;
    return { device, why };
  }

  /** Why `entry` cannot run here, or null when it can. */
  unavailableReason(entry: CatalogEntry): string | null {
    const gpu = this.#gpu;
    if (entry.engine === 'webllm') {
      if (gpu.status === 'checking') return null;
      if (gpu.status === 'unavailable') return 'needs WebGPU';
      const missing = entry.requiredFeatures.filter((feature) => feature !== 'shader-f16' || !gpu.shaderF16);
      if (missing.length > 0) return `needs ${missing.join(', ')}, which this GPU lacks`;
      return null;
    }
    if (this.resolvedDevice(entry) === null) return this.#device === 'webgpu' ? 'needs WebGPU (choose the WASM device)' : 'no usable device';
    return null;
  }

  /** The URLs in effect for `entry`: the user's for a self-hosted build, else the catalog's. */
  urlsFor(entry: CatalogEntry): { modelUrl: string; modelLibUrl: string } | null {
    if (entry.engine !== 'webllm') return null;
    const custom = this.#customUrls.find((urls) => urls.entryId === entry.id);
    if (custom) return { modelUrl: custom.modelUrl, modelLibUrl: custom.modelLibUrl };
    return entry.modelUrl !== null && entry.modelLibUrl !== null ? { modelUrl: entry.modelUrl, modelLibUrl: entry.modelLibUrl } : null;
  }

  /**
   * The hosts the model worker may contact while `entry` loads: the page's origin and the model's
   * URLs in effect. The worker computes the same list from the load request and refuses the rest.
   */
  workerNetwork(entry: CatalogEntry, pageUrl: string = document.baseURI): NetworkAllowList {
    const urls = this.urlsFor(entry);
    return networkAllowList(pageUrl, urls ? [urls.modelUrl, urls.modelLibUrl] : []);
  }

  needsCustomUrls(entry: CatalogEntry): boolean {
    return needsUrls(entry) && !this.#customUrls.some((urls) => urls.entryId === entry.id);
  }

  // Custom URLs ---------------------------------------------------------------------------------

  /** Validates and keeps URLs for the selected self-hosted build; false (with a message) when invalid. */
  setCustomUrls(modelUrl: string, modelLibUrl: string): boolean {
    const entry = this.selected;
    if (!entry || entry.engine !== 'webllm') return false;
    const checked = validateCustomModel({ modelUrl, modelLibUrl }, document.baseURI);
    if (!checked.ok) {
      this.#customError = checked.message;
      this.#customWarnings = [];
      return false;
    }
    this.#customError = null;
    this.#customWarnings = checked.warnings;
    this.#customUrls = [
      ...this.#customUrls.filter((urls) => urls.entryId !== entry.id),
      { entryId: entry.id, modelUrl: checked.modelUrl, modelLibUrl: checked.modelLibUrl },
    ];
    this.#onSettings();
    return true;
  }

  clearCustomUrls(): void {
    const entry = this.selected;
    if (!entry) return;
    this.#customUrls = this.#customUrls.filter((urls) => urls.entryId !== entry.id);
    this.#customWarnings = [];
    this.#onSettings();
  }

  // Loading -------------------------------------------------------------------------------------

  async load(): Promise<void> {
    const entry = this.selected;
    if (!entry || this.#status === 'loading') return;
    const reason = this.unavailableReason(entry);
    if (reason) {
      this.#fail(new AppError(entry.engine === 'webllm' ? 'no-webgpu' : 'unsupported', `${entry.label} cannot run here: it ${reason}.`));
      return;
    }
    let spec: EngineSpecInput;
    try {
      spec = this.#spec(entry);
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.cancelTask();
    await this.#disposeEngine();
    const storageProblem = this.#storageProblem(entry);
    this.#notice = storageProblem;
    this.#error = null;
    this.#status = 'loading';
    this.#bytes = {};
    this.#progress = { stage: 'fetch', text: 'Starting the model worker', fraction: undefined, loadedMB: undefined, totalMB: undefined };
    const abort = new AbortController();
    this.#loadAbort = abort;
    // Set once loaded: a crash during the load rejects the load itself, handled below.
    let loaded: WorkerEngine | undefined;
    try {
      const engine = await WorkerEngine.load(spec, {
        ...this.#worker,
        signal: abort.signal,
        onProgress: (progress) => this.#progressBatch.push(progress),
        onCrash: (error) => this.#crashed(loaded, error),
      });
      loaded = engine;
      this.#progressBatch.flush();
      if (abort.signal.aborted) {
        void engine.dispose();
        return;
      }
      this.#engine = engine;
      this.#stamp = { id: entry.id, label: entry.label, backend: engine.info.backend, device: engine.info.device };
      this.#status = 'ready';
      this.#progress = null;
      // What generation and scoring import on first use (chat templates, the scorer), fetched now.
      void import('../../core/scorer.ts');
      void this.refreshCache();
      void this.#estimateStorage();
    } catch (error) {
      this.#progressBatch.flush();
      if (abort.signal.aborted) {
        this.#status = 'idle';
        this.#progress = null;
        this.#notice = 'Loading cancelled. Files already downloaded stay in the browser cache.';
      } else this.#fail(error);
    } finally {
      if (this.#loadAbort === abort) this.#loadAbort = null;
    }
  }

  cancelLoad(): void {
    this.#loadAbort?.abort();
  }

  async unload(): Promise<void> {
    this.cancelTask();
    await this.#disposeEngine();
    this.#status = 'idle';
    this.#notice = 'Model released: its GPU memory is free. Its files stay in the browser cache.';
  }

  async refreshCache(): Promise<void> {
    const engine = this.#engine;
    const catalog = this.#catalog;
    if (!engine || !catalog) return;
    const sameBackend = catalog.models.filter((entry) => entry.engine === engine.info.backend);
    const next: Record<string, boolean> = { ...this.#cached };
    for (const entry of sameBackend) {
      try {
        next[entry.id] = (await engine.cacheStatus(this.#cacheId(entry))).cached;
        this.#cacheSupported = true;
      } catch (error) {
        if (toSerializedError(error).code === 'unsupported') {
          this.#cacheSupported = false;
          break;
        }
      }
    }
    this.#cached = next;
  }

  /** Deletes the selected model's files from the browser cache (through the loaded engine's worker). */
  async deleteFromCache(): Promise<void> {
    const entry = this.selected;
    const engine = this.#engine;
    if (!entry) return;
    if (!engine || engine.info.backend !== entry.engine) {
      this.#notice = `Load a ${entry.engine === 'webllm' ? 'WebLLM' : 'Transformers.js'} model first: its worker manages that engine's cache.`;
      return;
    }
    try {
      await engine.deleteCache(this.#cacheId(entry));
      this.#cached = { ...this.#cached, [entry.id]: false };
      this.#notice = `Deleted ${entry.label} from the browser cache.${this.#stamp?.id === entry.id ? ' It stays loaded until you release it.' : ''}`;
      void this.#estimateStorage();
    } catch (error) {
      const serialized = toSerializedError(error);
      this.#notice = serialized.code === 'unsupported' ? `This engine cannot manage its cache from the page: ${serialized.message}` : serialized.message;
    }
  }

  // The single-engine lock ----------------------------------------------------------------------

  /** Runs one model task; refuses when no model is loaded or another task is running. */
  async run<T>(name: TaskName, label: string, work: (engine: WorkerEngine, signal: AbortSignal) => Promise<T>): Promise<T> {
    const engine = this.#engine;
    if (!engine || this.#status !== 'ready') throw new AppError('not-loaded', 'Load a model first (Model → Load model).');
    if (this.#task) throw new AppError('invalid-input', `The model is busy (${this.#task.label}): wait for it or cancel it.`);
    const abort = new AbortController();
    this.#task = { name, label };
    this.#taskAbort = abort;
    try {
      return await work(engine, abort.signal);
    } finally {
      if (this.#taskAbort === abort) {
        this.#task = null;
        this.#taskAbort = null;
      }
    }
  }

  cancelTask(): void {
    this.#taskAbort?.abort();
  }

  // Internals -----------------------------------------------------------------------------------

  #spec(entry: CatalogEntry): EngineSpecInput {
    if (entry.engine === 'transformers') {
      const device = this.resolvedDevice(entry);
      if (!device) throw new AppError('no-webgpu', `${entry.label} has no usable device here.`);
      const slash = entry.modelPath.replace(/\/+$/, '').lastIndexOf('/');
      const folder = slash === -1 ? '' : entry.modelPath.slice(0, slash + 1);
      const model = entry.modelPath.replace(/\/+$/, '').slice(slash + 1);
      return {
        backend: 'transformers',
        options: { model, device, dtype: entry.dtype, ...(folder && { localModelPath: folder }), useBrowserCache: true },
      };
    }
    const urls = this.urlsFor(entry);
    if (!urls) {
      throw new AppError('invalid-input', `${entry.label} is a build you host yourself: enter its weights and model library URLs under "Custom model URLs" first.`);
    }
    return { backend: 'webllm', options: { modelId: entry.modelId, modelUrl: urls.modelUrl, modelLibUrl: urls.modelLibUrl } };
  }

  /** The id the engine's cache functions take for `entry`. */
  #cacheId(entry: CatalogEntry): string {
    if (entry.engine === 'webllm') return entry.modelId;
    return entry.modelPath.replace(/\/+$/, '').split('/').pop() ?? entry.modelPath;
  }

  #storageProblem(entry: CatalogEntry): string | null {
    const storage = this.#storage;
    if (!storage || this.#cached[entry.id]) return null;
    const free = storage.quotaMB - storage.usageMB;
    return entry.sizes.downloadMB > free
      ? `This download (~${Math.round(entry.sizes.downloadMB)} MB) may not fit the ~${Math.round(free)} MB of browser storage left for this site; it may fail with a quota error.`
      : null;
  }

  #applyProgress(items: LoadProgress[]): void {
    for (const item of items) {
      if (item.file !== undefined && item.totalBytes !== undefined) {
        this.#bytes[item.file] = { loaded: item.loadedBytes ?? 0, total: item.totalBytes };
      } else if (item.file !== undefined && item.fraction === 1) {
        const known = this.#bytes[item.file];
        if (known) known.loaded = known.total;
      }
    }
    const last = items.at(-1);
    if (!last || this.#status !== 'loading') return;
    let loaded = 0;
    let total = 0;
    for (const entry of Object.values(this.#bytes)) {
      loaded += entry.loaded;
      total += entry.total;
    }
    const byBytes = last.stage === 'fetch' && total > 0 ? loaded / total : undefined;
    this.#progress = {
      stage: last.stage,
      text: last.text,
      fraction: byBytes ?? last.fraction,
      loadedMB: total > 0 ? loaded / 1e6 : undefined,
      totalMB: total > 0 ? total / 1e6 : undefined,
    };
  }

  #crashed(engine: WorkerEngine | undefined, error: AppError): void {
    if (engine === undefined || this.#engine !== engine) return;
    this.#engine = null;
    this.#stamp = null;
    this.#taskAbort?.abort();
    this.#fail(error);
  }

  #fail(error: unknown): void {
    this.#status = 'error';
    this.#progress = null;
    this.#error = toSerializedError(error);
  }

  async #disposeEngine(): Promise<void> {
    const engine = this.#engine;
    this.#engine = null;
    this.#stamp = null;
    if (engine) await engine.dispose();
  }

  async #loadCatalog(): Promise<void> {
    try {
      const response = await fetch('models.json');
      if (!response.ok) throw new AppError('model-files-missing', `models.json answered HTTP ${response.status}`);
      this.#catalog = parseCatalog(await response.text());
    } catch (error) {
      this.#catalogError = `The model list could not be loaded: ${toSerializedError(error).message}. Reload the page; if it persists, the site is missing models.json.`;
    }
  }

  async #estimateStorage(): Promise<void> {
    try {
      const estimate = await navigator.storage?.estimate();
      if (estimate?.quota !== undefined) this.#storage = { usageMB: (estimate.usage ?? 0) / 1e6, quotaMB: estimate.quota / 1e6 };
    } catch {
      // Not every browser offers an estimate; the page simply shows none.
    }
  }
}
