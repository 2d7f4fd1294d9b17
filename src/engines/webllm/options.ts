/**
 * The WebLLM adapter's options (parsed with zod at the worker boundary) and the seams it is built
 * on: exactly the part of WebLLM's engine it calls, WebLLM's cache helpers, and the browser
 * probes. Tests pass a stand-in for each; the browser defaults live in `browserDeps.ts`.
 */
import type { AppConfig, ChatCompletionChunk, ChatCompletionRequestStreaming, ChatOptions, MLCEngine, MLCEngineConfig } from '@mlc-ai/web-llm';
import { z } from 'zod';
import { WebLlmCatalogEntry, type ModelCatalog } from '../../core/catalog.ts';
import { AppError } from '../../core/errors.ts';

export const WebLlmCacheBackend = z.enum(['cache', 'indexeddb']);
export type WebLlmCacheBackend = z.infer<typeof WebLlmCacheBackend>;

export const WebLlmEngineOptions = z
  .object({
    /** The catalog entry to load. */
    entry: WebLlmCatalogEntry.optional(),
    /**
     * Or a catalog id / WebLLM model id, looked up in the catalog at `catalogUrl` (what the worker
     * protocol sends: the page and the worker share public/models.json).
     */
    modelId: z.string().min(1).optional(),
    /** The page's catalog; defaults to models.json beside the page (`baseUrl`). */
    catalogUrl: z.string().optional(),
    /** Weights folder and model library of a build the user hosts; they replace the entry's URLs (both or neither). */
    modelUrl: z.string().optional(),
    modelLibUrl: z.string().optional(),
    /**
     * Where WebLLM keeps downloaded files: the Cache API (WebLLM's best-tested backend) or
     * IndexedDB. WebLLM 0.2.83+ replaced the old `useIndexedDBCache` flag by `cacheBackend` and
     * ignores the flag silently, so this is what selects IndexedDB.
     */
    cacheBackend: WebLlmCacheBackend.default('cache'),
    /**
     * The page's URL, for resolving relative model URLs. Defaults to `document.baseURI`, or in a
     * worker to the origin (what WebLLM itself uses there): a worker of a page served under a
     * sub-path must pass the page URL.
     */
    baseUrl: z.string().optional(),
    /** Compare the download size with `navigator.storage.estimate()` before downloading. */
    checkStorageQuota: z.boolean().default(true),
    logLevel: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT']).default('WARN'),
  })
  .refine((options) => options.entry !== undefined || options.modelId !== undefined, { message: 'Give a catalog entry or a model id.' });
export type WebLlmEngineOptions = z.input<typeof WebLlmEngineOptions>;


export type ParsedWebLlmOptions = z.output<typeof WebLlmEngineOptions>;

export function parseOptions(input: WebLlmEngineOptions): ParsedWebLlmOptions {
  const parsed = WebLlmEngineOptions.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message));
  throw new AppError('invalid-input', `Invalid WebLLM engine options: ${problems.join('; ')}`);
}

/**
 * Exactly the part of WebLLM's engine this adapter calls. `MLCEngine` satisfies it (checked
 * below at compile time) and so does the test stand-in, so the same adapter code runs in both.
 */
export interface WebLlmEngineSurface {
  reload(modelId: string, chatOpts?: ChatOptions): Promise<void>;
  unload(): Promise<void>;
  resetChat(keepStats?: boolean, modelId?: string): Promise<void>;
  forwardTokensAndSample(inputIds: number[], isPrefill: boolean, modelId?: string): Promise<number>;
  interruptGenerate(): void | Promise<void>;
  chat: { completions: { create(request: ChatCompletionRequestStreaming): Promise<AsyncIterable<ChatCompletionChunk>> } };
}
// Compile-time proof that the real engine has this surface.
const _mlcEngineHasSurface = (engine: MLCEngine): WebLlmEngineSurface => engine;
void _mlcEngineHasSurface;

export type WebLlmCacheScope = 'webllm/config' | 'webllm/model';

/** WebLLM's cache utilities (module functions), plus removal of the one file this adapter caches itself. */
export interface WebLlmCacheFns {
  hasModelInCache(modelId: string, appConfig?: AppConfig): Promise<boolean>;
  deleteModelAllInfoInCache(modelId: string, appConfig?: AppConfig): Promise<void>;
  deleteFile(url: string, scope: WebLlmCacheScope): Promise<void>;
}

/** `navigator.gpu` as far as the preflight needs it. */
export interface GpuProbe {
  requestAdapter(): Promise<{ readonly features: { has(feature: string): boolean } } | null>;
}

/** `navigator.storage` as far as the quota check needs it. */
export interface StorageProbe {
  estimate(): Promise<{ quota?: number; usage?: number }>;
  persist?(): Promise<boolean>;
}

export interface WebLlmDeps {
  createEngine(config: MLCEngineConfig): WebLlmEngineSurface | Promise<WebLlmEngineSurface>;
  /** Reads the model catalog (only when the options name a model id instead of giving the entry). */
  loadCatalog(url: string): Promise<ModelCatalog>;
  cache: WebLlmCacheFns;
  /** Reads a model file (mlc-chat-config.json, tokenizer files) by URL, preferring WebLLM's cache. */
  fetchFile(url: string, scope: WebLlmCacheScope): Promise<Response>;
  gpu: GpuProbe | undefined;
  storage: StorageProbe | undefined;
  /** WebLLM's `modelVersion` (e.g. "v0_2_86/base"): the one-pass path runs only on the version it was written against. */
  webLlmModelVersion(): Promise<string>;
}

