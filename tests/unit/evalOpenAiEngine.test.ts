/**
 * `eval` through an openai: engine on a non-Zephyr model (the tiny Llama-3-format model behind our
 * own server), in a child process as users run it: the template and special tokens learned from
 * the server or given as flags; `--chat-template` that contradicts the server refused in one line
 * (exit 2; the other refusals are tested in-process, openaiEngineVllm.test.ts); a server
 * that starts refusing after the scoring mode is known gives one-line failures and exit 2, never a
 * stack trace.
 */
import type { Server } from 'node:http';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/core/engine.ts';
import { EvalPairRow } from '../../src/core/eval/rows.ts';
import { createTransformersEngine } from '../../src/engines/transformers.ts';
import { makeEvalFixture } from '../../scripts/fixtures/makeEvalFixture.ts';
import { createOpenAiServer } from '../../scripts/lib/openaiServer.ts';
import { loadServerTokenizer, type ServerTokenizer } from '../../scripts/lib/serverTokenizer.ts';
import { runCli } from '../support/runCli.ts';
import { reply, startScriptedOpenAiServer, type ScriptedServer } from '../../scripts/fixtures/scriptedOpenAiServer.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';

let modelDir: string;
let engine: Engine;
let tokenizer: ServerTokenizer;
let server: Server;
let root: string;
let dir: string;
let dataset: string;

beforeAll(async () => {
  modelDir = await ensureTinyModel('llama3');
  engine = await createTransformersEngine({ model: modelDir, device: 'cpu' });
  tokenizer = await loadServerTokenizer(modelDir);
  server = createOpenAiServer(engine, { modelName: 'tiny-llama3', tokenizer });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  root = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), 'eval-openai-'));
  dataset = join(dir, 'pairs.json');
  await writeFile(dataset, JSON.stringify(makeEvalFixture({ seed: 3, trainPerType: 1, testPerType: 1, personaTexts: false })));
});

afterAll(async () => {
  server?.close();
  server?.closeAllConnections();
  await tokenizer?.close();
  await engine?.dispose();
});

async function rows(out: string): Promise<EvalPairRow[]> {
  return (await readFile(join(out, 'pairs.jsonl'), 'utf8')).split('\n').filter(Boolean).map((line) => EvalPairRow.parse(JSON.parse(line)));
}

describe('eval --engine openai: on a Llama-3-format model', () => {
  it('learns the template and special tokens from the server, with or without --chat-template pointing at the model config', async () => {
    const settings: [string[], string][] = [
      [[], 'tiny-llama3 (from /tokenizer_info)'],
      [['--chat-template', join(modelDir, 'tokenizer_config.json'), '--bos-token-id', '32000'], 'tiny-llama-llama3/tokenizer_config.json'],
    ];
    for (const [extra, template] of settings) {
      const out = join(dir, `learned-${extra.length}`);
      const run = await runCli(['eval', '--dataset', dataset, '--engine', `openai:${root}/v1#tiny-llama3`, '--prefixes', 'none', '--out', out, '--quiet', ...extra]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const scored = await rows(out);
      expect(scored.length).toBeGreaterThan(0);
      expect(scored.every((row) => row.ok)).toBe(true);
      const manifest = JSON.parse(await readFile(join(out, 'run.json'), 'utf8')) as { engine: { chatTemplate: string } };
      expect(manifest.engine.chatTemplate).toBe(template);
    }
  });

  it('refuses --chat-template zephyr against it in one line, exit 2', async () => {
    const zephyr = await runCli(['eval', '--dataset', dataset, '--engine', `openai:${root}/v1#tiny-llama3`, '--prefixes', 'none', '--out', join(dir, 'zephyr'), '--chat-template', 'zephyr']);
    expect(zephyr.code).toBe(2);
    expect(zephyr.stderr).toMatch(/^error: The chat template "zephyr" does not match the one tiny-llama3 is served with: it renders "<\|user\|>.*" where the server renders "<\|begin_of_text\|>.*\. Set the served model's template \(--chat-template .*\)\.\n$/);
  });

  it('a server refusing requests after the scoring mode is known gives one-line failures and exit 2, no stack trace', async () => {
    let scoringCalls = 0;
    const forward = async (path: string, body: unknown) => (await fetch(`${root}${path}`, { method: body === undefined ? 'GET' : 'POST', headers: { 'Content-Type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })).json() as Promise<unknown>;
    const proxy: ScriptedServer = await startScriptedOpenAiServer({
      '/v1/models': () => forward('/v1/models', undefined),
      '/tokenizer_info': () => forward('/tokenizer_info', undefined),
      '/tokenize': (body) => forward('/tokenize', body),
      '/detokenize': (body) => forward('/detokenize', body),
      '/v1/completions': (body) =>
        ++scoringCalls === 1 ? forward('/v1/completions', body) : reply({ status: 400, body: { object: 'error', message: 'Sampling params\nare invalid', type: 'BadRequestError', param: null, code: 400 } }),
    });
    try {
      const out = join(dir, 'refusing');
      const run = await runCli(['eval', '--dataset', dataset, '--engine', `openai:${proxy.baseUrl}#tiny-llama3`, '--prefixes', 'none', '--out', out, '--quiet']);
      expect(run.code).toBe(2);
      expect(run.stderr).not.toMatch(/^\s+at /m);
      const warnings = run.stderr.trimEnd().split('\n');
      expect(warnings.length).toBeGreaterThan(0);
      for (const line of warnings) expect(line).toMatch(/^warning: none \S+: POST .*\/v1\/completions \(scoring with prompt_logprobs\) was refused \(HTTP 400\): Sampling params are invalid\.$/);
      const failed = (await rows(out)).filter((row) => !row.ok);
      expect(failed.length).toBe(warnings.length);
      for (const row of failed) if (!row.ok) expect(row.code).toBe('invalid-input');
    } finally {
      await proxy.close();
    }
  });
});
