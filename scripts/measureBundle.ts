/**
 * measure-bundle: how much JavaScript the page downloads before a model is chosen.
 *
 * Builds the release page into .cache/bundle-dist (or measures an existing build with --dir),
 * reads index.html for the entry script, its modulepreloads and stylesheets, follows the static
 * imports between chunks (dynamic `import()`s are lazy and not counted), and reports raw and
 * gzip sizes. It also checks, through the chunks' source maps, that no engine code (Transformers.js,
 * ONNX Runtime, WebLLM) is in those entry chunks: engines must load lazily inside the worker.
 *
 * Usage: tsx scripts/measureBundle.ts [--dir <built dir>] [--budget-kb <gzip KB of entry JS>]
 * Output: a table, then one JSON line (the last line) for CI and scripts.
 * Exit code: 1 when engine code is in the entry chunks or the budget is exceeded, else 0.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, normalize, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Source paths whose presence in an entry chunk means an engine is loaded eagerly. */
const ENGINE_SOURCES = [/node_modules\/@huggingface\/transformers\//, /node_modules\/onnxruntime-(web|common)\//, /node_modules\/@mlc-ai\/web-llm\//, /src\/engines\//];

interface ChunkSize {
  file: string;
  rawKB: number;
  gzipKB: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { dir: { type: 'string' }, 'budget-kb': { type: 'string' } },
    strict: true,
  });
  const budget = values['budget-kb'] === undefined ? undefined : Number(values['budget-kb']);
  if (budget !== undefined && !(budget > 0)) throw new Error(`--budget-kb must be a positive number, got "${values['budget-kb']}".`);
  const dir = values.dir ? resolve(values.dir) : await buildPage();
  const html = await readFile(join(dir, 'index.html'), 'utf8');

  const entryScripts = attributeValues(html, /<script\b[^>]*\btype="module"[^>]*\bsrc="([^"]+)"/g);
  const preloads = attributeValues(html, /<link\b[^>]*\brel="modulepreload"[^>]*\bhref="([^"]+)"/g);
  const styles = attributeValues(html, /<link\b[^>]*\brel="stylesheet"[^>]*\bhref="([^"]+)"/g);
  if (entryScripts.length === 0) throw new Error(`${join(dir, 'index.html')} has no module script: is it a Vite build?`);

  const jsFiles = await followStaticImports(dir, [...entryScripts, ...preloads].map((url) => normalize(url.replace(/^\.\//, ''))));
  const js = await Promise.all(jsFiles.map((file) => sizeOf(dir, file)));
  const css = await Promise.all(styles.map((url) => sizeOf(dir, normalize(url.replace(/^\.\//, '')))));
  const engineSources = (await Promise.all(jsFiles.map((file) => engineSourcesIn(dir, file)))).flat();

  const sum = (chunks: ChunkSize[], key: 'rawKB' | 'gzipKB') => round(chunks.reduce((total, chunk) => total + chunk[key], 0));
  const jsGzipKB = sum(js, 'gzipKB');
  console.log('Entry chunks (loaded before a model is chosen):');
  for (const chunk of [...js, ...css]) console.log(`  ${chunk.file.padEnd(48)} ${String(chunk.rawKB).padStart(9)} KB  ${String(chunk.gzipKB).padStart(8)} KB gzip`);
  console.log(`  JavaScript: ${sum(js, 'rawKB')} KB, ${jsGzipKB} KB gzip; CSS: ${sum(css, 'gzipKB')} KB gzip`);
  if (engineSources.length > 0) console.log(`Engine code in the entry chunks (must load lazily in the worker): ${[...new Set(engineSources)].join(', ')}`);
  else console.log('No engine code in the entry chunks.');
  const overBudget = budget !== undefined && jsGzipKB > budget;
  if (overBudget) console.log(`Over budget: ${jsGzipKB} KB gzip > ${budget} KB.`);

  console.log(
    JSON.stringify({
      entryChunks: js,
      stylesheets: css,
      jsRawKB: sum(js, 'rawKB'),
      jsGzipKB,
      cssGzipKB: sum(css, 'gzipKB'),
      engineInEntry: engineSources.length > 0,
      ...(budget !== undefined && { budgetKB: budget, overBudget }),
    }),
  );
  if (engineSources.length > 0 || overBudget) process.exitCode = 1;
}

async function buildPage(): Promise<string> {
  const outDir = join(root, '.cache/bundle-dist');
  const { build } = await import('vite');
  await build({ root, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  return outDir;
}

function attributeValues(html: string, pattern: RegExp): string[] {
  return [...html.matchAll(pattern)].map((match) => match[1] as string);
}

/** The given chunks and every chunk they import statically, transitively. */
async function followStaticImports(dir: string, start: readonly string[]): Promise<string[]> {
  const seen = new Set<string>();
  const queue = [...start];
  while (queue.length > 0) {
    const file = queue.shift() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const code = await readFile(join(dir, file), 'utf8');
    // Static forms only: `import{a}from"./x.js"`, `import"./x.js"`, `export{a}from"./x.js"`; never `import("./x.js")`.
    for (const match of code.matchAll(/(?:^|[;\s}])(?:import|export)\s*(?:[\w$*{][^"'`()]*?from\s*)?["']([^"']+\.m?js)["']/g)) {
      const target = normalize(join(dirname(file), match[1] as string));
      if (!target.startsWith('..') && existsSync(join(dir, target))) queue.push(target);
    }
  }
  return [...seen];
}

async function sizeOf(dir: string, file: string): Promise<ChunkSize> {
  const bytes = await readFile(join(dir, file));
  return { file: relative(dir, join(dir, file)), rawKB: round(bytes.length / 1024), gzipKB: round(gzipSync(bytes, { level: 9 }).length / 1024) };
}

/** Engine source files a chunk was built from, read from its source map (empty when it has none). */
async function engineSourcesIn(dir: string, file: string): Promise<string[]> {
  const mapPath = join(dir, `${file}.map`);
  if (!existsSync(mapPath)) {
    const code = await readFile(join(dir, file), 'utf8');
    return /onnxruntime|InferenceSession|MLCEngine/.test(code) ? [`${file} (by content; no source map)`] : [];
  }
  const map = JSON.parse(await readFile(mapPath, 'utf8')) as { sources?: string[] };
  const engines = (map.sources ?? []).filter((source) => ENGINE_SOURCES.some((pattern) => pattern.test(source)));
  return engines.map((source) => source.replace(/^.*node_modules\//, '').replace(/^(\.\.\/)+/, ''));
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
