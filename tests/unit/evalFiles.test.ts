/**
 * The file side of batch evaluation (scripts/lib/eval): crash-safe JSONL, the resume guard,
 * dataset folders in the authors' layout, engine specs, and the Markdown/HTML renderers.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { EvalReport } from '../../src/core/eval/report.ts';
import { summarizePairs } from '../../src/core/eval/summary.ts';
import { JsonlAppender, writeFileAtomic } from '../../scripts/lib/durableFiles.ts';
import { createReporter } from '../../scripts/lib/reporter.ts';
import { loadEvalDataset } from '../../scripts/lib/eval/dataset.ts';
import { openEngine, parseEngineSpec } from '../../scripts/lib/eval/engines/registry.ts';
import { renderHtml } from '../../scripts/lib/eval/reportHtml.ts';
import { renderMarkdown } from '../../scripts/lib/eval/reportMarkdown.ts';
import { assertResumable, readJsonl, type RunManifest } from '../../scripts/lib/eval/runFiles.ts';
import { leastSquares, lineInSquare } from '../../scripts/lib/eval/svg.ts';

const silent = createReporter('silent');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eval-files-'));
});

describe('JSONL rows', () => {
  const Row = z.object({ key: z.string(), n: z.number() });

  it('appends one line per row, readable back in order', async () => {
    const path = join(dir, 'rows.jsonl');
    const appender = await JsonlAppender.open(path);
    await Promise.all([appender.append({ key: 'a', n: 1 }), appender.append({ key: 'b', n: 2 })]);
    await appender.close();
    expect(await readFile(path, 'utf8')).toBe('{"key":"a","n":1}\n{"key":"b","n":2}\n');
    expect(await readJsonl(path, Row)).toEqual({ rows: [{ key: 'a', n: 1 }, { key: 'b', n: 2 }], repaired: false });
  });

  it('cuts off a torn last line (a killed writer) so the next append starts a clean line', async () => {
    const path = join(dir, 'torn.jsonl');
    await writeFile(path, '{"key":"a","n":1}\n{"key":"b","n"');
    expect(await readJsonl(path, Row)).toEqual({ rows: [{ key: 'a', n: 1 }], repaired: true });
    const appender = await JsonlAppender.open(path);
    await appender.append({ key: 'c', n: 3 });
    await appender.close();
    expect((await readJsonl(path, Row)).rows.map((row) => row.key)).toEqual(['a', 'c']);
  });

  it('stops at damage it did not cause, naming the line', async () => {
    const path = join(dir, 'bad.jsonl');
    await writeFile(path, '{"key":"a","n":1}\nnot json\n{"key":"b","n":2}\n');
    await expect(readJsonl(path, Row)).rejects.toThrow(/bad\.jsonl, line 2: not JSON .*fix or delete that line/);
    await writeFile(path, '{"key":"a","n":"one"}\n');
    await expect(readJsonl(path, Row)).rejects.toThrow(/line 1: field "n": .*expected number/i);
    expect(await readJsonl(join(dir, 'absent.jsonl'), Row)).toEqual({ rows: [], repaired: false });
  });

  it('replaces whole files atomically', async () => {
    const path = join(dir, 'summary.json');
    await writeFileAtomic(path, 'one');
    await writeFileAtomic(path, 'two');
    expect(await readFile(path, 'utf8')).toBe('two');
  });
});

describe('resume guard', () => {
  const manifest: RunManifest = {
    format: 'wikipersona-eval-run',
    version: 1,
    engine: { spec: 'local:m', backend: 'transformers', model: 'm', method: 'one-pass-cached-prompt', chatTemplate: 'zephyr' },
    dataset: { source: 'd.json', fingerprint: 'abc', pairs: 10, personas: 2 },
    settings: { convention: 'authors', norm: 'mean', limits: { maxLength: 2500, maxPromptLength: 1988 }, split: 'auto', seed: 24, bootstrapResamples: 1000, promptsVersion: 'v1' },
    prefixes: ['none'],
  };

  it('accepts the same settings (more prefixes are fine) and names the first difference otherwise', () => {
    expect(() => assertResumable(manifest, { ...manifest, prefixes: ['none', 'tag'] }, '/out')).not.toThrow();
    expect(() => assertResumable(manifest, { ...manifest, settings: { ...manifest.settings, norm: 'sum' } }, '/out')).toThrow(
      '/out holds a run with another --norm (mean, now sum): resume with the same settings, or use a new --out folder.',
    );
    expect(() => assertResumable(manifest, { ...manifest, dataset: { ...manifest.dataset, fingerprint: 'def' } }, '/out')).toThrow(/another dataset \(fingerprint of its pairs\)/);
    expect(() => assertResumable(manifest, { ...manifest, settings: { ...manifest.settings, limits: null } }, '/out')).toThrow(/another truncation limits/);
  });
});

describe('dataset folders', () => {
  it('reads the authors\u2019 layout: split from train_/test_ file names, common = divergent, personas.json beside', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'eval-dataset-'));
    const record = (name: string, prompt: string, type: string) => JSON.stringify({ name, prompt, question_type: type, axis: type === 'common' ? 'diet' : null, yw: `${prompt} yes`, yl: `${prompt} no` });
    await writeFile(join(folder, 'train_50p_200d_total.json'), [record('Ann', 'q1', 'personal'), record('Ann', 'q2', 'common')].join('\n'));
    await writeFile(join(folder, 'test_50p_200d_total.json'), [record('Ann', 'q3', 'personal'), record('Bob', 'q3', 'common')].join('\n'));
    await writeFile(join(folder, 'personas.json'), JSON.stringify({ name: 'Ann', axis: ['diet: Vegan'], persona_gold_gpt4: 'Gold.' }));
    await writeFile(join(folder, 'notes.txt'), 'ignored');
    const dataset = await loadEvalDataset(folder, silent);
    expect(dataset.pairs.map((pair) => [pair.persona, pair.split, pair.type, pair.prompt])).toEqual([
      ['Ann', 'test', 'personal', 'q3'],
      ['Bob', 'test', 'divergent', 'q3'],
      ['Ann', 'train', 'personal', 'q1'],
      ['Ann', 'train', 'divergent', 'q2'],
    ]);
    expect(dataset.names).toEqual(['Ann', 'Bob']);
    expect(dataset.personas).toEqual([{ name: 'Ann', axis: 'diet', category: 'Vegan', prefixes: { persona_gold_gpt4: 'Gold.' } }]);
    expect(dataset.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it('refuses pairs without a persona, and a dataset with no valid pair', async () => {
    const file = join(dir, 'anonymous.jsonl');
    await writeFile(file, JSON.stringify({ prompt: 'q', chosen: 'a', rejected: 'b' }));
    await expect(loadEvalDataset(file, silent)).rejects.toThrow(/1 pair of .*anonymous\.jsonl names no persona .*give each pair a "persona"/);
    const empty = join(dir, 'empty.jsonl');
    await writeFile(empty, '{"x": 1}\n');
    await expect(loadEvalDataset(empty, silent)).rejects.toThrow(/has no valid pairs \(1 invalid row listed above\)/);
  });
});

describe('engine specs', () => {
  it('parses the three kinds and says how to write them', () => {
    expect(parseEngineSpec('local:/models/zephyr')).toEqual({ kind: 'local', model: '/models/zephyr', text: 'local:/models/zephyr' });
    expect(parseEngineSpec('openai:http://127.0.0.1:8000/v1#HuggingFaceH4/zephyr-7b-beta')).toMatchObject({ kind: 'openai', baseUrl: 'http://127.0.0.1:8000/v1', model: 'HuggingFaceH4/zephyr-7b-beta' });
    expect(parseEngineSpec('webllm:Llama-3.2-1B')).toMatchObject({ kind: 'webllm', model: 'Llama-3.2-1B' });
    expect(() => parseEngineSpec('openai:http://x/v1')).toThrow(/write openai:<baseUrl>#<model>/);
    expect(() => parseEngineSpec('/models/zephyr')).toThrow(/expected local:<model dir>, openai:<baseUrl>#<model>, webllm:<catalog id> or browser:<catalog id>\[@wasm\|@webgpu\]/);
  });

  it('opens webllm: through the browser engine, which needs a production build (tests/unit/evalBrowserEngine.test.ts runs one)', async () => {
    const saved = process.env.BROWSER_ENGINE_DIST;
    process.env.BROWSER_ENGINE_DIST = join(dir, 'no-build');
    try {
      await expect(openEngine(parseEngineSpec('webllm:x'), { device: 'cpu', dtype: 'fp32' }, silent)).rejects.toMatchObject({
        code: 'model-files-missing',
        message: expect.stringMatching(/no-build holds no production build with driver\.html: run `npm run build` first/),
      });
    } finally {
      if (saved === undefined) delete process.env.BROWSER_ENGINE_DIST;
      else process.env.BROWSER_ENGINE_DIST = saved;
    }
  });
});

describe('charts', () => {
  it('fits least squares and clips the line to the plot square', () => {
    expect(leastSquares([{ x: 0, y: 1, label: '' }, { x: 1, y: 3, label: '' }])).toEqual({ slope: 2, intercept: 1 });
    expect(leastSquares([{ x: 1, y: 1, label: '' }, { x: 1, y: 2, label: '' }])).toBeUndefined();
    // y = 2x − 0.5 enters the unit square at x = 0.25 and leaves at x = 0.75.
    expect(lineInSquare({ slope: 2, intercept: -0.5 }, 0, 1)).toEqual([
      [0.25, 0],
      [0.75, 1],
    ]);
    expect(lineInSquare({ slope: 0, intercept: 2 }, 0, 1)).toBeUndefined();
  });
});

describe('report renderers', () => {
  const row = (persona: string, prefix: 'none' | 'tag', correct: boolean, n: number) =>
    ({
      ok: true,
      key: `${prefix}|${persona}${n}`,
      id: `${persona}${n}`,
      persona,
      type: 'personal',
      prefix,
      prefixFrom: persona,
      session: 's',
      scores: { chosen: 0, rejected: 0 },
      margin: 0,
      correct,
      tie: false,
      tokens: { prompt: 1, chosen: 1, rejected: 1 },
      truncated: { prompt: false, answers: false },
      convention: 'authors',
      norm: 'mean',
      method: 'm',
    }) as const;
  const report: EvalReport = {
    title: 'Title with <b>markup</b> & "quotes"',
    run: { promptsVersion: 'v1' },
    pairs: summarizePairs(
      [row('A', 'none', true, 1), row('B', 'none', false, 1), row('C', 'none', true, 1), row('A', 'tag', true, 1), row('B', 'tag', true, 1), row('C', 'tag', false, 1)],
      { seed: 1 },
    ),
  };

  it('HTML is self-contained: CSP forbids fetches, no script, no external reference, text escaped', () => {
    const html = renderHtml(report);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`);
    expect(html).not.toMatch(/<script|<link|<img|src=|url\(/i);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(html).toContain('Title with &lt;b&gt;markup&lt;/b&gt; &amp; &quot;quotes&quot;');
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html).toContain('id="accuracy"');
    expect(html).toContain('id="prefix-gain"');
  });

  describe('one persona', () => {
    const onePersona = (personas: string[]): EvalReport => ({
      title: 'One persona',
      run: { promptsVersion: 'v1' },
      pairs: summarizePairs(
        personas.flatMap((persona) => (['none', 'tag'] as const).flatMap((prefix) => [1, 2, 3].map((n) => row(persona, prefix, n !== 3, n)))),
        { seed: 1 },
      ),
    });
    const whiskers = (html: string) => (html.match(/stroke="#111" stroke-width="1\.2"/g) ?? []).length;

    it('says the CI needs two personas instead of a zero-width interval, and draws no whisker', () => {
      const markdown = renderMarkdown(onePersona(['Ada']));
      expect(markdown).toMatch(/^\| no prefix \| 0\.667 \(CI needs ≥ 2 personas\) \| 0\.667 \(CI needs ≥ 2 personas\) \| 1 \|/m);
      expect(markdown).not.toContain('[0.667, 0.667]');
      expect(whiskers(renderHtml(onePersona(['Ada'])))).toBe(0);
    });

    it('keeps intervals and whiskers with two personas', () => {
      const markdown = renderMarkdown(onePersona(['Ada', 'Bo']));
      expect(markdown).toMatch(/^\| no prefix \| 0\.667 \[0\.667, 0\.667\] \|/m);
      expect(whiskers(renderHtml(onePersona(['Ada', 'Bo'])))).toBeGreaterThan(0);
    });
  });

  it('Markdown has the same tables', () => {
    const markdown = renderMarkdown(report);
    expect(markdown).toMatch(/^## Accuracy by prefix and question type \(Figure 3\/5\)$/m);
    expect(markdown).toMatch(/^\| no prefix \| 0\.667 \[/m);
    expect(markdown).toMatch(/^\| tag \| 0\.667 \[/m);
    expect(markdown).toMatch(/^## Prefix gain per persona: prefixed vs no prefix, same model \(one-run view\)$/m);
    expect(markdown).not.toMatch(/<svg/);
  });
});
