/**
 * The results view and the page's keyboard and small-screen behaviour, in the release build:
 *
 * - The results matrix of a stored scoring run: the "only wrong" and "flipped by the prefix"
 *   filters, search, sorting by a prefix's margin, and the run downloaded as CSV, JSON Lines and
 *   JSON. The run is written as the records a finished run leaves (support/pageProbes.ts
 *   `putRecord`, parsed with the page's own schemas) with verdicts chosen so each filter has a known
 *   answer: the subject is the viewer, which reads stored records and nothing else.
 * - At 390 px wide (a phone) nothing scrolls the page sideways: tables and the chart scroll in
 *   their own boxes and say so, chart labels keep a legible size, every prefix's verdict column can
 *   be scrolled into view.
 * - After Enter on "Load model", "Infer persona" and "Generate", keyboard focus moves to the
 *   control that stops the work and comes back to the button when it ends (the real worker and the
 *   tiny model on WASM). A focus log records every element focused, so the check does not race the work.
 * - The demo set lands as a table of pairs with its text behind "Edit source", and scores at once.
 */
import { readFile } from 'node:fs/promises';
import { expect, test, type Page } from '@playwright/test';
import Papa from 'papaparse';
import { PairResult, ScoringRun, StoredPairSet } from '../../src/app/storage/records.ts';
import { putRecord, readRecords, shareWatchedPage } from './support/pageProbes.ts';
import { PERSON, pastedText } from './support/pairsFixture.ts';
import { MODEL_ID, ensureModel, ensurePairs, ensurePersona, expectModelReady, expectRunComplete, reload, setNumber, side } from './support/pageSteps.ts';

const DEVICE = 'wasm';
const PHONE = { width: 390, height: 844 };
const KINDS = ['none', 'persona', 'gold'] as const;
type Kind = (typeof KINDS)[number];

/** A stored run's pairs, with text that is hard to quote in CSV, and each prefix's margin (null: the pair failed). */
const VIEWER_PAIRS: { id: string; prompt: string; margins: Record<Kind, number | null> }[] = [
  { id: 'v1', prompt: 'Which pet suits a small flat?', margins: { none: 0.4, persona: 0.2, gold: 0.6 } },
  { id: 'v2', prompt: 'Should I take the train or fly, "really"?', margins: { none: -0.3, persona: 0.1, gold: -0.2 } },
  { id: 'v3', prompt: 'Comma, "quote"\nand a new line', margins: { none: 0.05, persona: -0.1, gold: 0 } },
  { id: 'v4', prompt: '=SUM(1,2) looks like a formula', margins: { none: -0.5, persona: -0.4, gold: -0.6 } },
  { id: 'v5', prompt: 'Café au lait or tea?', margins: { none: 0.3, persona: 0.3, gold: null } },
  { id: 'v6', prompt: 'How do I plan a rainy weekend?', margins: { none: -0.1, persona: -0.2, gold: 0.2 } },
];
const ONLY_WRONG = ['v2', 'v3', 'v4', 'v6'];
const FLIPPED = ['v2', 'v3', 'v6'];

function viewerRun(pairSetId: string): { run: ScoringRun; results: PairResult[] } {
  const run = ScoringRun.parse({
    id: 'viewer-run',
    pairSetId,
    person: PERSON,
    createdAt: Date.now(),
    finishedAt: Date.now(),
    status: 'done',
    model: { id: MODEL_ID, label: 'Tiny test Llama', backend: 'transformers', device: DEVICE },
    convention: 'authors',
    aggregation: 'mean',
    seed: 0,
    promptsVersion: 'test',
    prefixes: [
      { kind: 'none', spec: { kind: 'none' } },
      { kind: 'persona', spec: { kind: 'persona', text: `${PERSON} likes trains.` } },
      { kind: 'gold', spec: { kind: 'gold', text: `${PERSON} is a fictional commuter.` } },
    ],
    pairs: VIEWER_PAIRS.map(({ id, prompt }) => ({ id, prompt, chosen: `Yes, ${id}`, rejected: `No, ${id}` })),
  });
  const results = VIEWER_PAIRS.flatMap(({ id, margins }) =>
    KINDS.map((kind) => {
      const margin = margins[kind];
      const key = { runId: run.id, kind, pairId: id, finishedAt: Date.now() };
      if (margin === null) return PairResult.parse({ ...key, ok: false, error: { code: 'context-exceeded', message: 'The prompt is longer than the context window.' } });
      const answer = (score: number) => ({ ids: [1, 2], logprobs: [score / 2, score / 2], score });
      return PairResult.parse({ ...key, ok: true, chosen: answer(-1 + margin), rejected: answer(-1), correct: margin > 0, tie: margin === 0, margin, promptTokens: 9, method: 'one-pass' });
    }),
  );
  return { run, results };
}

test.describe('results, focus and small screens', () => {
  test.describe.configure({ mode: 'default' });

  let page: Page;
  shareWatchedPage(
    (opened) => (page = opened),
    (tested) => tested.setViewportSize({ width: 1280, height: 720 }),
  );

  const matrix = () => page.getByTestId('results-table');
  const shownPairs = async () => matrix().locator('tbody tr[data-pair-id]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-pair-id')));

  /** The stored viewer run of the pasted set, shown after a reload. */
  async function ensureViewerRun(): Promise<{ run: ScoringRun; results: PairResult[] }> {
    await ensurePairs(page);
    const pastedSet = async () => (await readRecords(page, 'pairSets')).map((record) => StoredPairSet.parse(record)).find((set) => set.sourceText === pastedText());
    await expect.poll(pastedSet).toBeDefined();
    const stored = viewerRun((await pastedSet())?.id ?? '');
    const runSelect = page.getByRole('combobox', { name: 'Run' });
    if (!(await runSelect.isVisible()) || (await runSelect.inputValue()) !== stored.run.id) {
      await putRecord(page, 'runs', stored.run);
      for (const result of stored.results) await putRecord(page, 'results', result);
      await reload(page);
    }
    await expect(runSelect).toHaveValue(stored.run.id);
    await expect(matrix().locator('td[data-state]')).toHaveCount(VIEWER_PAIRS.length * KINDS.length);
    return stored;
  }

  test('the results matrix filters to wrong and flipped pairs, searches questions and sorts by a prefix’s margin', async () => {
    await ensureViewerRun();
    await page.getByRole('radio', { name: /^All pairs/ }).check();
    await expect(page.getByTestId('matrix-count')).toContainText(`Showing ${VIEWER_PAIRS.length} of ${VIEWER_PAIRS.length} pairs`);
    expect(await shownPairs()).toEqual(VIEWER_PAIRS.map((pair) => pair.id));
    // Each cell: the verdict and the margin.
    const v3 = matrix().locator('tr[data-pair-id="v3"]');
    await expect(v3.locator('td[data-kind="none"]')).toHaveAttribute('data-state', 'correct');
    await expect(v3.locator('td[data-kind="persona"]')).toContainText('-0.100');
    await expect(v3.locator('td[data-kind="gold"]')).toHaveAttribute('data-state', 'tie');
    await expect(matrix().locator('tr[data-pair-id="v5"] td[data-kind="gold"]')).toHaveAttribute('data-state', 'failed');

    await page.getByRole('radio', { name: `Only wrong (${ONLY_WRONG.length})` }).check();
    await expect.poll(shownPairs).toEqual(ONLY_WRONG);
    await page.getByRole('radio', { name: `Flipped by the prefix (${FLIPPED.length})` }).check();
    await expect.poll(shownPairs).toEqual(FLIPPED);
    await page.screenshot({ path: test.info().outputPath('flipped.png'), fullPage: true });
    await expect(matrix().locator('tr[data-pair-id="v2"]')).toContainText('Persona helped');
    await expect(matrix().locator('tr[data-pair-id="v3"]')).toContainText('Persona hurt');
    await expect(matrix().locator('tr[data-pair-id="v3"]')).toContainText('Gold persona hurt');
    await expect(matrix().locator('tr[data-pair-id="v6"]')).toContainText('Gold persona helped');

    const search = page.getByRole('searchbox', { name: 'Search questions' });
    await search.fill('TRAIN');
    await expect.poll(shownPairs).toEqual(['v2']);
    await page.getByRole('radio', { name: /^All pairs/ }).check();
    await search.fill('café');
    await expect.poll(shownPairs).toEqual(['v5']);
    await search.fill('no such question');
    await expect(matrix()).toContainText('No pair matches “no such question”');
    await search.fill('');

    const byNone = page.getByRole('button', { name: 'None: sort by margin' });
    await byNone.click();
    await expect(page.getByRole('columnheader', { name: /None/ })).toHaveAttribute('aria-sort', 'ascending');
    await expect.poll(shownPairs).toEqual(['v4', 'v2', 'v6', 'v3', 'v5', 'v1']);
    await byNone.click();
    await expect.poll(shownPairs).toEqual(['v1', 'v5', 'v3', 'v6', 'v2', 'v4']);
    await page.getByRole('button', { name: 'Gold persona: sort by margin' }).click();
    // The failed pair has no margin: last.
    await expect.poll(shownPairs).toEqual(['v4', 'v2', 'v3', 'v6', 'v1', 'v5']);
    await page.getByRole('radio', { name: /^Only wrong/ }).check();
    await expect.poll(shownPairs).toEqual(['v4', 'v2', 'v3', 'v6']);
    await page.getByRole('radio', { name: /^All pairs/ }).check();
  });

  test('downloads the run as CSV and JSON Lines, one row per result, and as the JSON document', async () => {
    const { run, results } = await ensureViewerRun();
    const download = async (format: string) => {
      const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: `Download the run as ${format}`, exact: true }).click()]);
      const path = test.info().outputPath(file.suggestedFilename());
      await file.saveAs(path);
      return { name: file.suggestedFilename(), text: await readFile(path, 'utf8') };
    };
    const csv = await download('CSV');
    expect(csv.name).toMatch(/^scoring-run-.+\.csv$/);
    const parsed = Papa.parse<Record<string, string>>(csv.text, { header: true, skipEmptyLines: true });
    expect(parsed.errors).toEqual([]);
    expect(parsed.data).toHaveLength(results.length);
    for (const { id, prompt, margins } of VIEWER_PAIRS) {
      for (const kind of KINDS) {
        const row = parsed.data.find((candidate) => candidate.pair_id === id && candidate.prefix === kind);
        const margin = margins[kind];
        // A question a spreadsheet would run as a formula is written with a leading apostrophe.
        expect(row?.question).toBe(prompt.startsWith('=') ? `'${prompt}` : prompt);
        expect(row?.status).toBe(margin === null ? 'failed' : 'scored');
        expect(row?.verdict).toBe(margin === null ? '' : margin > 0 ? 'correct' : margin === 0 ? 'tie' : 'wrong');
        expect(row?.margin).toBe(margin === null ? '' : String(margin));
      }
    }

    const jsonl = await download('JSON Lines');
    expect(jsonl.name).toMatch(/\.jsonl$/);
    const lines = jsonl.text.trimEnd().split('\n').map((line) => JSON.parse(line) as { pair_id: string; prefix: string; question: string; margin: number | null });
    expect(lines.map((line) => `${line.pair_id}/${line.prefix}`)).toEqual(VIEWER_PAIRS.flatMap(({ id }) => KINDS.map((kind) => `${id}/${kind}`)));
    expect(lines.find((line) => line.pair_id === 'v3')?.question).toBe(VIEWER_PAIRS[2]?.prompt);

    const json = await download('JSON');
    const document = JSON.parse(json.text) as { run: ScoringRun; results: PairResult[] };
    expect(document.run.id).toBe(run.id);
    expect(document.results).toHaveLength(results.length);
  });

  test('at 390 px wide the page never scrolls sideways; tables and the chart scroll in their own boxes', async () => {
    await ensureViewerRun();
    await page.setViewportSize(PHONE);
    await page.getByRole('heading', { name: 'Accuracy', exact: true }).scrollIntoViewIfNeeded();
    const pageWidth = () => page.evaluate(() => document.documentElement.scrollWidth);
    await expect.poll(pageWidth).toBeLessThanOrEqual(PHONE.width);

    // Chart labels are drawn at their CSS size, not shrunk with the chart.
    const label = page.locator('figure.chart text.kind').first();
    const labelHeight = await label.evaluate((text) => text.getBoundingClientRect().height);
    expect(labelHeight).toBeGreaterThanOrEqual(11);

    // The matrix says it scrolls, and every prefix's verdict column can be brought into view.
    await expect(page.locator('[data-testid="scroll-hint"] + [role="region"][aria-label="Pairs by prefix"]')).toBeVisible();
    const lastColumn = matrix().locator('tr[data-pair-id="v1"] td[data-kind="gold"]');
    await lastColumn.scrollIntoViewIfNeeded();
    await expect(lastColumn).toBeInViewport();
    await expect(lastColumn).toContainText('right');
    await expect.poll(pageWidth).toBeLessThanOrEqual(PHONE.width);

    // The pairs table and the model card, too.
    await page.getByRole('table', { name: `${PERSON}'s pairs` }).scrollIntoViewIfNeeded();
    await page.getByRole('table', { name: `${PERSON}'s pairs` }).locator('summary').first().click();
    await expect.poll(pageWidth).toBeLessThanOrEqual(PHONE.width);
    await page.screenshot({ path: test.info().outputPath('phone.png'), fullPage: true });
    await page.locator('figure.chart').screenshot({ path: test.info().outputPath('phone-chart.png') });
    await page.getByRole('region', { name: 'Pairs by prefix' }).screenshot({ path: test.info().outputPath('phone-matrix.png') });
  });

  test('keyboard focus stays on the control that stops loading, inference and generation, and comes back after', async () => {
    await ensurePairs(page);
    await page.evaluate(() => {
      const log: string[] = [];
      (window as unknown as { __focusLog: string[] }).__focusLog = log;
      document.addEventListener('focusin', (event) => log.push((event.target as HTMLElement).textContent?.trim() ?? ''));
    });
    const focusLog = () => page.evaluate(() => (window as unknown as { __focusLog: string[] }).__focusLog.splice(0));
    const focused = () => page.evaluate(() => document.activeElement?.textContent?.trim() ?? null);

    if ((await page.getByTestId('model-status').getAttribute('data-status')) === 'ready') await page.getByRole('button', { name: 'Release model' }).click();
    await page.getByRole('combobox', { name: 'Model', exact: true }).selectOption(MODEL_ID);
    await page.getByRole('combobox', { name: 'Device' }).selectOption(DEVICE);
    await page.getByRole('button', { name: 'Load model', exact: true }).focus();
    await focusLog();
    await page.keyboard.press('Enter');
    await expectModelReady(page, DEVICE);
    await expect.poll(focused).toBe('Load model');
    expect(await focusLog()).toEqual(['Cancel loading', 'Load model']);
    // The model card in words: where it runs, and a cache line that agrees with the storage line and the buttons.
    await expect(page.getByTestId('model-status')).toContainText('running on the CPU (WebAssembly)');
    await expect(page.getByTestId('model-status')).not.toContainText('WASM');
    await expect(page.getByTestId('model-cache')).not.toContainText('not reported');
    if (await page.getByRole('button', { name: 'Delete from cache' }).isDisabled()) await expect(page.getByTestId('model-cache')).toContainText('clear this site');

    await setNumber(page.getByRole('spinbutton', { name: 'Shots' }), 2);
    await setNumber(page.locator('#infer-tokens'), 16);
    await page.getByRole('button', { name: 'Infer persona' }).focus();
    await focusLog();
    await page.keyboard.press('Enter');
    await expect(page.getByRole('combobox', { name: 'Persona version' })).toContainText('inferred by', { timeout: 120_000 });
    await expect.poll(focused).toBe('Infer persona');
    expect(await focusLog()).toEqual(['Cancel inference', 'Infer persona']);

    await ensurePersona(page);
    await page.getByRole('radio', { name: 'Persona', exact: true }).check();
    await page.getByRole('textbox', { name: 'Question', exact: true }).fill('What should I cook tonight?');
    await setNumber(page.locator('#gen-tokens'), 6);
    await page.getByRole('button', { name: 'Generate', exact: true }).focus();
    await focusLog();
    await page.keyboard.press('Enter');
    await expect(side(page, 'Prefixed: Persona')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
    await expect.poll(focused).toBe('Generate');
    expect(await focusLog()).toEqual(['Stop', 'Generate']);
  });

  test('the demo set shows its pairs as a table, its text behind “Edit source”, and scores at once', async () => {
    await page.getByRole('button', { name: 'Load demo pairs' }).click();
    await expect(page.getByTestId('pairs-summary')).toContainText('40 valid pairs');
    const editor = page.getByRole('textbox', { name: 'Preferences', exact: true });
    await expect(editor).toBeHidden();
    await expect(page.getByRole('table', { name: /'s pairs$/ }).locator('tbody tr')).toHaveCount(10);
    await page.getByRole('button', { name: 'Edit source' }).click();
    await expect(editor).toBeVisible();
    await expect(editor).toHaveValue(/"personas"/);
    await page.getByRole('button', { name: 'Hide source' }).click();
    await expect(editor).toBeHidden();

    await expect(page.getByRole('checkbox', { name: 'None', exact: true })).toBeChecked();
    await expect(page.getByRole('checkbox', { name: 'Gold persona', exact: true })).toBeChecked();
    await expect(page.getByRole('checkbox', { name: 'Persona', exact: true })).not.toBeChecked();
    await ensureModel(page, DEVICE);
    await page.getByRole('button', { name: 'Score pairs' }).click();
    const person = (await page.getByRole('combobox', { name: 'Person' }).locator('option:checked').textContent()) ?? '';
    const testPairs = Number(/(\d+) test/.exec(person)?.[1]);
    expect(testPairs).toBeGreaterThan(0);
    await expectRunComplete(page, testPairs * 2);
  });
});
