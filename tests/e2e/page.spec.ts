/**
 * The playground page end to end: the release build under `vite preview`, the real model worker
 * and the generated tiny Llama through the Transformers.js engine, once on WebGPU (SwiftShader)
 * and once on WASM.
 *
 * One walk per device, one test per step, on one page: load the model, paste valid and malformed
 * pairs, infer a persona, compare generations, stop one, score pairs, edit the persona and score
 * again, resume a run a reload interrupted, find everything again after a reload, render hostile
 * stored text inert, export and re-import, load the demo set. Each test reports on its own: it
 * starts by making sure of the state it needs (support/pageSteps.ts `ensure…`), which after a
 * failure (Playwright then starts a fresh worker and page) builds that state again instead of
 * skipping the rest. The interrupted run is written as the stored records a reload leaves behind,
 * not made by racing a reload against a running score.
 *
 * After every test: no script payload ran (`window.__pwned` trap), no dialog opened, no error went
 * uncaught and no request left the page's origin (support/pageProbes.ts). Loading, generation and
 * scoring report their longest main-thread task as an annotation; only > 1 s fails. Each state is
 * saved as a screenshot (test-results/…/state.png).
 *
 * SwiftShader compiles WebGPU shaders for every new tensor shape, so the WebGPU walk keeps
 * sequences short; both walks cover the same features.
 */
import { readFile } from 'node:fs/promises';
import { expect, test, type Page } from '@playwright/test';
import { PersonaVersion, ScoringRun, StoredGeneration, StoredPairSet } from '../../src/app/storage/records.ts';
import { putRecord, readRecords, shareWatchedPage } from './support/pageProbes.ts';
import { HOSTILE_MARKDOWN, MALFORMED, PERSON, TEST_COUNT, TRAIN_COUNT, VALID_COUNT, malformedLine, pastedText } from './support/pairsFixture.ts';
import {
  GROSS_LONG_TASK_MS,
  MODEL_ID,
  chooseKinds,
  ensureFinishedRun,
  ensureModel,
  ensurePairs,
  ensurePersona,
  expectModelReady,
  expectRunComplete,
  loadModel,
  measure,
  reload,
  setNumber,
  side,
  storeInterruptedRun,
  storedResults,
} from './support/pageSteps.ts';

const WALKS = [
  // Max tokens of the generation that is stopped: long enough to still be running when Stop arrives.
  { device: 'webgpu', stopTokens: 400 },
  { device: 'wasm', stopTokens: 200 },
] as const;

for (const { device, stopTokens } of WALKS) {
  test.describe(`the playground on ${device}`, () => {
    // Not serial: a failed test does not skip the rest (each rebuilds what it needs).
    test.describe.configure({ mode: 'default' });

    let page: Page;
    shareWatchedPage((opened) => (page = opened));

    const screenshot = (name: string) => page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });
    const longestTask = (phase: string, ms: number) => {
      test.info().annotations.push({ type: `longest main-thread task while ${phase} (${device})`, description: ms < 0 ? 'not measured' : ms === 0 ? 'none over 50 ms' : `${Math.round(ms)} ms` });
      expect(ms, `longest task while ${phase}`).toBeLessThan(GROSS_LONG_TASK_MS);
    };

    test('an empty page says what it is', async () => {
      await expect(page.getByRole('heading', { level: 1, name: 'WikiPersona Playground' })).toBeVisible();
      await expect(page.getByText('Nothing you paste leaves this page.')).toBeVisible();
      await expect(page.getByTestId('model-status')).toHaveAttribute('data-status', 'idle');
      await expect(page.getByTestId('pairs-summary')).toContainText('No pairs yet');
      await screenshot('empty');
    });

    test(`loads the tiny model on ${device}`, async () => {
      longestTask('loading', await measure(page, () => loadModel(page, device)));
      await screenshot('model-loaded');
    });

    test('pasted pairs: malformed rows are listed by line, valid rows kept, payloads inert', async () => {
      await page.getByRole('textbox', { name: 'Preferences', exact: true }).fill(pastedText());
      const summary = page.getByTestId('pairs-summary');
      await expect(summary).toContainText(`${VALID_COUNT} valid pairs`);
      await expect(summary).toContainText(`${MALFORMED.length} problems`);
      await expect(summary).toContainText('1 duplicate dropped');
      const issues = page.getByRole('alert', { name: 'Problems in the pasted pairs' });
      for (const [index, { message }] of MALFORMED.entries()) await expect(issues).toContainText(`line ${malformedLine(index)}: ${message}`);
      await expect(page.getByRole('combobox', { name: 'Person' })).toContainText(`${PERSON} — ${VALID_COUNT} pairs (${TRAIN_COUNT} train, ${TEST_COUNT} test`);
      // Render every pair, payloads included, and try the link a payload planted.
      await page.getByText(`${PERSON}'s pairs (${VALID_COUNT})`).click();
      for (const summaryRow of await page.locator('.pair-list details > summary').all()) await summaryRow.click();
      const plantedLink = page.locator('.pair-list a', { hasText: 'click me' });
      await plantedLink.click();
      await expect(page.locator('.pair-list script, .pair-list img, .pair-list svg, .pair-list [onerror]')).toHaveCount(0);
      await expect(plantedLink).not.toHaveAttribute('href', /.*/);
      await screenshot('pairs-validated');
    });

    test('infers a persona (G.5, the paper’s layout by default) and keeps it as a version with its provenance', async () => {
      await ensureModel(page, device);
      await ensurePairs(page);
      await expect(page.getByRole('combobox', { name: 'Shots show' })).toHaveValue('paper');
      await expect(page.getByRole('spinbutton', { name: 'Top-k', exact: true })).toHaveValue('50');
      await setNumber(page.getByRole('spinbutton', { name: 'Shots' }), 2);
      await setNumber(page.locator('#infer-tokens'), 16);
      await page.getByRole('button', { name: 'Infer persona' }).click();
      const versions = page.getByRole('combobox', { name: 'Persona version' });
      await expect(versions).toContainText('inferred by Tiny test Llama', { timeout: 120_000 });
      await expect(versions).toContainText('from 2 shots (paper, x + y_w), seed 0');
      await expect(page.getByText(/^Provenance: .*top-p 1, top-k 50;/)).toBeVisible();
      await expect(page.getByRole('textbox', { name: 'Persona', exact: true })).not.toHaveValue('');
      await screenshot('persona-inferred');
    });

    test('compares unprefixed and persona-prefixed generations', async () => {
      await ensureModel(page, device);
      await ensurePersona(page);
      await page.getByRole('radio', { name: 'Persona', exact: true }).check();
      await page.getByRole('textbox', { name: 'Question', exact: true }).fill('What should I cook tonight? <img src=x onerror="window.__pwned=\'question\'">');
      await setNumber(page.locator('#gen-tokens'), 6);
      const longest = await measure(page, async () => {
        await page.getByRole('button', { name: 'Generate', exact: true }).click();
        await expect(side(page, 'Unprefixed')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
        await expect(side(page, 'Prefixed: Persona')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
      });
      longestTask('generating', longest);
      const persona = await page.getByRole('textbox', { name: 'Persona', exact: true }).inputValue();
      for (const name of ['Unprefixed', 'Prefixed: Persona']) {
        await side(page, name).getByText('Full prompt').click();
        await expect(side(page, name).locator('pre.prompt')).toContainText('<|user|>');
      }
      await expect(side(page, 'Prefixed: Persona').locator('pre.prompt')).toContainText(persona.slice(0, 20));
      await expect(side(page, 'Unprefixed').locator('pre.prompt')).not.toContainText(persona.slice(0, 20));
      await screenshot('compared');
    });

    test('stops a generation', async () => {
      await ensureModel(page, device);
      await ensurePersona(page);
      await page.getByRole('textbox', { name: 'Question', exact: true }).fill('Tell me a long story.');
      await setNumber(page.locator('#gen-tokens'), stopTokens);
      await page.getByRole('button', { name: 'Generate', exact: true }).click();
      await expect(side(page, 'Unprefixed')).toHaveAttribute('data-status', 'streaming', { timeout: 60_000 });
      await expect(side(page, 'Unprefixed').locator('.output')).not.toBeEmpty({ timeout: 60_000 });
      const stopAt = Date.now();
      await page.getByRole('button', { name: 'Stop', exact: true }).click();
      await expect(side(page, 'Unprefixed')).toHaveAttribute('data-status', /^(stopping|stopped)$/, { timeout: 1000 });
      await expect(side(page, 'Unprefixed')).toHaveAttribute('data-status', 'stopped', { timeout: 60_000 });
      test.info().annotations.push({ type: `stop latency (${device})`, description: `${Date.now() - stopAt} ms from Stop to the engine's answer` });
      // The second side never starts once Stop was pressed.
      await expect(side(page, 'Prefixed: Persona')).toHaveAttribute('data-status', 'stopped');
      await expect(side(page, 'Prefixed: Persona').locator('.output')).toContainText('Stopped before any text');
      await expect(page.getByRole('button', { name: 'Generate', exact: true })).toBeEnabled();
      await screenshot('stopped');
    });

    test('scores the test pairs with and without the persona', async () => {
      await ensureModel(page, device);
      await ensurePersona(page);
      await chooseKinds(page, ['None', 'Persona']);
      const longest = await measure(page, async () => {
        await page.getByRole('button', { name: 'Score pairs' }).click();
        await expectRunComplete(page, TEST_COUNT * 2);
      });
      longestTask('scoring', longest);
      await expect(page.getByRole('img', { name: /Accuracy by prefix and question type/ })).toBeVisible();
      await screenshot('scored');
    });

    test('an edited persona is scored as a new version, against the previous run, with the token view', async () => {
      await ensureFinishedRun(page, device, TEST_COUNT);
      await ensureModel(page, device);
      const personaBox = page.getByRole('textbox', { name: 'Persona', exact: true });
      await personaBox.fill(`${await personaBox.inputValue()}\nPrefers short, practical answers.`);
      await chooseKinds(page, ['None', 'Persona']);
      await page.getByRole('button', { name: 'Score pairs' }).click();
      await expectRunComplete(page, TEST_COUNT * 2);
      const table = page.getByRole('table', { name: 'Accuracy against the previous run' });
      await expect(table).toContainText('→');
      await expect(table).toContainText('pts');
      await expect(page.getByText(/changed: persona v\d+ → v\d+/)).toBeVisible();
      await expect(page.getByRole('combobox', { name: 'Persona version' })).toContainText('edited by hand');
      await page.getByRole('button', { name: /Show tokens for .* Persona prefix/ }).first().click();
      await expect(page.locator('.token-view .spans')).toHaveCount(2, { timeout: 60_000 });
      await expect(page.locator('.token-view')).toContainText('Preferred (y_w): score');
      await page.getByRole('radio', { name: /change vs no prefix/ }).check();
      await screenshot('rescored-with-tokens');
    });

    test('a run a reload interrupted (its stored records) is offered for resuming, and resumes to the end', async () => {
      await ensureFinishedRun(page, device, TEST_COUNT);
      const { run, saved } = await storeInterruptedRun(page);
      const expected = run.pairs.length * run.prefixes.length;
      await reload(page);
      await expect(page.getByRole('button', { name: 'Resume run' })).toBeVisible();
      await expect(page.getByRole('status').filter({ hasText: 'was interrupted' })).toContainText(`with ${saved.length} of ${expected} results saved`);
      await expect(page.getByRole('button', { name: 'Resume run' })).toBeDisabled();
      await expect(page.getByRole('combobox', { name: 'Model', exact: true })).toHaveValue(MODEL_ID);
      await expect(page.getByRole('combobox', { name: 'Device' })).toHaveValue(device);
      await screenshot('interrupted');

      await page.getByRole('button', { name: 'Load model', exact: true }).click();
      await expectModelReady(page, device);
      await page.getByRole('button', { name: 'Resume run' }).click();
      await expectRunComplete(page, expected);
      await expect(page.getByRole('button', { name: 'Resume run' })).toHaveCount(0);
      const results = await storedResults(page, run.id);
      expect(results).toHaveLength(expected);
      // The results saved before the reload are kept as they were, not scored again.
      expect(results.filter((result) => saved.some((kept) => kept.kind === result.kind && kept.pairId === result.pairId))).toEqual(expect.arrayContaining(saved));
      expect((await readRecords(page, 'runs')).map((record) => ScoringRun.parse(record)).find((candidate) => candidate.id === run.id)?.status).toBe('done');
      await screenshot('resumed');
    });

    test('after a reload everything stored is shown again', async () => {
      await ensurePersona(page);
      await reload(page);
      await expect(page.getByRole('textbox', { name: 'Preferences', exact: true })).toHaveValue(pastedText());
      await expect(page.getByRole('alert', { name: 'Problems in the pasted pairs' })).toContainText(`line ${malformedLine(0)}`);
      const pasted = (await readRecords(page, 'pairSets')).map((record) => StoredPairSet.parse(record)).find((set) => set.sourceText === pastedText());
      const ofPerson = <T extends { pairSetId: string; person: string }>(records: T[]) => records.filter((record) => record.pairSetId === pasted?.id && record.person === PERSON);
      const versions = ofPerson((await readRecords(page, 'personaVersions')).map((record) => PersonaVersion.parse(record)));
      await expect(page.getByRole('combobox', { name: 'Persona version' }).locator('option')).toHaveCount(versions.length);
      const latest = versions.sort((a, b) => a.createdAt - b.createdAt).at(-1);
      await expect(page.getByRole('textbox', { name: 'Persona', exact: true })).toHaveValue(latest?.text ?? '');
      const runs = ofPerson((await readRecords(page, 'runs')).map((record) => ScoringRun.parse(record)));
      if (runs.length > 0) {
        await expect(page.getByRole('combobox', { name: 'Run' }).locator('option')).toHaveCount(runs.length);
        await expect(page.getByTestId('results-table').locator('td[data-state="pending"]')).toHaveCount(0);
      }
      const generations = (await readRecords(page, 'generations')).map((record) => StoredGeneration.parse(record));
      if (generations.length > 0) await expect(page.getByRole('combobox', { name: 'Earlier comparisons' }).locator('option')).toHaveCount(generations.length);
      await screenshot('after-reload');
    });

    test('a stored generation full of payloads is shown without running any', async () => {
      await putRecord(page, 'generations', StoredGeneration.parse(hostileGeneration()));
      await reload(page);
      const history = page.getByRole('combobox', { name: 'Earlier comparisons' });
      await history.selectOption((await history.locator('option', { hasText: 'Hostile question' }).getAttribute('value')) ?? '');
      const output = side(page, 'Unprefixed').locator('.output');
      await expect(output).toContainText('hover me');
      await expect(output.locator('script, img, iframe, svg, [style], [onerror], [onmouseover]')).toHaveCount(0);
      await expect(output).toContainText('[image: tracking pixel — https://tracker.invalid/pixel.png]');
      await output.locator('a', { hasText: 'a javascript link' }).click();
      await output.getByText('hover me').hover();
      await expect(output.locator('a', { hasText: 'a javascript link' })).not.toHaveAttribute('href', /.*/);
      // Raw HTML is shown as the text it is, never parsed.
      await expect(output.locator('a', { hasText: 'raw link' })).toHaveCount(0);
      await expect(output).toContainText(`<a href="javascript:window.__pwned='generated-a'">raw link</a>`);
      await screenshot('hostile-generation');
    });

    test('exports the pairs as JSON, JSON Lines and CSV, and imports each again', async () => {
      await ensurePersona(page);
      const persona = await page.getByRole('textbox', { name: 'Persona', exact: true }).inputValue();
      const exports: Partial<Record<'json' | 'jsonl' | 'csv', string>> = {};
      for (const format of ['json', 'jsonl', 'csv'] as const) {
        await page.getByRole('combobox', { name: 'Export format' }).selectOption(format);
        const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export', exact: true }).click()]);
        exports[format] = test.info().outputPath(`export.${format}`);
        await download.saveAs(exports[format]);
      }
      const document = JSON.parse(await readFile(exports.json as string, 'utf8')) as { pairs: unknown[]; personas: { name: string; prefixes: Record<string, string> }[] };
      expect(document.pairs).toHaveLength(VALID_COUNT);
      expect(document.personas[0]?.name).toBe(PERSON);
      expect(document.personas[0]?.prefixes.persona).toBe(persona);

      for (const format of ['json', 'jsonl', 'csv'] as const) {
        await page.getByLabel('Import pairs from a file').setInputFiles(exports[format] as string);
        await expect(page.getByTestId('pairs-summary')).toContainText(`${VALID_COUNT} valid pairs (${format.toUpperCase()})`);
        await expect(page.getByTestId('pairs-summary')).not.toContainText('problem');
      }
      await page.getByLabel('Import pairs from a file').setInputFiles(exports.json as string);
      await expect(page.getByRole('textbox', { name: 'Persona', exact: true })).toHaveValue(persona);
      await expect(page.getByRole('combobox', { name: 'Persona version' })).toContainText('imported from');
      await screenshot('reimported');
    });

    test('loads the demo set', async () => {
      await page.getByRole('button', { name: 'Load demo pairs' }).click();
      await expect(page.getByTestId('pairs-summary')).toContainText('40 valid pairs');
      await expect(page.getByRole('combobox', { name: 'Person' }).locator('option')).toHaveCount(4);
      await screenshot('demo');
    });
  });
}

function hostileGeneration() {
  const side = (kind: string, text: string) => ({ kind, userContent: 'Hostile question', prompt: '<|user|>\nHostile question</s>\n<|assistant|>\n', text, finishReason: 'eos' });
  return {
    id: 'hostile-generation',
    createdAt: Date.now() - 60_000,
    question: 'Hostile question',
    model: { id: MODEL_ID, label: 'Tiny test Llama', backend: 'transformers', device: 'wasm' },
    sampling: { maxNewTokens: 8, temperature: 0.7, topP: 0.9, topK: 0, seed: 1 },
    sides: [side('none', HOSTILE_MARKDOWN), side('persona', HOSTILE_MARKDOWN)],
  };
}
