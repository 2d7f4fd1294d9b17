import { createReadStream, existsSync, statSync } from 'node:fs';
import { copyFile, cp, mkdir } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig, type Connect, type Plugin } from 'vite';
import { hostedModelUrls } from './scripts/build/hostedModels.ts';
import { TRUSTED_TYPES_POLICIES } from './src/app/lib/trustedTypes.ts';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * `PLAYGROUND_TEST_BUILD=1 vite build` makes the build the browser tests run against: it adds the
 * worker test harness page (tests/e2e/harness/worker.html), copies the generated tiny model to
 * `models/tiny-llama/`, and lets the worker accept the test-only `crash` request. Releases never set it.
 */
const testBuild = process.env.PLAYGROUND_TEST_BUILD === '1';

/**
 * ONNX Runtime's runtime files, which @huggingface/transformers 4.3.2's web build (it imports
 * onnxruntime-web/webgpu) loads by URL for both the WebGPU and the WASM device: the asyncify
 * Emscripten module and its wasm. Transformers.js points ORT at the jsDelivr CDN unless told
 * otherwise; the page is served offline, so they are self-hosted under `ort/` and the worker
 * client passes that URL as `wasmPaths`. Copied at build time (26 MB: never committed).
 */
const ortDir = join(root, 'node_modules/onnxruntime-web/dist');
const ORT_FILES = ['ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'];

/** The tiny Llama fixture (scripts/fixtures/tinyModelFixture.ts), served to tests as `models/tiny-llama/`. */
const tinyModelDir = join(root, 'tests/fixtures/generated/tiny-llama');

const CONTENT_TYPES: Record<string, string> = {
  '.mjs': 'text/javascript',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

/** A URL prefix served from a folder; `files` (when given) is the only files it serves. */
interface Mount {
  prefix: string;
  dir: string;
  files?: readonly string[];
}

const mounts: Mount[] = [
  { prefix: '/ort/', dir: ortDir, files: ORT_FILES },
  { prefix: '/models/tiny-llama/', dir: tinyModelDir },
];

/**
 * Serves the mounts in dev and preview, and answers a real 404 for anything missing under
 * `/ort/` and `/models/`: Transformers.js probes optional model files and must not receive the
 * single-page fallback (index.html with status 200, which it would try to parse as JSON).
 * In preview, files present in the build output (e.g. a model placed in public/models/) win.
 * These files are sent here rather than by Vite's static server so they keep their
 * Content-Length (download progress) and are not gzipped on the fly (a 26 MB wasm, model weights).
 */
function selfHostedAssets(): Plugin {
  let outDir = join(root, 'dist');
  const middleware =
    (builtDir: string | undefined): Connect.NextHandleFunction =>
    (req, res, next) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return next();
      const pathname = safeDecode(new URL(req.url ?? '/', 'http://localhost').pathname);
      if (pathname === undefined) return next();
      if (!pathname.startsWith('/ort/') && !pathname.startsWith('/models/')) return next();
      if (builtDir && isFileInside(builtDir, pathname.slice(1))) return sendFile(res, join(builtDir, pathname.slice(1)), req.method === 'HEAD');
      for (const mount of mounts) {
        if (!pathname.startsWith(mount.prefix)) continue;
        const name = pathname.slice(mount.prefix.length);
        if (mount.files && !mount.files.includes(name)) break;
        if (isFileInside(mount.dir, name)) return sendFile(res, join(mount.dir, name), req.method === 'HEAD');
      }
      if (!builtDir && pathname.startsWith('/models/') && isFileInside(join(root, 'public'), pathname.slice(1))) return next();
      res.statusCode = 404;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(`Not found: ${pathname}`);
    };

  return {
    name: 'playground-self-hosted-assets',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    configureServer(server) {
      server.middlewares.use(middleware(undefined));
    },
    configurePreviewServer(server) {
      server.middlewares.use(middleware(outDir));
    },
    async writeBundle() {
      await mkdir(join(outDir, 'ort'), { recursive: true });
      for (const file of ORT_FILES) await copyFile(join(ortDir, file), join(outDir, 'ort', file));
      if (testBuild) {
        // Generated on demand, since the build may run before any test has created the fixture.
        const { ensureTinyModel } = await import('./scripts/fixtures/tinyModelFixture.ts');
        await cp(await ensureTinyModel(), join(outDir, 'models/tiny-llama'), { recursive: true });
      }
    },
  };
}

function safeDecode(path: string): string | undefined {
  try {
    return decodeURIComponent(path);
  } catch {
    return undefined;
  }
}

/**
 * ONNX Runtime's web bundle falls back to `new URL('ort-wasm-simd-threaded.asyncify.wasm',
 * import.meta.url)` when no `wasmPaths` is set, and Vite turns that expression into a second,
 * hashed 26 MB copy of the wasm in assets/. The fallback never runs here (the worker client always
 * sets `wasmPaths` to `ort/`, and Transformers.js would otherwise set its CDN), so the expression
 * is rewritten to one Vite leaves alone, and the build ships the wasm once.
 */
function ortWasmFallbackNotBundled(): Plugin {
  const fallback = 'new URL("ort-wasm-simd-threaded.asyncify.wasm",import.meta.url)';
  return {
    name: 'playground-ort-wasm-fallback-not-bundled',
    apply: 'build',
    enforce: 'pre',
    transform(code, id) {
      if (!/onnxruntime-web[\\/]dist[\\/]ort\.[\w.]*\.mjs$/.test(id.split('?')[0] ?? '') || !code.includes(fallback)) return null;
      return { code: code.replaceAll(fallback, 'new URL("ort-wasm-simd-threaded.asyncify.wasm",self.location.href)'), map: null };
    },
  };
}

/** Whether `dir/name` is an existing file that does not escape `dir` (no `..` tricks). */
function isFileInside(dir: string, name: string): boolean {
  const path = resolve(dir, name);
  const inside = relative(dir, path);
  if (inside === '' || inside.startsWith('..') || inside.startsWith(sep)) return false;
  return existsSync(path) && statSync(path).isFile();
}

function sendFile(res: ServerResponse, path: string, headOnly: boolean): void {
  res.statusCode = 200;
  res.setHeader('Content-Type', CONTENT_TYPES[extname(path)] ?? 'application/octet-stream');
  res.setHeader('Content-Length', statSync(path).size);
  // Not stored by the HTTP cache: Transformers.js requests each model file twice at once (an
  // existence probe it abandons, then the download), and Chromium then fails one of the two cache
  // writes with ERR_CACHE_WRITE_FAILURE, which surfaced as "network error" loads. Fixtures also
  // change when regenerated; the page's own Cache API copy is what makes reloads fast.
  res.setHeader('Cache-Control', 'no-store');
  if (headOnly) {
    res.end();
    return;
  }
  createReadStream(path).pipe(res);
}

/**
 * The pages' Content-Security-Policy, written into every HTML page of the build as the first
 * element of <head> (a `<meta http-equiv>`, since static hosts cannot send headers; it governs
 * only what comes after it). The page never needs another origin: the catalog and demo data are
 * served with it, and every model download happens in the model worker, which a meta policy does
 * not reach (workers/networkGuard.ts holds the worker to its own allow-list).
 *
 * Not settable from a meta tag, so absent: `frame-ancestors` (framing), `report-uri`/`report-to`
 * and `sandbox` are ignored there; a host that can send headers should add
 * `frame-ancestors 'none'`.
 */
const PAGE_POLICY: readonly (readonly [directive: string, ...sources: string[]])[] = [
  // Anything not listed below (fonts, media, frames, manifests) is refused.
  ['default-src', "'none'"],
  // Only the page's own bundled modules: no inline, injected or eval'd script. The page compiles
  // no WebAssembly (ONNX Runtime and WebLLM run in the worker), so no 'wasm-unsafe-eval'.
  ['script-src', "'self'"],
  // Only the extracted CSS files: Svelte writes dynamic styles through the CSSOM (element.style),
  // which CSP allows, and no component has a static style="" attribute, so no 'unsafe-inline'.
  ['style-src', "'self'"],
  // fetch, XHR, WebSocket, EventSource and sendBeacon reach the page's own origin only.
  ['connect-src', "'self'"],
  // The page's own images, the empty data: favicon, and blob: URLs the page makes itself.
  ['img-src', "'self'", 'data:', 'blob:'],
  // The model worker's script is served with the page; a blob: worker would inherit this policy.
  ['worker-src', "'self'", 'blob:'],
  // No plugins (<object>, <embed>).
  ['object-src', "'none'"],
  // An injected <base> cannot re-point the page's relative URLs.
  ['base-uri', "'none'"],
  // No form may submit anywhere (the page's forms are handled in script).
  ['form-action', "'none'"],
  // DOM sinks that can run script (innerHTML, DOMParser, a Worker's URL, …) take Trusted Types only.
  ['require-trusted-types-for', "'script'"],
  // …made by these policies only, each created once (src/app/lib/trustedTypes.ts).
  ['trusted-types', ...Object.values(TRUSTED_TYPES_POLICIES)],
];

/**
 * The dev server's relaxation: Vite's client and vite-plugin-svelte inject component CSS as
 * <style> elements and its error overlay writes innerHTML, so dev pages allow inline styles and
 * skip Trusted Types. Scripts, connections (HMR's websocket is same-origin, which 'self' covers)
 * and everything else stay as strict as the build.
 */
const DEV_RELAXED: Readonly<Record<string, readonly string[] | null>> = {
  'style-src': ["'self'", "'unsafe-inline'"],
  'require-trusted-types-for': null,
  'trusted-types': null,
};

export function contentSecurityPolicy(mode: 'build' | 'serve'): string {
  return PAGE_POLICY.flatMap(([directive, ...sources]) => {
    const relaxed = mode === 'serve' ? DEV_RELAXED[directive] : undefined;
    if (relaxed === null) return [];
    return [`${directive} ${(relaxed ?? sources).join(' ')}`];
  }).join('; ');
}

/**
 * The test build's page whose model worker runs WebLLM's stand-in: it starts a worker script the
 * page's Trusted Types policy rightly refuses to vouch for, so it goes without the policy (the
 * policy itself is tested on the real page, tests/e2e/csp.spec.ts).
 */
const STAND_IN_PAGE = 'tests/e2e/harness/standin.html';

/**
 * Writes the policy into index.html, driver.html and the test harness page, right after the
 * charset declaration, ahead of every script and stylesheet it governs.
 */
function pageContentSecurityPolicy(): Plugin {
  let mode: 'build' | 'serve' = 'build';
  return {
    name: 'playground-content-security-policy',
    configResolved(config) {
      mode = config.command;
    },
    transformIndexHtml(html, context) {
      if (context.filename.endsWith(STAND_IN_PAGE)) return html;
      const charset = /<meta charset=[^>]*>/i;
      if (!charset.test(html)) throw new Error(`${context.filename} needs <meta charset> first in <head>: the Content-Security-Policy goes right after it.`);
      return html.replace(charset, (tag) => `${tag}\n    <meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(mode)}" />`);
    },
  };
}

// A static page that works under any base path (e.g. a project page on a static host):
// every asset URL is relative.
export default defineConfig(({ command }) => ({
  base: './',
  plugins: [svelte(), selfHostedAssets(), hostedModelUrls(), pageContentSecurityPolicy()],
  worker: { format: 'es', plugins: () => [ortWasmFallbackNotBundled()] },
  optimizeDeps: { exclude: ['@huggingface/transformers', '@mlc-ai/web-llm'] },
  define: {
    // Read by workers/engine.worker.ts: the `crash` test request exists in dev and test builds only.
    __PLAYGROUND_TEST_BUILD__: JSON.stringify(command === 'serve' || testBuild),
  },
  build: {
    target: 'es2022',
    sourcemap: true,
    // driver.html: no UI, the page's model worker for Node through Playwright (`eval --engine webllm:<id>`).
    rolldownOptions: {
      input: {
        index: join(root, 'index.html'),
        driver: join(root, 'driver.html'),
        ...(testBuild ? { harness: join(root, 'tests/e2e/harness/worker.html'), standin: join(root, STAND_IN_PAGE) } : {}),
      },
    },
  },
}));
