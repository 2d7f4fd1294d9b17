/**
 * Which model WebLLM loads and from where: the catalog entry named by the options (custom
 * weight/library URLs validated and applied), and the AppConfig built from it, which must be the
 * same object for `reload()` and for WebLLM's cache helpers.
 */
import type { AppConfig, ChatOptions, ModelRecord } from '@mlc-ai/web-llm';
import { absoluteUrl, findEntry, withCustomUrls, type WebLlmCatalogEntry } from '../../core/catalog.ts';
import { AppError } from '../../core/errors.ts';
import type { ParsedWebLlmOptions, WebLlmCacheBackend, WebLlmDeps } from './options.ts';

/** The AppConfig WebLLM loads this entry with; the same object must go to the cache helpers. */
export function buildAppConfig(
  entry: WebLlmCatalogEntry,
  options: { cacheBackend?: WebLlmCacheBackend; baseUrl?: string } = {},
): AppConfig {
  if (entry.modelUrl === null || entry.modelLibUrl === null) throw missingUrlsError(entry);
  const baseUrl = options.baseUrl ?? defaultBaseUrl();
  const record: ModelRecord = {
    // Absolute: WebLLM calls `new URL()` on `model` before resolving it, and resolves a relative
    // `model_lib` against the origin only inside a worker.
    model: absoluteUrl(entry.modelUrl, baseUrl),
    model_id: entry.modelId,
    model_lib: absoluteUrl(entry.modelLibUrl, baseUrl),
    vram_required_MB: entry.vramMB,
    low_resource_required: entry.vramMB <= 2048,
    required_features: [...entry.requiredFeatures],
    overrides: { ...(entry.overrides as ChatOptions | undefined), context_window_size: entry.contextWindow },
  };
  return { model_list: [record], cacheBackend: options.cacheBackend ?? 'cache' };
}

export function missingUrlsError(entry: WebLlmCatalogEntry): AppError {
  return new AppError(
    'invalid-input',
    `${entry.label} is not prebuilt: build it (README, "Zephyr-7B-beta on WebLLM"), host the weights folder and the .wasm library, then set modelUrl and modelLibUrl in public/models.json or under Model → Custom model URLs.`,
  );
}

/** The page's URL in a document; in a worker, the origin (what WebLLM itself resolves against there). */
export function defaultBaseUrl(): string | undefined {
  const scope = globalThis as { document?: { baseURI?: string }; location?: { origin?: string } };
  if (scope.document?.baseURI) return scope.document.baseURI;
  return scope.location?.origin ? `${scope.location.origin}/` : undefined;
}

/** The entry the options name, with the user's URLs applied (validated) when given. */
export async function resolveEntry(options: ParsedWebLlmOptions, deps: Pick<WebLlmDeps, 'loadCatalog'>, baseUrl: string | undefined): Promise<WebLlmCatalogEntry> {
  let entry = options.entry;
  if (!entry) {
    const id = options.modelId as string;
    const catalogUrl = options.catalogUrl ?? absoluteUrl('models.json', baseUrl);
    const found = findEntry(await deps.loadCatalog(catalogUrl), id);
    if (!found) throw new AppError('invalid-input', `The model catalog (${catalogUrl}) has no model "${id}": choose a model from the list.`);
    if (found.engine !== 'webllm') throw new AppError('invalid-input', `${found.label} runs on the Transformers.js engine, not WebLLM.`);
    entry = found;
  }
  if (options.modelUrl !== undefined || options.modelLibUrl !== undefined) {
    if (!options.modelUrl || !options.modelLibUrl) throw new AppError('invalid-input', `${entry.label}: give both the weights URL and the model library URL.`);
    entry = withCustomUrls(entry, { modelUrl: options.modelUrl, modelLibUrl: options.modelLibUrl }, baseUrl);
  }
  return entry;
}
