/**
 * The model catalog (`public/models.json`): which models the page offers, on which engine, what
 * each needs (VRAM, GPU features, storage), its context window and chat template, and for WebLLM
 * models where the weights and the compiled model library live.
 *
 * Owns: the zod schemas (`ModelCatalog`, `CatalogEntry`, one value and type each), `parseCatalog`
 * (errors name the offending field, e.g. `models[2].vramMB`), the consistency rules a schema
 * alone cannot state (an f16 build must require `shader-f16`, a prebuilt entry must carry both
 * URLs, ids are unique), and the validation of user-supplied custom model URLs
 * (`validateCustomModel`), whose result carries a message a page can show as is.
 *
 * URL rules follow WebLLM 0.2.86: the weights URL must become absolute before WebLLM sees it (it
 * calls `new URL()` on it unresolved), and WebLLM appends `resolve/main/` to a weights URL that
 * has no `/resolve/<branch>/` segment (`weightsBaseUrl` reproduces that, so the page can show
 * where files will really be fetched from).
 *
 * Pure core: no DOM or Node types.
 */
import { z } from 'zod';
import { AppError } from './errors.ts';

/**
 * The WHATWG URL parser exists in every runtime the core runs in (browsers, workers, Node), but
 * the core is type-checked without DOM types, so it names the part it uses (as cancel.ts does).
 */
export interface ParsedUrl {
  readonly href: string;
  readonly origin: string;
  readonly protocol: string;
  readonly host: string;
  readonly hostname: string;
  readonly pathname: string;
}
export const WhatwgUrl = (globalThis as unknown as { URL: new (url: string, base?: string) => ParsedUrl }).URL;

/** Chat formats the page knows; `zephyr` is the core's built-in template, the others come from the model. */
export const ChatTemplateName = z.enum(['zephyr', 'llama-3', 'mistral', 'chatml']);
export type ChatTemplateName = z.infer<typeof ChatTemplateName>;

/** A WebGPU feature name as `GPUAdapter.features` lists it. */
export const GpuFeature = z.string().regex(/^[a-z0-9-]+$/, 'a WebGPU feature name such as "shader-f16"');

export const ModelSizes = z.object({
  /** Parameter count. */
  parameters: z.number().int().positive(),
  /** Approximate download (weights and tokenizer), for the storage-quota check before a download. */
  downloadMB: z.number().positive(),
});
export type ModelSizes = z.infer<typeof ModelSizes>;

const entryBase = {
  /** The catalog's own id (stable, lowercase), used by the page and in saved settings. */
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, ".", "_" or "-"'),
  label: z.string().min(1),
  sizes: ModelSizes,
  /** GPU memory the model needs at its context window (WebLLM's `vram_required_MB` for prebuilt models). */
  vramMB: z.number().nonnegative(),
  requiredFeatures: z.array(GpuFeature).default([]),
  contextWindow: z.number().int().positive(),
  chatTemplate: ChatTemplateName,
  notes: z.string().default(''),
};

/**
 * A partial WebLLM conversation template (`ConvTemplateConfig`), merged over the model's own
 * `conv_template` from mlc-chat-config.json. Field names are WebLLM's.
 */
export const WebLlmConvConfig = z
  .object({
    system_template: z.string(),
    system_message: z.string(),
    roles: z.object({ user: z.string(), assistant: z.string(), tool: z.string().optional() }),
    seps: z.array(z.string()).min(1),
    role_content_sep: z.string(),
    role_empty_sep: z.string(),
    stop_str: z.array(z.string()),
    stop_token_ids: z.array(z.number().int().nonnegative()),
    system_prefix_token_ids: z.array(z.number().int().nonnegative()),
    add_role_after_system_message: z.boolean(),
    render_empty_system_message: z.boolean(),
  })
  .partial()
  .strict();
export type WebLlmConvConfig = z.infer<typeof WebLlmConvConfig>;

/** WebLLM `ChatOptions` the catalog may set (shallowly merged over mlc-chat-config.json). */
export const WebLlmOverrides = z
  .object({
    conv_config: WebLlmConvConfig.optional(),
    sliding_window_size: z.number().int().optional(),
    attention_sink_size: z.number().int().nonnegative().optional(),
  })
  .strict();
export type WebLlmOverrides = z.infer<typeof WebLlmOverrides>;

const F16_QUANTIZATION = /f16/;

export const WebLlmCatalogEntry = z
  .object({
    ...entryBase,
    engine: z.literal('webllm'),
    /** WebLLM's `model_id` (for prebuilt models, exactly as in `prebuiltAppConfig`). */
    modelId: z.string().min(1),
    /** MLC quantization code, e.g. q4f16_1 (needs shader-f16) or q4f32_1 / q0f32 (does not). */
    quantization: z.string().regex(/^q\d+f(16|32)(_\d+)?$/, 'an MLC quantization such as q4f16_1 or q0f32'),
    /** True for models in WebLLM's prebuilt list; false for builds whose URLs the user sets. */
    prebuilt: z.boolean(),
    /** Folder holding mlc-chat-config.json, tensor-cache.json and the shards; null until set. */
    modelUrl: z.string().min(1).nullable(),
    /** The compiled model library (.wasm); null until set. */
    modelLibUrl: z.string().min(1).nullable(),
    /**
     * Where the project's build workflow (.github/workflows/webllm-zephyr.yml) publishes this
     * build, relative to the model host it was given: the page build fills the URLs from there.
     */
    hostedBuild: z.object({ weights: z.string().regex(/^[^/].*\/$/, 'a folder path ending in /'), library: z.string().regex(/^[^/].*\.wasm$/, 'a path ending in .wasm') }).optional(),
    overrides: WebLlmOverrides.optional(),
  })
  .superRefine((entry, ctx) => {
    const needsF16 = F16_QUANTIZATION.test(entry.quantization);
    if (needsF16 !== entry.requiredFeatures.includes('shader-f16')) {
      // WebLLM only checks `required_features`, and f16 shaders without it fail later and less
      // clearly, so the catalog states the feature exactly when the build needs it.
      ctx.addIssue({
        code: 'custom',
        path: ['requiredFeatures'],
        message: needsF16
          ? `${entry.quantization} builds use f16 shaders: list "shader-f16" in requiredFeatures`
          : `${entry.quantization} builds run without shader-f16: do not require it`,
      });
    }
    if (entry.prebuilt && (entry.modelUrl === null || entry.modelLibUrl === null)) {
      ctx.addIssue({ code: 'custom', path: ['modelUrl'], message: 'a prebuilt model needs both modelUrl and modelLibUrl' });
    }
    for (const field of ['modelUrl', 'modelLibUrl'] as const) {
      const value = entry[field];
      if (value === null) continue;
      const problem = field === 'modelUrl' ? weightsUrlProblem(value) : libraryUrlProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', path: [field], message: problem });
    }
  });
export type WebLlmCatalogEntry = z.infer<typeof WebLlmCatalogEntry>;

export const TransformersCatalogEntry = z.object({
  ...entryBase,
  engine: z.literal('transformers'),
  /** Folder relative to the page (served from public/), holding config.json, tokenizer files and onnx/. */
  modelPath: z.string().min(1),
  devices: z.array(z.enum(['webgpu', 'wasm'])).min(1),
  dtype: z.enum(['fp32', 'fp16', 'q8', 'q4', 'q4f16']),
});
export type TransformersCatalogEntry = z.infer<typeof TransformersCatalogEntry>;

export const CatalogEntry = z.discriminatedUnion('engine', [WebLlmCatalogEntry, TransformersCatalogEntry]);
export type CatalogEntry = z.infer<typeof CatalogEntry>;

const catalogFields = {
  version: z.literal(1),
  /** The paper's baseline model. */
  paperBaseline: z.string(),
  /** A model that loads with no network and no GPU, so the page always works. */
  offlineDefault: z.string(),
  notes: z.string().optional(),
};

interface CatalogIssue {
  path: PropertyKey[];
  message: string;
}

/** Rules across entries: unique ids, and the two named models exist. */
function crossCheck(ids: readonly (string | undefined)[], catalog: { paperBaseline: string; offlineDefault: string }): CatalogIssue[] {
  const issues: CatalogIssue[] = [];
  const seen = new Set<string>();
  ids.forEach((id, index) => {
    if (id === undefined) return;
    if (seen.has(id)) issues.push({ path: ['models', index, 'id'], message: `duplicate id "${id}"` });
    seen.add(id);
  });
  for (const field of ['paperBaseline', 'offlineDefault'] as const) {
    if (!seen.has(catalog[field])) issues.push({ path: [field], message: `no model has id "${catalog[field]}"` });
  }
  return issues;
}

export const ModelCatalog = z.object({ ...catalogFields, models: z.array(CatalogEntry).min(1) }).superRefine((catalog, ctx) => {
  for (const issue of crossCheck(catalog.models.map((entry) => entry.id), catalog)) ctx.addIssue({ code: 'custom', ...issue });
});
export type ModelCatalog = z.infer<typeof ModelCatalog>;

/**
 * Parses the catalog (JSON text or an already-parsed value). Entries are checked one by one, so
 * one bad entry does not hide the problems of the others or of the cross-entry rules: the error
 * lists every problem with its path.
 */
export function parseCatalog(json: unknown): ModelCatalog {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (error) {
      throw new AppError('invalid-input', `The model catalog is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const issues: CatalogIssue[] = [];
  const outer = z.object({ ...catalogFields, models: z.array(z.unknown()).min(1) }).safeParse(value);
  if (!outer.success) {
    issues.push(...outer.error.issues);
  } else {
    outer.data.models.forEach((entry, index) => {
      const parsed = CatalogEntry.safeParse(entry);
      if (!parsed.success) issues.push(...parsed.error.issues.map((issue) => ({ ...issue, path: ['models', index, ...issue.path] })));
    });
    const ids = outer.data.models.map((entry) => {
      const id = (entry as { id?: unknown } | null)?.id;
      return typeof id === 'string' ? id : undefined;
    });
    issues.push(...crossCheck(ids, outer.data));
  }
  if (issues.length > 0) {
    const lines = issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
    throw new AppError('invalid-input', `The model catalog is invalid (${lines.length} problem${lines.length === 1 ? '' : 's'}): ${lines.join('; ')}`);
  }
  return ModelCatalog.parse(value);
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(catalog)';
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`)).join('');
}

/** Finds an entry by catalog id, or a WebLLM entry by its WebLLM model id. */
export function findEntry(catalog: ModelCatalog, id: string): CatalogEntry | undefined {
  return catalog.models.find((entry) => entry.id === id || (entry.engine === 'webllm' && entry.modelId === id));
}

/** A WebLLM entry whose weights or library URL is still unset (a build the user hosts). */
export function needsUrls(entry: CatalogEntry): boolean {
  return entry.engine === 'webllm' && (entry.modelUrl === null || entry.modelLibUrl === null);
}

// ---------------------------------------------------------------------------------------------
// URLs

export interface CustomModelUrls {
  modelUrl: string;
  modelLibUrl: string;
}

export type CustomModelValidation =
  | {
      ok: true;
      modelUrl: string;
      modelLibUrl: string;
      /** Where WebLLM will fetch mlc-chat-config.json and the shards from (absolute when a base was given). */
      weightsBaseUrl: string;
      /** Things worth telling the user that do not stop the load. */
      warnings: string[];
    }
  | { ok: false; field: 'modelUrl' | 'modelLibUrl'; message: string };

/**
 * Checks a custom model's two URLs before anything is downloaded. Accepted: http(s) URLs and
 * same-origin relative paths. `baseUrl` (the page's URL) resolves relative paths and lets the
 * check refuse http URLs an https page would block as mixed content.
 */
export function validateCustomModel(urls: CustomModelUrls, baseUrl?: string): CustomModelValidation {
  const modelUrl = urls.modelUrl.trim();
  const modelLibUrl = urls.modelLibUrl.trim();
  const weightsProblem = modelUrl === '' ? 'Enter the URL of the folder that holds the converted weights.' : weightsUrlProblem(modelUrl, baseUrl);
  if (weightsProblem) return { ok: false, field: 'modelUrl', message: `Weights URL: ${weightsProblem}` };
  const libProblem = modelLibUrl === '' ? 'Enter the URL of the compiled model library (.wasm).' : libraryUrlProblem(modelLibUrl, baseUrl);
  if (libProblem) return { ok: false, field: 'modelLibUrl', message: `Model library URL: ${libProblem}` };

  const warnings: string[] = [];
  const base = weightsBaseUrl(modelUrl, baseUrl);
  if (!/.+\/resolve\/.+\//.test(ensureSlash(modelUrl))) {
    warnings.push(
      `WebLLM appends "resolve/main/" to this URL: it will fetch ${base}mlc-chat-config.json. On a static host, put the files under that path, or use a URL that already contains /resolve/<branch>/.`,
    );
  }
  if (isRelative(modelUrl) || isRelative(modelLibUrl)) {
    warnings.push('Relative URLs are resolved against the page address, so they only work where the page itself is served.');
  }
  return { ok: true, modelUrl, modelLibUrl, weightsBaseUrl: base, warnings };
}

/** The entry with the user's URLs, validated; throws `invalid-input` with the validation message. */
export function withCustomUrls(entry: WebLlmCatalogEntry, urls: CustomModelUrls, baseUrl?: string): WebLlmCatalogEntry {
  const checked = validateCustomModel(urls, baseUrl);
  if (!checked.ok) throw new AppError('invalid-input', checked.message);
  return { ...entry, modelUrl: checked.modelUrl, modelLibUrl: checked.modelLibUrl };
}

/**
 * The catalog with the URLs of every hosted build (`hostedBuild`) filled in under `hostBase`, the
 * model host the build workflow published to (e.g. https://huggingface.co/<user>/<repo>/resolve/main/).
 * URLs already set are kept; every filled URL passes the same checks as one a user enters.
 */
export function withHostedBuilds(catalog: ModelCatalog, hostBase: string): ModelCatalog {
  const base = ensureSlash(hostBase.trim());
  if (!/^https?:\/\/[^/]/.test(base)) throw new AppError('invalid-input', `The model host "${hostBase}" must be an absolute http(s) URL.`);
  const models = catalog.models.map((entry) => {
    if (entry.engine !== 'webllm' || !entry.hostedBuild || !needsUrls(entry)) return entry;
    return withCustomUrls(entry, { modelUrl: base + entry.hostedBuild.weights, modelLibUrl: base + entry.hostedBuild.library });
  });
  return { ...catalog, models };
}

/**
 * The folder WebLLM 0.2.86 reads model files from (its private `cleanModelUrl`): a trailing slash
 * and `resolve/main/` unless the URL already has `/resolve/<branch>/`. Relative URLs are first
 * resolved against `baseUrl` (WebLLM itself would throw on them).
 */
export function weightsBaseUrl(modelUrl: string, baseUrl?: string): string {
  let url = ensureSlash(modelUrl);
  if (!/.+\/resolve\/.+\//.test(url)) url += 'resolve/main/';
  return absoluteUrl(url, baseUrl);
}

/** `url` made absolute against `baseUrl` when it is relative and a base is known; otherwise unchanged. */
export function absoluteUrl(url: string, baseUrl?: string): string {
  if (!isRelative(url)) return new WhatwgUrl(url).href;
  return baseUrl ? new WhatwgUrl(url, baseUrl).href : url;
}

function ensureSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;

function isRelative(url: string): boolean {
  return !SCHEME.test(url) && !url.startsWith('//');
}

/** Problems common to both URLs, or undefined. Returns the parsed URL when absolute. */
function urlProblem(url: string, baseUrl: string | undefined): { problem: string } | { parsed: ParsedUrl | undefined } {
  if (/\s/.test(url)) return { problem: 'URLs cannot contain spaces (encode them as %20).' };
  if (url.startsWith('//')) return { problem: `"${url}" has no scheme: write it out as https:${url}.` };
  if (isRelative(url)) {
    if (!baseUrl) return { parsed: undefined };
    return { parsed: new WhatwgUrl(url, baseUrl) };
  }
  let parsed: ParsedUrl;
  try {
    parsed = new WhatwgUrl(url);
  } catch {
    return { problem: `"${url}" is not a valid URL.` };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return { problem: `only http(s) URLs or paths on this site can be loaded, not ${parsed.protocol} URLs.` };
  }
  if (parsed.protocol === 'http:' && baseUrl?.startsWith('https:') && !isLoopback(parsed.hostname)) {
    return { problem: `this page is served over https, so the browser blocks http://${parsed.host} (mixed content): use an https URL.` };
  }
  return { parsed };
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]';
}

function weightsUrlProblem(url: string, baseUrl?: string): string | undefined {
  const checked = urlProblem(url, baseUrl);
  if ('problem' in checked) return checked.problem;
  const path = checked.parsed?.pathname ?? url.replace(/[?#].*$/, '');
  if (/\/(tree|blob)\//.test(path)) {
    return 'this is a repository web page (/tree/ or /blob/): use the repository URL itself, e.g. https://huggingface.co/<user>/<repo>.';
  }
  if (/\.(json|bin|wasm|safetensors)$/i.test(path)) {
    return 'point at the folder that holds mlc-chat-config.json and the params_shard_*.bin files, not at a file.';
  }
  return undefined;
}

function libraryUrlProblem(url: string, baseUrl?: string): string | undefined {
  const checked = urlProblem(url, baseUrl);
  if ('problem' in checked) return checked.problem;
  const path = checked.parsed?.pathname ?? url.replace(/[?#].*$/, '');
  if (checked.parsed?.hostname === 'github.com' && /\/blob\//.test(path)) {
    return 'this is a GitHub page, not the file: use the raw URL (https://raw.githubusercontent.com/…).';
  }
  if (!/\.wasm$/i.test(path)) return 'the model library is the .wasm file that `mlc_llm compile --device webgpu` produced; the URL must end in .wasm.';
  return undefined;
}
