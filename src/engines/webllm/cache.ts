/**
 * What WebLLM holds in the browser's cache for a catalog entry: whether the weights are there,
 * and deleting them (the "clear and retry" fix for a download cached broken), as the worker
 * protocol's `cacheStatus` / `deleteCache` requests.
 */
import { needsUrls, weightsBaseUrl, type WebLlmCatalogEntry } from '../../core/catalog.ts';
import { buildAppConfig, defaultBaseUrl, resolveEntry } from './appConfig.ts';
import { browserCacheFns, fetchCatalog } from './browserDeps.ts';
import { classifyWebLlmError } from './errors.ts';
import { parseOptions, type WebLlmCacheBackend, type WebLlmCacheFns, type WebLlmDeps, type WebLlmEngineOptions } from './options.ts';

export interface CacheHelperOptions {
  baseUrl?: string;
  /** Defaults to WebLLM's own helpers. */
  cache?: WebLlmCacheFns;
}

/** Whether WebLLM holds the entry's weights (tensor-cache.json and every shard) in `cacheBackend`. */
export async function isModelCached(entry: WebLlmCatalogEntry, cacheBackend: WebLlmCacheBackend = 'cache', options: CacheHelperOptions = {}): Promise<boolean> {
  if (needsUrls(entry)) return false;
  const appConfig = buildAppConfig(entry, { cacheBackend, ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}) });
  const cache = options.cache ?? browserCacheFns(cacheBackend);
  try {
    return await cache.hasModelInCache(entry.modelId, appConfig);
  } catch (error) {
    throw classifyWebLlmError(error, { model: entry.label });
  }
}

/** Deletes the entry's weights, tokenizer, library and config from WebLLM's cache (the "clear and retry" fix). */
export async function deleteCachedModel(entry: WebLlmCatalogEntry, cacheBackend: WebLlmCacheBackend = 'cache', options: CacheHelperOptions = {}): Promise<void> {
  if (needsUrls(entry)) return;
  const baseUrl = options.baseUrl ?? defaultBaseUrl();
  const appConfig = buildAppConfig(entry, { cacheBackend, ...(baseUrl ? { baseUrl } : {}) });
  const cache = options.cache ?? browserCacheFns(cacheBackend);
  try {
    await cache.deleteModelAllInfoInCache(entry.modelId, appConfig);
    await cache.deleteFile(`${weightsBaseUrl(entry.modelUrl as string, baseUrl)}tokenizer_config.json`, 'webllm/model');
  } catch (error) {
    throw classifyWebLlmError(error, { model: entry.label });
  }
}

/**
 * The worker protocol's cache calls: the same options as `createWebLlmEngine` (entry or model id,
 * custom URLs, backend). The returned shape is the protocol's `CacheStatus`.
 */
export async function cacheStatus(input: WebLlmEngineOptions, deps: Partial<Pick<WebLlmDeps, 'cache' | 'loadCatalog'>> = {}): Promise<{ cached: boolean }> {
  const { entry, options, baseUrl } = await resolveForCache(input, deps);
  return { cached: await isModelCached(entry, options.cacheBackend, { ...(baseUrl ? { baseUrl } : {}), ...(deps.cache ? { cache: deps.cache } : {}) }) };
}

export async function deleteCache(input: WebLlmEngineOptions, deps: Partial<Pick<WebLlmDeps, 'cache' | 'loadCatalog'>> = {}): Promise<void> {
  const { entry, options, baseUrl } = await resolveForCache(input, deps);
  await deleteCachedModel(entry, options.cacheBackend, { ...(baseUrl ? { baseUrl } : {}), ...(deps.cache ? { cache: deps.cache } : {}) });
}

async function resolveForCache(input: WebLlmEngineOptions, deps: Partial<Pick<WebLlmDeps, 'loadCatalog'>>) {
  const options = parseOptions(input);
  const baseUrl = options.baseUrl ?? defaultBaseUrl();
  const entry = await resolveEntry(options, { loadCatalog: deps.loadCatalog ?? fetchCatalog }, baseUrl);
  return { entry, options, baseUrl };
}

