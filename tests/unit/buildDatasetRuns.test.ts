/**
 * build-dataset before and across runs, without a full build: a missing API key stops it before
 * any work (real CLI), an unreachable generator's failures are said once for every axis they hit
 * (real CLI, a real refused connection), and the usage ledger sums what every run spent (runs
 * resumed after a kill included). The full build across kill -9 and re-runs is in
 * buildDataset.e2e.test.ts.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { groupFailures } from '../../scripts/lib/dataset/context.ts';
import { USAGE_FILE, UsageLedger, type RoleUsage } from '../../scripts/lib/dataset/usageLedger.ts';
import { ensureTinyEncoders } from '../../scripts/fixtures/tinyEncoderFixture.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';
import { PROJECT_ROOT, runCli } from '../support/runCli.ts';

let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'build-dataset-runs-'));
});

/** The tiny example config with its models made absolute, changed by `edit`. */
async function tinyConfig(name: string, edit: (providers: Record<string, Record<string, unknown>>) => void): Promise<string> {
  const [llama, encoders] = await Promise.all([ensureTinyModel(), ensureTinyEncoders()]);
  const config = JSON.parse(readFileSync(join(PROJECT_ROOT, 'examples', 'build-dataset', 'tiny.json'), 'utf8')) as { providers: Record<string, Record<string, unknown>> };
  config.providers.baseline = { type: 'local', model: llama };
  config.providers.reward = { type: 'local', model: encoders.reward };
  config.providers.embedder = { type: 'local', model: encoders.sentenceTransformer };
  edit(config.providers);
  const path = join(root, `${name}.json`);
  writeFileSync(path, JSON.stringify(config));
  return path;
}

describe('build-dataset: problems found before the work', () => {
  it('a missing API key: one line naming the variable and its roles, exit 2, nothing written', async () => {
    const unset = 'WIKIPERSONA_TEST_KEY_THAT_IS_NOT_SET';
    const config = await tinyConfig('no-key', (providers) => {
      for (const role of ['generator', 'judge']) (providers[role] as Record<string, unknown>).apiKeyEnv = unset;
    });
    const out = join(root, 'no-key-out');
    const run = await runCli(['build-dataset', '--config', config, '--out', out]);
    expect(run.code).toBe(2);
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      `error: The environment variable ${unset} (generator, judge) is not set: export the API key there, or drop apiKeyEnv for a server without one. Nothing was called or written.`,
    ]);
    expect(existsSync(out)).toBe(false);
  });

  it('a missing model folder: one line saying how to make one, before any call, nothing written', async () => {
    const config = await tinyConfig('no-model', (providers) => {
      providers.baseline = { type: 'local', model: './no-such-model' };
    });
    const out = join(root, 'no-model-out');
    const run = await runCli(['build-dataset', '--config', config, '--out', out]);
    expect(run.code).toBe(2);
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      `error: no model folder at ${join(root, 'no-such-model')}: make one with \`npm run cli -- make-tiny-model --out ${join(root, 'no-such-model')}\`, or give the folder of a Transformers.js export (config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx).`,
    ]);
    expect(existsSync(out)).toBe(false);
  });

  it('an unreachable generator: the reason said once for both axes, no "axis/axes", no ".."', async () => {
    const config = await tinyConfig('unreachable', (providers) => {
      // 127.0.0.1:9 (discard) refuses connections: a real network failure, at once.
      (providers.generator as Record<string, unknown>).maxRetries = 0;
    });
    const run = await runCli(['build-dataset', '--config', config, '--out', join(root, 'unreachable-out'), '--quiet']);
    expect(run.code).toBe(2);
    const error = run.stderr.trimEnd().split('\n').at(-1) ?? '';
    expect(error).toMatch(/^error: Persona generation \(G\.1\) failed for 2 axes, so the people are not known yet\. diet, politics: [^;]+ failed once, with network error [^;]+\. Run the same command again to retry\.$/);
    expect(error).not.toMatch(/\.\.|axis\/axes|\(es\)|\(s\)/);
  });
});

describe('groupFailures', () => {
  it('names the items that share a reason together, each reason once, and counts past the shown ones', () => {
    expect(
      groupFailures([
        { key: 'diet', reason: 'Cannot reach the server.' },
        { key: 'politics', reason: 'Cannot reach the server.' },
        { key: 'religion', reason: '429 Too Many Requests' },
      ]),
    ).toBe('diet, politics: Cannot reach the server; religion: 429 Too Many Requests');
    const many = ['a', 'b', 'c', 'd', 'e'].map((key) => ({ key, reason: 'down' }));
    expect(groupFailures(many)).toBe('a, b, c and 2 more: down');
  });
});

describe('usage ledger', () => {
  const usage = (role: RoleUsage['role'], calls: number, costUsd?: number): RoleUsage => ({
    role,
    provider: role === 'generator' ? 'openai:gpt-4' : 'local:/models/x',
    calls,
    cached: 0,
    failed: 0,
    items: 0,
    promptTokens: calls * 100,
    completionTokens: calls * 10,
    ...(costUsd !== undefined && { costUsd }),
  });

  it('keeps each run\u2019s latest usage per role and sums the runs, across reopening the folder', async () => {
    const out = mkdtempSync(join(root, 'ledger-'));
    // A run stopped by kill -9: its lines so far are all that is left of it.
    const killed = new UsageLedger(out, 'run 1');
    killed.record(usage('generator', 1, 0.01));
    killed.record(usage('generator', 2, 0.02));
    await killed.close();

    const resumed = new UsageLedger(out, 'run 2');
    expect(resumed.total()).toEqual({ runs: 1, earlierRuns: 1, usage: [usage('generator', 2, 0.02)] });
    resumed.record(usage('generator', 3, 0.03));
    resumed.record(usage('baseline', 4));
    const total = resumed.total();
    expect(total.runs).toBe(2);
    expect(total.earlierRuns).toBe(1);
    expect(total.usage.map((role) => [role.role, role.calls, role.promptTokens])).toEqual([
      ['generator', 5, 500],
      ['baseline', 4, 400],
    ]);
    expect(total.usage[0]?.costUsd).toBeCloseTo(0.05, 10);
    expect(total.usage[1]?.costUsd).toBeUndefined();
    await resumed.close();
    expect(readFileSync(join(out, USAGE_FILE), 'utf8').trimEnd().split('\n')).toHaveLength(4);
  });
});
