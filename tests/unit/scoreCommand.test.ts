import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadReferenceLlama, logSoftmax, type ReferenceLlama } from '../support/llamaReference.ts';
import { runCli } from '../support/runCli.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';

const PAIRS = [
  { id: 'p1', persona: 'Ada', type: 'personal', split: 'test', prompt: 'What should I cook tonight?', chosen: 'A light vegetable curry.', rejected: 'Order a pizza.' },
  { id: 'p2', persona: 'Ada', type: 'divergent', split: 'test', prompt: 'Is coffee healthy?', chosen: 'In moderation, yes.', rejected: 'No, never.' },
  { id: 't1', persona: 'Ada', type: 'personal', split: 'train', prompt: 'Best weekend plan?', chosen: 'A long hike.', rejected: 'Stay in bed.' },
];

const ScoredAnswer = z.object({ ids: z.array(z.number().int()), logprobs: z.array(z.number()), score: z.number() });
const JsonLine = z.object({ id: z.string(), prompt_ids: z.array(z.number().int()), chosen: ScoredAnswer, rejected: ScoredAnswer, correct: z.boolean() });

let model: string;
let dir: string;
let reference: ReferenceLlama;

beforeAll(async () => {
  model = await ensureTinyModel();
  reference = await loadReferenceLlama(model);
  dir = await mkdtemp(join(tmpdir(), 'score-cli-'));
});

async function pairFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

function referenceLogprobs(promptIds: number[], ids: number[]): number[] {
  const sequence = [...promptIds, ...ids];
  const rows = reference.forward([sequence], [sequence.map(() => 1)]).logits[0] as Float64Array[];
  return ids.map((token, t) => logSoftmax(rows[promptIds.length - 1 + t] as Float64Array)[token] as number);
}

describe('score command', () => {
  it('--json prints one object per test pair and nothing else; log-probs match an independent float64 computation', async () => {
    const pairs = await pairFile('pairs.jsonl', PAIRS.map((p) => JSON.stringify(p)).join('\n'));
    for (const prefix of ['none', 'few-shot']) {
      const run = await runCli(['score', '--model', model, '--pairs', pairs, '--json', '--prefix', prefix]);
      expect(run.code).toBe(0);
      const lines = run.stdout.trimEnd().split('\n').map((line) => JsonLine.parse(JSON.parse(line)));
      expect(lines.map((line) => line.id)).toEqual(['p1', 'p2']);
      for (const line of lines) {
        expect(line.prompt_ids[0]).toBe(1);
        for (const answer of [line.chosen, line.rejected]) {
          expect(answer.ids.at(-1)).toBe(2);
          expect(answer.logprobs).toHaveLength(answer.ids.length);
          const expected = referenceLogprobs(line.prompt_ids, answer.ids);
          expect(Math.max(...answer.logprobs.map((value, t) => Math.abs(value - (expected[t] as number))))).toBeLessThan(2e-3);
          expect(answer.score).toBeCloseTo(answer.logprobs.reduce((a, b) => a + b, 0) / answer.logprobs.length, 10);
        }
        expect(line.correct).toBe(line.chosen.score > line.rejected.score);
      }
    }
  });

  it('prints a table and accuracy with 95% CIs by question type', async () => {
    const pairs = await pairFile('pairs.json', JSON.stringify(PAIRS));
    const run = await runCli(['score', '--model', model, '--pairs', pairs, '--quiet']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^id\s+persona\s+type\s+chosen\s+rejected\s+margin\s+correct/m);
    expect(run.stdout).toMatch(/^personal\s+1\s+0\s+\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]/m);
    expect(run.stdout).toMatch(/^divergent\s+1\s+/m);
  });

  it('takes persona texts from a pair-set file, and a persona file wins for the same person', async () => {
    const set = { name: 'demo', personas: [{ name: 'Ada', prefixes: { gold: 'Ada likes curry.' } }], pairs: PAIRS };
    const pairs = await pairFile('set.json', JSON.stringify(set));
    const fromSet = await runCli(['score', '--model', model, '--pairs', pairs, '--prefix', 'gold', '--json', '--quiet']);
    expect(fromSet.code).toBe(0);
    const personaFile = await pairFile('personas.json', JSON.stringify([{ name: 'Ada', prefixes: { gold: 'Ada hates curry and loves pizza.' } }]));
    const overridden = await runCli(['score', '--model', model, '--pairs', pairs, '--prefix', 'gold', '--persona-file', personaFile, '--json', '--quiet']);
    expect(overridden.code).toBe(0);
    const promptLength = (run: { stdout: string }) => JsonLine.parse(JSON.parse(run.stdout.split('\n')[0] as string)).prompt_ids.length;
    expect(promptLength(overridden)).toBeGreaterThan(promptLength(fromSet));
  });

  it('scores the valid rows, lists the invalid ones and exits 2', async () => {
    const text = [JSON.stringify(PAIRS[0]), '{"id":"bad","prompt":"Q","chosen":7,"rejected":"r"}', '{not json'].join('\n');
    const run = await runCli(['score', '--model', model, '--pairs', await pairFile('mixed.jsonl', text), '--json', '--quiet']);
    expect(run.code).toBe(2);
    expect(run.stdout.trimEnd().split('\n').map((line) => JSON.parse(line).id)).toEqual(['p1']);
    expect(run.stderr).toMatch(/line 2: field "chosen": expected a non-empty string, got number/);
    expect(run.stderr).toMatch(/line 3/);
    expect(run.stderr.trimEnd().split('\n').at(-1)).toBe('warning: 2 rows skipped (see warnings above)');
  });

  it('fails in one line with exit code 2 on an unreadable file, a file with no valid pair, or a model folder missing files', async () => {
    const missing = await runCli(['score', '--model', model, '--pairs', join(dir, 'nope.jsonl')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toMatch(/^error: Cannot read the pair file .*nope\.jsonl: there is no such file\.$/);

    const empty = await runCli(['score', '--model', model, '--pairs', await pairFile('bad.jsonl', '{"x":1}')]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/error: .*bad\.jsonl has no valid pairs \(1 invalid row listed above\)/);

    const noModel = await runCli(['score', '--model', dir, '--pairs', await pairFile('ok.jsonl', JSON.stringify(PAIRS[0]))]);
    expect(noModel.code).toBe(2);
    expect(noModel.stderr.trim()).toMatch(/^error: .* lacks config\.json, tokenizer\.json, tokenizer_config\.json, onnx\/model\.onnx: point --model at/);

    const badPrefix = await runCli(['score', '--model', model, '--pairs', join(dir, 'ok.jsonl'), '--prefix', 'persona']);
    expect(badPrefix.code).toBe(2);
    expect(badPrefix.stderr).toMatch(/error: Prefix "persona" for Ada needs a "persona" text in the persona file/);
  });

  it('reports a pair longer than the context window as a failed row, exit 2', async () => {
    const long = { ...PAIRS[0], id: 'long', chosen: 'word '.repeat(2100) };
    const text = [JSON.stringify(PAIRS[1]), JSON.stringify(long)].join('\n');
    const run = await runCli(['score', '--model', model, '--pairs', await pairFile('long.jsonl', text), '--no-truncation', '--quiet']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/pair long: .*context window of 2048/);
    expect(run.stdout).toMatch(/^1 pair failed \(listed on stderr\)\.$/m);
  });
});
