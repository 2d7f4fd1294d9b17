/**
 * Folder boundaries (README, "Folders"), as ESLint configuration: for each zone, the folders its
 * files may not import, on static imports and exports (no-restricted-imports) and on dynamic
 * `import()` (no-restricted-syntax). Relative specifiers are matched per file depth, so `../x` is
 * refused exactly when it resolves into a forbidden folder (or, for src/core, out of the core).
 * tests/unit/boundaries.test.ts plants a violation of each boundary and shows the lint fails it.
 */

/** Deepest folder level below a zone that the generated globs cover. */
const MAX_DEPTH = 6;
const EXTENSIONS = '{ts,js,svelte}';

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A regex source matching relative specifiers, written in a file whose folder is `from` (path
 * segments), that resolve into `target` (segments); `except` is a lookahead body for what stays
 * allowed there (e.g. the worker entry).
 */
function reaching(from, target, except) {
  const alternatives = [];
  for (let ups = 1; ups <= from.length; ups++) {
    const landing = from.slice(0, from.length - ups);
    if (!landing.every((segment, i) => target[i] === segment)) continue;
    const rest = target.slice(landing.length);
    if (rest.length === 0) continue;
    const tail = except ? `(?:/(?!${except})|$)` : '(?:/|$)';
    alternatives.push(`(?:\\./)?(?:\\.\\./){${ups}}(?!\\.\\./)${rest.map(escape).join('/')}${tail}`);
  }
  return alternatives.length > 0 ? `^(?:${alternatives.join('|')})` : undefined;
}

/** A regex source matching relative specifiers, from a file in `from`, that leave `zone`. */
function leaving(from, zone) {
  const depth = from.length - zone.length;
  const alternatives = [];
  for (let extra = 1; extra <= zone.length; extra++) {
    const reentry = zone.slice(zone.length - extra).map(escape).join('/');
    alternatives.push(`(?:\\.\\./){${depth + extra}}(?!\\.\\./|${reentry}(?:/|$))`);
  }
  alternatives.push(`(?:\\.\\./){${depth + zone.length + 1}}`);
  return `^(?:\\./)?(?:${alternatives.join('|')})`;
}

/** esquery regex literals end at the first "/", so the selector's copy spells it \x2F. */
const selectorRegex = (source) => `/${source.replaceAll('/', '\\x2F')}/`;

/**
 * @param {{ zone: string, only?: boolean, forbid?: { path: string, except?: string }[], packages?: string[],
 *   syntax?: { selector: string, message: string }[], message: string, extra?: object[] }} boundary
 */
function zoneConfigs({ zone, only = false, forbid = [], packages = [], syntax = [], message, extra = [] }) {
  const zoneSegments = zone.split('/');
  const configs = [];
  for (let depth = 0; depth <= MAX_DEPTH; depth++) {
    const from = [...zoneSegments, ...Array.from({ length: depth }, (_, i) => `<dir${i}>`)];
    const sources = only ? [leaving(from, zoneSegments)] : forbid.map(({ path, except }) => reaching(from, path.split('/'), except)).filter(Boolean);
    const patterns = [...extra, ...(packages.length > 0 ? [{ group: packages, message }] : []), ...sources.map((regex) => ({ regex, message }))];
    configs.push({
      files: [`${zone}/${'*/'.repeat(depth)}*.${EXTENSIONS}`],
      rules: {
        'no-restricted-imports': ['error', { patterns }],
        'no-restricted-syntax': ['error', ...sources.map((source) => ({ selector: `ImportExpression[source.value=${selectorRegex(source)}]`, message })), ...syntax],
      },
    });
  }
  return configs;
}

const PRODUCT_NOT_TESTS = { path: 'tests' };
const NODE_MODULES = { group: ['node:*', 'fs', 'path', 'os', 'child_process'], message: 'src/core is pure: no Node modules.' };

export const boundaries = [
  // The pure core runs in the page, the worker and Node: nothing outside itself, no Node modules.
  ...zoneConfigs({ zone: 'src/core', only: true, extra: [NODE_MODULES], message: 'src/core imports nothing outside src/core: move the shared code into the core, or pass it in.' }),
  // The page reaches a model only through the worker client (src/app/engine/workerEngine.ts).
  ...zoneConfigs({
    zone: 'src/app',
    forbid: [{ path: 'src/engines' }, { path: 'workers', except: 'engine\\.worker\\.ts\\?worker(?:&url)?$' }, PRODUCT_NOT_TESTS],
    packages: ['@mlc-ai/web-llm', '@huggingface/transformers', 'onnxruntime-web', 'onnxruntime-node'],
    syntax: [
      {
        selector: `NewExpression[callee.name='URL'] > Literal.arguments:first-child[value=${selectorRegex('(?:^|/)workers/(?!engine\\.worker\\.ts$)')}]`,
        message: 'src/app starts only the worker entry, workers/engine.worker.ts.',
      },
    ],
    message: 'src/app talks to models only through the worker (src/app/engine/workerEngine.ts): no engines, engine libraries or worker internals.',
  }),
  // Engines are adapters under the core's Engine contract: no page, CLI or test code.
  ...zoneConfigs({ zone: 'src/engines', forbid: [{ path: 'src/app' }, { path: 'scripts' }, PRODUCT_NOT_TESTS], message: 'src/engines import no page (src/app), CLI (scripts) or test code.' }),
  // Product code never depends on tests; what both need lives in scripts/ (e.g. scripts/fixtures/).
  ...['workers', 'scripts'].flatMap((zone) => zoneConfigs({ zone, forbid: [PRODUCT_NOT_TESTS], message: `${zone} imports nothing from tests/: move what both need into scripts/fixtures/.` })),
];
