/**
 * Bad input through the real CLI, as a new user meets it: every file a command takes (pairs,
 * datasets, model folders, configs) broken in the ways the field reports name, each answered in
 * one line of words on stderr with exit 2 and never a stack trace; runs that skip rows say so at
 * the end. The core importer's side of the same cases is in importPairs.test.ts.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, runCli, type CliRun } from '../support/runCli.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';

const PAIR = { id: 'p1', persona: 'Ada', type: 'personal', split: 'test', prompt: 'What should I cook tonight?', chosen: 'A light vegetable curry.', rejected: 'Order a pizza.' };
const DEEP = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
const HTML_PAGE = '<!DOCTYPE html>\n<html lang="en">\n<head><title>pairs.json at main</title></head>\n<body><pre>[{"prompt": "p"}]</pre></body>\n</html>\n';

let model: string;
let dir: string;

beforeAll(async () => {
  model = await ensureTinyModel();
  dir = await mkdtemp(join(tmpdir(), 'cli-bad-input-'));
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** Exit 2 and exactly one line on stderr, `error: …`, with no stack frame in it. */
function expectOneLineError(run: CliRun, pattern: RegExp): void {
  expect(run.code, run.stderr).toBe(2);
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

describe('score: files that hold no pairs', () => {
  it.each([
    ['deep.json', DEEP, /deep\.json: JSON nested deeper than 128 levels of arrays and objects \(at column 129\): pair files need a few; is this the right file\?$/],
    ['page.json', HTML_PAGE, /page\.json: this looks like an HTML page, not JSON, JSON Lines or CSV/],
    ['empty.json', '', /empty\.json: the file is empty\.$/],
    ['blank.jsonl', '  \n\n\t\n', /blank\.jsonl: the file holds only whitespace\.$/],
    ['broken.json', '[\n  {"prompt": "p"},\n]', /broken\.json, line 3: invalid JSON at column 1: expected a value, got "\]"\.$/],
  ])('%s: one line, exit 2', async (name, text, pattern) => {
    expectOneLineError(await runCli(['score', '--model', model, '--pairs', await file(name, text)]), pattern);
  });
});

describe('score: rows skipped, said where and counted once', () => {
  it('a one-line array: record indices, one invalid row for three null fields, an id reused for another pair; ends with the count', async () => {
    const records = [PAIR, { id: 'nulls', prompt: null, chosen: null, rejected: null }, { ...PAIR, prompt: 'Is coffee healthy?' }];
    const path = await file('one-line.json', JSON.stringify(records));
    const run = await runCli(['score', '--model', model, '--pairs', path, '--json', '--quiet']);
    expect(run.code).toBe(2);
    expect(run.stdout.trimEnd().split('\n').map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(['p1']);
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      `warning: ${path}: record 2 (line 1): field "prompt": expected a non-empty string, got null`,
      `warning: ${path}: record 2 (line 1): field "chosen": expected a non-empty string, got null`,
      `warning: ${path}: record 2 (line 1): field "rejected": expected a non-empty string, got null`,
      `warning: ${path}: record 3 (line 1) has the id "p1" of record 1 (line 1) but a different prompt: kept record 1 (line 1), dropped this one (give it its own id to keep both)`,
      "warning: 2 rows skipped: 1 invalid, 1 reusing another pair's id (see warnings above)",
    ]);
  });

  it('a plain copy is noted, skipped and counted, but needs no fixing (exit 0)', async () => {
    const path = await file('copy.jsonl', [JSON.stringify(PAIR), JSON.stringify(PAIR)].join('\n'));
    const run = await runCli(['score', '--model', model, '--pairs', path, '--quiet']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      `warning: ${path}: line 2 repeats line 1 (same id "p1" and content): dropped`,
      'warning: 1 row skipped (see warnings above)',
    ]);
  });

  it('one invalid row is "1 invalid row"', async () => {
    const run = await runCli(['score', '--model', model, '--pairs', await file('nulls.jsonl', '{"prompt": null, "chosen": null, "rejected": null}\n')]);
    expect(run.code).toBe(2);
    expect(run.stderr.trimEnd().split('\n').at(-1)).toMatch(/^error: .*nulls\.jsonl has no valid pairs \(1 invalid row listed above\): fix them and re-run\.$/);
  });
});

describe('missing files and folders, in words', () => {
  it('a pair file, a persona file, a dataset, a prefix file, a build config', async () => {
    const pairs = await file('ok.jsonl', JSON.stringify(PAIR));
    const missing = join(dir, 'nope');
    const cases: [string[], RegExp][] = [
      [['score', '--model', model, '--pairs', `${missing}.jsonl`], /Cannot read the pair file .*nope\.jsonl: there is no such file\.$/],
      [['score', '--model', model, '--pairs', pairs, '--persona-file', dir], /Cannot read the persona file .*: it is a folder, not a file\.$/],
      [['eval', '--dataset', `${missing}.json`, '--engine', `local:${model}`, '--out', join(dir, 'out')], /Cannot read the dataset .*nope\.json: there is no such file or folder\.$/],
      [['eval', 'personas', '--out', join(dir, 'no-run')], /Cannot read the prefix file .*prefixes\.json: there is no such file\.$/],
      [['build-dataset', '--config', `${missing}.json`, '--out', join(dir, 'build')], /Cannot read the config .*nope\.json: there is no such file\.$/],
    ];
    // Independent processes: run side by side to keep the suite short.
    const runs = await Promise.all(cases.map(([args]) => runCli(args)));
    runs.forEach((run, i) => expectOneLineError(run, cases[i]?.[1] ?? /./));
  });

  it('a model folder that does not exist: what to do, for score, eval and serve, without fetching anything', async () => {
    const pairs = await file('ok.jsonl', JSON.stringify(PAIR));
    const absent = join(dir, 'no-model');
    const advice = new RegExp(`no model folder at ${absent}: make one with \`npm run cli -- make-tiny-model --out ${absent}\`, or give the folder of a Transformers\\.js export`);
    const [score, evalRun, serve, modelIsFile] = await Promise.all([
      runCli(['score', '--model', absent, '--pairs', pairs]),
      runCli(['eval', '--dataset', pairs, '--engine', `local:${absent}`, '--prefixes', 'none', '--out', join(dir, 'eval-out')]),
      runCli(['serve', '--model', absent, '--port', '0']),
      runCli(['score', '--model', pairs, '--pairs', pairs]),
    ]);
    for (const run of [score, evalRun, serve]) expectOneLineError(run, advice);
    expectOneLineError(modelIsFile, /ok\.jsonl is a file: give the model's folder/);
  });
});

describe('eval: the same answers as score', () => {
  it('a dataset nested 20,000 levels deep, or an HTML page: one line, exit 2', async () => {
    const cases = [
      ['deep.json', DEEP, /deep\.json: JSON nested deeper than 128 levels/],
      ['page.html', HTML_PAGE, /page\.html: this looks like an HTML page/],
    ] as const;
    const runs = await Promise.all(cases.map(async ([name, text]) => runCli(['eval', '--dataset', await file(name, text), '--engine', `local:${model}`, '--prefixes', 'none', '--out', join(dir, `eval-${name}`)])));
    runs.forEach((run, i) => expectOneLineError(run, cases[i]?.[2] ?? /./));
  });

  it('a run that skipped rows ends by saying how many', async () => {
    const rows = [PAIR, { ...PAIR, id: 'p2', prompt: 'Is coffee healthy?' }, { id: 'bad', persona: 'Ada', prompt: 'Q', chosen: 7, rejected: 'r' }];
    const dataset = await file('eval-skips.jsonl', rows.map((row) => JSON.stringify(row)).join('\n'));
    const run = await runCli(['eval', '--dataset', dataset, '--engine', `local:${model}`, '--prefixes', 'none', '--out', join(dir, 'eval-skips'), '--quiet']);
    expect(run.code).toBe(2);
    expect(run.stderr.trimEnd().split('\n')).toEqual([`warning: ${dataset}: line 3: field "chosen": expected a non-empty string, got number`, 'warning: 1 row skipped (see warnings above)']);
    expect(run.stdout).toMatch(/^Report: /m);
  });
});

describe('--version', () => {
  it('prints the version of package.json and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const run of await Promise.all(['--version', '-V'].map((flag) => runCli([flag])))) {
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(`${version}\n`);
      expect(run.stderr).toBe('');
    }
  });
});
