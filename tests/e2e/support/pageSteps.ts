/**
 * The page walk's vocabulary: locators, waits, and the `ensure…` steps each test of the walk starts
 * with. When the test before passed they find the state already there and do nothing; after a
 * failure Playwright starts a fresh worker (an empty browser profile), and they build the state the
 * next test needs, so one failure does not hide the checks after it.
 *
 * `storeInterruptedRun` builds a run cut off by a reload as the stored records such a reload leaves,
 * parsed with the page's own record schemas, instead of racing a reload against a running score.
 */
import { expect, type Locator, type Page } from '@playwright/test';
import { PairResult, ScoringRun } from '../../../src/app/storage/records.ts';
import { putRecord, readRecords, pwnedHits, startPhase } from './pageProbes.ts';
import { PERSON, VALID_COUNT, pastedText } from './pairsFixture.ts';

export const MODEL_ID = 'tiny-llama-random';
/** A main-thread task longer than this fails the walk (the goal is < 50 ms; this catches gross regressions). */
export const GROSS_LONG_TASK_MS = 1000;
const PREFIX_LABELS = ['None', 'Tag', 'Few-shot', 'Persona', 'Name', 'Gold persona', 'Custom'];

/** Runs `work` and returns the longest main-thread task meanwhile (ms; 0: none over 50 ms; -1: not measurable). */
export async function measure(page: Page, work: () => Promise<void>): Promise<number> {
  const phase = await startPhase(page);
  await work();
  return phase.end();
}

export function side(page: Page, name: string): Locator {
  return page.getByRole('article', { name, exact: true });
}

export async function setNumber(input: Locator, value: number): Promise<void> {
  await input.fill(String(value));
  await input.blur();
}

export async function chooseKinds(page: Page, kinds: readonly string[]): Promise<void> {
  for (const label of PREFIX_LABELS) {
    const box = page.getByRole('checkbox', { name: label, exact: true });
    if (kinds.includes(label)) await box.check();
    else if (await box.isChecked()) await box.uncheck();
  }
}

export async function expectModelReady(page: Page, device: string): Promise<void> {
  const status = page.getByTestId('model-status');
  await expect(status).toHaveAttribute('data-status', 'ready', { timeout: 120_000 });
  await expect(status).toContainText(`on ${device.toUpperCase()}`);
}

export async function expectRunComplete(page: Page, expected: number): Promise<void> {
  const rows = page.getByTestId('results-table').locator('tbody tr');
  await expect(rows).toHaveCount(expected, { timeout: 120_000 });
  await expect(page.getByTestId('results-table').locator('tr[data-state="pending"]')).toHaveCount(0, { timeout: 180_000 });
  await expect(page.getByTestId('results-table').locator('tr[data-state="failed"]')).toHaveCount(0);
  // The run winds down after its last row (the worker call returns, the status is saved).
  await expect(page.getByTestId('score-progress')).toHaveCount(0, { timeout: 60_000 });
}

/** Reloads the page, first making sure no payload ran in the document about to go. */
export async function reload(page: Page): Promise<void> {
  expect(await pwnedHits(page)).toEqual([]);
  await page.reload();
  await expect(page.getByTestId('model-status')).toBeVisible();
}

export async function loadModel(page: Page, device: string): Promise<void> {
  await page.getByRole('combobox', { name: 'Model', exact: true }).selectOption(MODEL_ID);
  await page.getByRole('combobox', { name: 'Device' }).selectOption(device);
  await page.getByRole('button', { name: 'Load model', exact: true }).click();
  await expectModelReady(page, device);
}

// Ensure steps ------------------------------------------------------------------------------------

export async function ensureModel(page: Page, device: string): Promise<void> {
  const status = page.getByTestId('model-status');
  if ((await status.getAttribute('data-status')) === 'ready' && (await status.textContent())?.includes(`on ${device.toUpperCase()}`)) return;
  await loadModel(page, device);
}

export async function ensurePairs(page: Page): Promise<void> {
  const editor = page.getByRole('textbox', { name: 'Preferences', exact: true });
  if ((await editor.inputValue()) !== pastedText()) await editor.fill(pastedText());
  await expect(page.getByTestId('pairs-summary')).toContainText(`${VALID_COUNT} valid pairs`);
}

/** A saved persona version; written by hand when none was inferred (a persona is text anyone may type). */
export async function ensurePersona(page: Page): Promise<void> {
  await ensurePairs(page);
  const versions = page.getByRole('combobox', { name: 'Persona version' });
  if ((await versions.count()) > 0) return;
  await page.getByRole('textbox', { name: 'Persona', exact: true }).fill(`${PERSON} reads mysteries, hikes on weekends and prefers the train.`);
  await page.getByRole('button', { name: 'Save as new version' }).click();
  await expect(versions).toContainText('edited by hand');
}

/** At least one finished scoring run of the person, with the persona. */
export async function ensureFinishedRun(page: Page, device: string, testPairs: number): Promise<void> {
  await ensurePersona(page);
  if ((await finishedRuns(page)).length > 0) return;
  await ensureModel(page, device);
  await chooseKinds(page, ['None', 'Persona']);
  await page.getByRole('button', { name: 'Score pairs' }).click();
  await expectRunComplete(page, testPairs * 2);
}

// Stored records ----------------------------------------------------------------------------------

async function finishedRuns(page: Page): Promise<ScoringRun[]> {
  const runs = (await readRecords(page, 'runs')).map((record) => ScoringRun.parse(record));
  return runs.filter((run) => run.person === PERSON && run.status === 'done').sort((a, b) => a.createdAt - b.createdAt);
}

export interface InterruptedRun {
  run: ScoringRun;
  /** The results saved before the reload. */
  saved: PairResult[];
}

/**
 * Writes what a reload in the middle of the latest finished run would have left: the same run
 * (pairs, prefixes, model) under a new id, still "running", with the first half of its results.
 */
export async function storeInterruptedRun(page: Page): Promise<InterruptedRun> {
  const source = (await finishedRuns(page)).at(-1);
  if (!source) throw new Error('No finished run to interrupt.');
  const results = (await readRecords(page, 'results')).map((record) => PairResult.parse(record)).filter((result) => result.runId === source.id);
  const { finishedAt: _finished, ...unfinished } = source;
  const run = ScoringRun.parse({ ...unfinished, id: `interrupted-${source.id}`, createdAt: Date.now(), status: 'running' });
  const saved = results.slice(0, Math.ceil(results.length / 2)).map((result) => PairResult.parse({ ...result, runId: run.id }));
  await putRecord(page, 'runs', run);
  for (const result of saved) await putRecord(page, 'results', result);
  return { run, saved };
}

/** The stored results of `runId`. */
export async function storedResults(page: Page, runId: string): Promise<PairResult[]> {
  return (await readRecords(page, 'results')).map((record) => PairResult.parse(record)).filter((result) => result.runId === runId);
}
