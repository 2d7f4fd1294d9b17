/**
 * WebLLM's scoring check on the page (issue 10): the page's own model worker, with WebLLM running
 * on its stand-in over the tiny Llama (tests/e2e/harness/standin.html). The real adapter checks its
 * one-pass path against forced decoding at the first score; the page shows the method and the
 * measured agreement, stores them with the run and writes them in the export. A stand-in library
 * whose one-pass logits are off makes the adapter fall back, and the page says why.
 */
import { readFile } from 'node:fs/promises';
import { expect, test, type Page } from '@playwright/test';
import { ScoringRun } from '../../src/app/storage/records.ts';
import type { CatalogEntry } from '../../src/core/catalog.ts';
import { readCatalog, tinyWebLlmEntry } from '../support/webllmTinyEntry.ts';
import { expectPageClean, installProbes, readRecords, watchPage } from './support/pageProbes.ts';
import { chooseKinds, ensurePairs, expectRunComplete } from './support/pageSteps.ts';
import { TEST_COUNT } from './support/pairsFixture.ts';
import { STAND_IN_PAGE_PATH, TEST_BUILD_URL } from './testBuild.ts';

const AGREEING = 'tiny-llama-webllm';
const PERTURBED = 'tiny-llama-webllm-perturbed';

/**
 * The page's catalog with the two stand-in builds added, wherever the page or its worker asks for
 * models.json (the stand-in page lives under tests/e2e/harness/, the site's catalog at its root).
 */
async function withStandInEntries(page: Page): Promise<void> {
  const catalog = await readCatalog();
  const entries: CatalogEntry[] = [
    tinyWebLlmEntry(catalog, { id: AGREEING, label: 'Tiny Llama on WebLLM (stand-in)' }),
    tinyWebLlmEntry(catalog, { id: PERTURBED, label: 'Tiny Llama on WebLLM (stand-in, faulty one-pass)', modelId: 'tiny-llama-q0f32-MLC-perturbed' }),
  ];
  await page.context().route('**/models.json', async (route) => {
    const response = await route.fetch({ url: new URL('models.json', TEST_BUILD_URL).href });
    const served = (await response.json()) as { models: unknown[] };
    await route.fulfill({ response, json: { ...served, models: [...served.models, ...entries] } });
  });
}

async function loadStandIn(page: Page, id: string): Promise<void> {
  await page.getByRole('combobox', { name: 'Model', exact: true }).selectOption(id);
  await page.getByRole('button', { name: 'Load model', exact: true }).click();
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-status', 'ready', { timeout: 150_000 });
}

async function scoreWithNone(page: Page): Promise<ScoringRun> {
  await ensurePairs(page);
  await chooseKinds(page, ['None']);
  await page.getByRole('button', { name: 'Score pairs' }).click();
  await expectRunComplete(page, TEST_COUNT);
  const runs = (await readRecords(page, 'runs')).map((record) => ScoringRun.parse(record)).sort((a, b) => a.createdAt - b.createdAt);
  return runs.at(-1) as ScoringRun;
}

async function exported(page: Page): Promise<{ method: string; maxAbsDiff: number | null }> {
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download run (JSON)' }).click();
  return JSON.parse(await readFile(await (await download).path(), 'utf8')) as { method: string; maxAbsDiff: number | null };
}

test.describe('WebLLM scoring checked on the page', () => {
  test.setTimeout(300_000);

  for (const { id, method, chip, says } of [
    { id: AGREEING, method: 'one-pass', chip: 'Checked', says: 'One-pass scoring agreed with forced decoding on this GPU' },
    { id: PERTURBED, method: 'forced-decode', chip: 'Fallback', says: 'One-pass scoring disagreed with forced decoding on this GPU' },
  ]) {
    test(`${id}: the first score checks one pass against forced decoding, and the page shows, stores and exports the outcome`, async ({ page }) => {
      await installProbes(page.context());
      const watch = await watchPage(page.context(), page);
      await withStandInEntries(page);
      await page.goto(`${TEST_BUILD_URL}${STAND_IN_PAGE_PATH}`);
      await loadStandIn(page, id);
      await expect(page.getByTestId('model-status')).toContainText('checked against forced decoding at the first score');

      const run = await scoreWithNone(page);
      const note = page.getByTestId('scoring-method');
      await expect(note).toHaveAttribute('data-method', method);
      await expect(note.locator('.chip')).toHaveText(chip);
      await expect(note).toContainText(says);
      expect(run.scoringCheck?.method).toBe(method);
      const maxAbsDiff = run.scoringCheck?.maxAbsDiff ?? NaN;
      // Agreeing: within f32's tolerance; perturbed by ±0.25 per logit: far outside it.
      if (method === 'one-pass') expect(maxAbsDiff).toBeLessThanOrEqual(0.01);
      else expect(maxAbsDiff).toBeGreaterThan(0.01);
      await expect(note).toHaveAttribute('data-max-abs-diff', String(maxAbsDiff));
      expect(await exported(page)).toMatchObject({ method, maxAbsDiff });
      await expectPageClean(page, watch, new URL(TEST_BUILD_URL).origin);
    });
  }
});
