/**
 * report.html of `eval` in real Chromium, opened from disk (file://): every section is there,
 * its charts render, the console stays free of errors and the page makes no network request.
 * The report is made here by the real commands (tiny model, generated fixture, the scripted
 * judge on 127.0.0.1), so every section has data.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, test } from '@playwright/test';
import { makeEvalFixture } from '../../scripts/fixtures/makeEvalFixture.ts';
import { runCli } from '../support/runCli.ts';
import { chatCompletionBody, startScriptedOpenAiServer } from '../../scripts/fixtures/scriptedOpenAiServer.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';

let reportUrl: string;

test.beforeAll(async () => {
  // Three CLI runs on the tiny model: longer than one page test.
  test.setTimeout(600_000);
  const model = await ensureTinyModel();
  const dir = await mkdtemp(join(tmpdir(), 'eval-report-e2e-'));
  const dataset = join(dir, 'dataset.json');
  await writeFile(dataset, JSON.stringify(makeEvalFixture({ seed: 7, trainPerType: 3, testPerType: 2, longPair: true })));
  const out = join(dir, 'out');
  const judge = await startScriptedOpenAiServer({
    // Prefers Output (a): a maximally position-biased judge, so self-agreement is 0 and the report says so.
    '/v1/chat/completions': (body) => {
      const last = (body as { messages: { content: string }[] }).messages.at(-1)?.content ?? '';
      const count = (last.match(/### Output \(a\) for example \d+:/g) ?? []).length;
      return chatCompletionBody([Array.from({ length: count }, () => '{"Concise explanation": "first", "Output (a) is better than Output (b)": true}').join('\n')]);
    },
  });
  try {
    const scored = await runCli(['eval', '--dataset', dataset, '--engine', `local:${model}`, '--prefixes', 'none,few-shot,persona,gold,shuffle-persona', '--out', out, '--quiet']);
    // 2: the fixture's one over-long pair fails under every prefix, which the report lists.
    expect(scored.code, scored.stderr).toBe(2);
    const personas = await runCli(['eval', 'personas', '--out', out]);
    expect(personas.code, personas.stderr).toBe(0);
    const generations = await runCli([
      'eval', 'generations', '--dataset', dataset, '--engine', `Z=local:${model}`, '--prefixes', 'none,persona', '--judge', `openai:${judge.baseUrl}#judge`,
      '--questions-per-persona', '1', '--max-new-tokens', '8', '--out', out, '--quiet',
    ]);
    expect(generations.code, generations.stderr).toBe(0);
  } finally {
    await judge.close();
  }
  reportUrl = pathToFileURL(join(out, 'report.html')).href;
});

test('report.html shows every section with its charts, logs no error and requests nothing', async ({ page }) => {
  const requests: string[] = [];
  const problems: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  await page.goto(reportUrl);

  for (const name of [
    'Accuracy by prefix and question type (Figure 3/5)',
    'Prefix sensitivity: right vs shuffled vs no prefix (Appendix L)',
    'Prefix gain per persona: prefixed vs no prefix, same model (one-run view)',
    'Persona quality: ROUGE against the gold persona (Table 2)',
    'Examples (Table 11): ROUGE-L against gold',
    'Generations judged pairwise (Table 3)',
    'Failures',
  ]) {
    await expect(page.getByRole('heading', { name, exact: true })).toBeVisible();
  }
  // Bar charts (accuracy, sensitivity) and one prefix-gain scatter per prefix (few-shot, persona, gold, shuffled persona).
  const charts = page.locator('svg[role="img"]');
  await expect(charts).toHaveCount(2 + 4);
  for (const chart of await charts.all()) {
    const box = await chart.boundingBox();
    expect(box?.width).toBeGreaterThan(200);
    expect(box?.height).toBeGreaterThan(200);
  }
  await expect(page.getByRole('img', { name: 'Accuracy by prefix' }).locator('rect title').first()).toHaveText(/^no prefix, personal: 0\.\d{3} \[0\.\d{3}, [01]\.\d{3}\]$/);
  await expect(page.getByText(/^Self-agreement across answer orders: 0 of 4 pairs \(0\.000\) got the same winner both ways\. Output \(a\) won 1\.000/)).toBeVisible();
  await expect(page.getByRole('cell', { name: /^context-exceeded$/ }).first()).toBeVisible();

  expect(problems).toEqual([]);
  // The only request is the page itself, from disk.
  expect(requests).toEqual([reportUrl]);
});
