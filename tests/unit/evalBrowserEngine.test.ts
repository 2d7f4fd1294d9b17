/**
 * The browser engine (scripts/lib/eval/browserEngine.ts): the page's real model worker in headless
 * Chromium, driven from Node through the production build's driver page. Against a production
 * build made here into a temporary folder, with the tiny model on WASM: tokens and log-probs equal
 * Node's Transformers.js engine's (same ScoreRequest), streamed deltas make up the generation, no
 * request leaves 127.0.0.1, a WebLLM entry reaches its download (aborted: nothing leaves the
 * machine), and `eval --engine browser:tiny-llama-random@wasm` writes the same rows as
 * `--engine local:<tiny model>`. Needs Chromium (Debian's, CHROMIUM_PATH, or Playwright's) with
 * WebGPU on SwiftShader, as the browser tests do.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, ScoreRequest } from '../../src/core/engine.ts';
import { EvalPairRow } from '../../src/core/eval/rows.ts';
import { createTransformersEngine } from '../../src/engines/transformers.ts';
import { makeEvalFixture } from '../../scripts/fixtures/makeEvalFixture.ts';
import { createBrowserEngine, type BrowserEngine } from '../../scripts/lib/eval/browserEngine.ts';
import { parseEngineSpec } from '../../scripts/lib/eval/engines/registry.ts';
import { buildRelease } from '../support/releaseBuild.ts';
import { runCli } from '../support/runCli.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';

const TOLERANCE = 1e-4;

let model: string;
let dir: string;
let dist: string;
let browser: BrowserEngine | undefined;
let node: Engine | undefined;

async function readRows(path: string): Promise<EvalPairRow[]> {
  return (await readFile(path, 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => EvalPairRow.parse(JSON.parse(line)));
}

beforeAll(async () => {
  model = await ensureTinyModel();
  dir = await mkdtemp(join(tmpdir(), 'browser-engine-'));
  dist = join(dir, 'dist');
  await buildRelease(dist);
});

afterAll(async () => {
  await browser?.dispose();
  await node?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('browser engine: the page worker in headless Chromium', () => {
  it('tokenizes and scores exactly as the Node Transformers.js engine, offline', async () => {
    const external: string[] = [];
    browser = await createBrowserEngine({ catalogId: 'tiny-llama-random', device: 'wasm', distDir: dist, onExternalRequest: (url) => external.push(url) });
    node = await createTransformersEngine({ model, device: 'cpu' });
    expect(browser.info).toMatchObject({ backend: 'transformers', device: 'wasm', bosTokenId: node.info.bosTokenId, eosTokenId: node.info.eosTokenId, contextWindow: node.info.contextWindow });

    const texts = ['<|user|>\nWhat is your favourite season, and why?</s>\n<|assistant|>\n', 'Autumn, for the colours and the cool air.', 'Summer: long days at the beach.'];
    const [prompt, chosen, rejected] = await Promise.all(texts.map((text) => browser!.tokenize(text)));
    expect([prompt, chosen, rejected]).toEqual(await Promise.all(texts.map((text) => node!.tokenize(text))));
    const request: ScoreRequest = { promptIds: [node.info.bosTokenId, ...prompt!], continuations: [chosen!, rejected!] };

    const inPage = await browser.score(request);
    const reference = await node.score(request);
    expect(inPage.logprobs.map((tokens) => tokens.length)).toEqual([chosen!.length, rejected!.length]);
    inPage.logprobs.forEach((tokens, c) => tokens.forEach((logprob, t) => expect(Math.abs(logprob - (reference.logprobs[c]?.[t] ?? NaN))).toBeLessThan(TOLERANCE)));

    const deltas: string[] = [];
    const generated = await browser.generate([{ role: 'user', content: 'Tell me about the sea.' }], { maxNewTokens: 6, temperature: 0 }, (text) => deltas.push(text));
    expect(generated.tokenIds.length).toBeGreaterThan(0);
    expect(deltas.join('')).toBe(generated.text);

    expect(external).toEqual([]);
    expect(browser.requestedUrls().length).toBeGreaterThan(0);
    expect(browser.requestedUrls().filter((url) => !url.startsWith(browser!.origin))).toEqual([]);
  });

  it('keeps error codes from the page, and refuses a missing build or an unknown model before starting a browser', async () => {
    await expect(browser!.score({ promptIds: [1], continuations: [Array.from({ length: 4096 }, () => 5)] })).rejects.toMatchObject({ code: 'context-exceeded' });
    await expect(createBrowserEngine({ catalogId: 'tiny-llama-random', device: 'wasm', distDir: join(dir, 'nothing') })).rejects.toMatchObject({ code: 'model-files-missing', message: expect.stringMatching(/npm run build/) });
    await expect(createBrowserEngine({ catalogId: 'no-such-model', device: 'wasm', distDir: dist })).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(createBrowserEngine({ catalogId: 'tinyllama-1.1b-chat-v1.0-q4f32_1', device: 'wasm', distDir: dist })).rejects.toMatchObject({ code: 'unsupported', message: expect.stringMatching(/needs WebGPU/) });
  });

  it('runs a WebLLM entry in the page worker, and with network "local" aborts its downloads off 127.0.0.1', async () => {
    // WebGPU through SwiftShader (--enable-unsafe-webgpu): the worker starts WebLLM, whose first
    // fetch (the model's config on huggingface.co) is aborted here rather than sent.
    const blocked: string[] = [];
    await expect(
      createBrowserEngine({ catalogId: 'smollm2-135m-instruct-q0f32', device: 'webgpu', network: 'local', distDir: dist, onExternalRequest: (url, wasBlocked) => wasBlocked && blocked.push(url) }),
    ).rejects.toMatchObject({ code: 'download-interrupted' });
    expect(blocked.length).toBeGreaterThan(0);
    for (const url of blocked) expect(url).toMatch(/^https:\/\/huggingface\.co\/mlc-ai\/SmolLM2-135M-Instruct-q0f32-MLC\//);
  });

  it('parses browser: and webllm: specs', () => {
    expect(parseEngineSpec('browser:tiny-llama-random@wasm')).toMatchObject({ kind: 'browser', model: 'tiny-llama-random', device: 'wasm' });
    expect(parseEngineSpec('browser:tiny-llama-random')).toMatchObject({ kind: 'browser', device: 'auto' });
    expect(parseEngineSpec('webllm:smollm2-360m-instruct-q4f32_1')).toMatchObject({ kind: 'webllm', model: 'smollm2-360m-instruct-q4f32_1' });
    expect(() => parseEngineSpec('browser:tiny-llama-random@cuda')).toThrow(/browser:<catalog id>\[@wasm\|@webgpu\]/);
  });
});

describe('eval --engine browser:<catalog id>@wasm', () => {
  it('writes the same rows as the Node engine on the same model', async () => {
    const dataset = join(dir, 'pairs.json');
    await writeFile(dataset, JSON.stringify(makeEvalFixture({ seed: 7, trainPerType: 1, testPerType: 1 })));
    const viaBrowser = join(dir, 'out-browser');
    const viaNode = join(dir, 'out-node');
    const run = await runCli(['eval', '--dataset', dataset, '--engine', 'browser:tiny-llama-random@wasm', '--prefixes', 'none,tag', '--out', viaBrowser, '--quiet'], { BROWSER_ENGINE_DIST: dist });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect((await runCli(['eval', '--dataset', dataset, '--engine', `local:${model}`, '--prefixes', 'none,tag', '--out', viaNode, '--quiet'])).code).toBe(0);

    const rows = await readRows(join(viaBrowser, 'pairs.jsonl'));
    const reference = new Map((await readRows(join(viaNode, 'pairs.jsonl'))).map((row) => [row.key, row]));
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBe(reference.size);
    for (const row of rows) {
      const other = reference.get(row.key);
      if (!row.ok || !other?.ok) throw new Error(`row ${row.key} did not score in both runs`);
      expect(row.tokens).toEqual(other.tokens);
      expect(Math.abs((row.scores.chosen ?? NaN) - (other.scores.chosen ?? NaN))).toBeLessThan(TOLERANCE);
      expect(Math.abs((row.scores.rejected ?? NaN) - (other.scores.rejected ?? NaN))).toBeLessThan(TOLERANCE);
    }
  });
});
