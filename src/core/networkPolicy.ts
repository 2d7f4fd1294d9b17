/**
 * Which hosts the model worker may contact, and the refusal when anything asks it for another.
 *
 * The page is held to "nothing you paste leaves your machine" by its Content-Security-Policy
 * (`connect-src 'self'`, vite.config.ts). The model worker is not: a policy in a `<meta>` tag
 * does not reach workers, and the worker must download models from other hosts. So the worker
 * enforces this allow-list at its network entry points (workers/networkGuard.ts): during a load
 * it may contact the page's own origin (the page, its catalog, the self-hosted ONNX Runtime files,
 * models served with the page) and the origins of the model being loaded: the URLs the load
 * request gives (the page takes them from the model's catalog entry in public/models.json or from
 * the custom URLs the user entered), or those of the catalog entry it names. Everything else (a
 * library's CDN fallback, the Hugging Face hub, telemetry) is refused. The Model panel states the
 * same list, computed by the same functions.
 *
 * Pure core: no DOM or Node types.
 */
import { WhatwgUrl, absoluteUrl, findEntry, type ModelCatalog, type ParsedUrl } from './catalog.ts';
import { AppError } from './errors.ts';
import type { EngineSpec } from './protocol.ts';

export interface NetworkAllowList {
  /** The page's own origin. */
  readonly pageOrigin: string;
  /** Origins of the model being loaded (its weights and library), sorted, without the page's. */
  readonly modelOrigins: readonly string[];
}

/** Schemes whose URLs never leave the browser. */
const IN_BROWSER = new Set(['data:', 'blob:']);
const WEB = new Set(['http:', 'https:']);

/**
 * The model URLs a load downloads from: a WebLLM model's weights folder and library, as the load
 * request gives them (the page sends the catalog's or the ones the user typed), else those of the
 * catalog entry it names (the eval driver sends only the id). Transformers.js models are served
 * with the page and name none.
 */
export function modelUrlsOf(spec: EngineSpec, catalog?: ModelCatalog): string[] {
  if (spec.backend === 'transformers') return [];
  const { modelUrl, modelLibUrl, modelId } = spec.options;
  if (modelUrl !== undefined || modelLibUrl !== undefined) return [modelUrl, modelLibUrl].filter((url): url is string => url !== undefined);
  const entry = catalog ? findEntry(catalog, modelId) : undefined;
  return entry?.engine === 'webllm' ? [entry.modelUrl, entry.modelLibUrl].filter((url): url is string => url !== null) : [];
}

/** Where a load finds the catalog when it names a model by id only (as the WebLLM adapter reads it); else undefined. */
export function catalogUrlOf(spec: EngineSpec): string | undefined {
  if (spec.backend === 'transformers' || spec.options.modelUrl !== undefined || spec.options.modelLibUrl !== undefined) return undefined;
  return spec.options.catalogUrl ?? absoluteUrl('models.json', spec.options.baseUrl);
}

/**
 * The allow-list of one load. Relative model URLs resolve against the page; URLs that do not parse
 * or are not http(s) add nothing (the catalog and the custom-URL form reject them before this).
 */
export function networkAllowList(pageUrl: string, modelUrls: readonly (string | null | undefined)[]): NetworkAllowList {
  const pageOrigin = new WhatwgUrl(pageUrl).origin;
  const origins = new Set<string>();
  for (const url of modelUrls) {
    const parsed = url ? parse(url, pageUrl) : undefined;
    if (parsed && WEB.has(parsed.protocol) && parsed.origin !== pageOrigin) origins.add(parsed.origin);
  }
  return { pageOrigin, modelOrigins: [...origins].sort() };
}

/**
 * Undefined when the worker may fetch `url` (resolved against the page), else the `network-refused`
 * error to throw instead of making the request. data: and blob: URLs never leave the browser.
 */
export function networkRefusal(list: NetworkAllowList, url: string): AppError | undefined {
  const parsed = parse(url, list.pageOrigin);
  if (parsed && IN_BROWSER.has(parsed.protocol)) return undefined;
  if (parsed && WEB.has(parsed.protocol) && (parsed.origin === list.pageOrigin || list.modelOrigins.includes(parsed.origin))) return undefined;
  const where = parsed && WEB.has(parsed.protocol) ? parsed.origin : `"${truncate(url)}"`;
  return new AppError(
    'network-refused',
    `The model worker refused to contact ${where} (${truncate(url)}): it downloads only from ${describeAllowList(list)}. ` +
      "A model's files must come from its entry in models.json or from the custom model URLs you enter.",
  );
}

/**
 * The refusal of the first URL a load spec names that the worker may not use: its runtime files,
 * model folder, page and catalog. Checked before the engine starts, because ONNX Runtime loads its
 * module from `wasmPaths` with import(), which no fetch guard sees.
 */
export function specRefusal(list: NetworkAllowList, spec: EngineSpec): AppError | undefined {
  const urls =
    spec.backend === 'transformers'
      ? [spec.options.localModelPath, spec.options.wasmPaths]
      : [spec.options.baseUrl, spec.options.catalogUrl, spec.options.modelUrl, spec.options.modelLibUrl];
  for (const url of urls) {
    const refusal = url === undefined ? undefined : networkRefusal(list, url);
    if (refusal) return refusal;
  }
  return undefined;
}

/**
 * "this site (https://me.example)", or with the model's hosts "this site (…) and
 * https://huggingface.co, https://raw.githubusercontent.com (and the file servers they redirect
 * to)": the browser follows a host's redirects (the hub serves files from its CDN) without
 * showing them to the worker.
 */
export function describeAllowList(list: NetworkAllowList): string {
  const site = `this site (${list.pageOrigin})`;
  if (list.modelOrigins.length === 0) return site;
  return `${site} and ${list.modelOrigins.join(', ')} (and the file servers ${list.modelOrigins.length === 1 ? 'it redirects' : 'they redirect'} to)`;
}

function parse(url: string, base: string): ParsedUrl | undefined {
  try {
    return new WhatwgUrl(url, base);
  } catch {
    return undefined;
  }
}

function truncate(url: string): string {
  return url.length > 120 ? `${url.slice(0, 117)}…` : url;
}
