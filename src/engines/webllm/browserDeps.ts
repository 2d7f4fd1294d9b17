/**
 * The adapter's dependencies in a real browser or worker: WebLLM's MLCEngine and cache helpers
 * (imported lazily: WebLLM's bundle is several MB), fetch, navigator.gpu and navigator.storage.
 */
import { parseCatalog, type ModelCatalog } from '../../core/catalog.ts';
import { AppError } from '../../core/errors.ts';
import type { GpuProbe, StorageProbe, WebLlmCacheBackend, WebLlmCacheFns, WebLlmCacheScope, WebLlmDeps } from './options.ts';

export function browserDeps(cacheBackend: WebLlmCacheBackend): WebLlmDeps {
  const scope = globalThis as { navigator?: { gpu?: GpuProbe; storage?: StorageProbe } };
  return {
    createEngine: async (config) => new (await import('@mlc-ai/web-llm')).MLCEngine(config),
    loadCatalog: fetchCatalog,
    cache: browserCacheFns(cacheBackend),
    fetchFile: (url, cacheScope) => fetchPreferringCache(url, cacheScope, cacheBackend),
    gpu: scope.navigator?.gpu,
    storage: scope.navigator?.storage,
    webLlmModelVersion: async () => (await import('@mlc-ai/web-llm')).modelVersion,
  };
}

export async function fetchCatalog(url: string): Promise<ModelCatalog> {
  const response = await fetch(url);
  if (!response.ok) throw new AppError('model-files-missing', `The model catalog ${url} could not be loaded (HTTP ${response.status}).`);
  return parseCatalog(await response.text());
}

export function browserCacheFns(cacheBackend: WebLlmCacheBackend): WebLlmCacheFns {
  return {
    hasModelInCache: async (modelId, appConfig) => (await import('@mlc-ai/web-llm')).hasModelInCache(modelId, appConfig),
    deleteModelAllInfoInCache: async (modelId, appConfig) => (await import('@mlc-ai/web-llm')).deleteModelAllInfoInCache(modelId, appConfig),
    deleteFile: async (url, cacheScope) => {
      const caches = (globalThis as { caches?: CacheStorage }).caches;
      if (cacheBackend === 'cache' && caches) await (await caches.open(cacheScope)).delete(url);
    },
  };
}

/**
 * With the Cache API backend WebLLM has already stored mlc-chat-config.json and tokenizer.json
 * under their URLs, so they are read from there (no second download, works offline).
 * tokenizer_config.json, which WebLLM never fetches, is stored beside them on first use.
 */
async function fetchPreferringCache(url: string, scope: WebLlmCacheScope, cacheBackend: WebLlmCacheBackend): Promise<Response> {
  const caches = (globalThis as { caches?: CacheStorage }).caches;
  if (cacheBackend !== 'cache' || !caches) return fetch(url);
  const cache = await caches.open(scope);
  const hit = await cache.match(url);
  if (hit) return hit;
  const response = await fetch(url);
  if (response.ok) await cache.put(url, response.clone());
  return response;
}
