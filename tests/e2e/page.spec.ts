/**
 * The playground page end to end: the release build under `vite preview`, the real model worker
 * and the generated tiny Llama through the Transformers.js engine, once on WebGPU (SwiftShader)
 * and once on WASM.
 *
 * One walk per device: load the model, paste valid and malformed pairs, infer a persona, compare
 * generations, stop one, score pairs, edit the persona and score again, open the token view,
 * export, reload in the middle of a run and resume it, find everything again, and re-import the
 * exports. Along the way it checks that:
 * - no request leaves the page's origin (every request of the walk is recorded);
 * - script payloads in pasted pairs and in generated text never run (`window.__pwned` trap);
 * - no main-thread task during loading, generation or scoring is grossly long (the longest task
 *   of each phase is reported as an annotation; only > 1 s fails);
 * and saves a screenshot of each state (test-results/…/NN-state.png).
 *
 * SwiftShader compiles WebGPU shaders for every new tensor shape, so the WebGPU walk keeps
 * sequences short; both walks cover the same features.
 */
import { readFile } from 'node:fs/promises';
import { expect, test, type Locator, type Page } from '@playwright/test';
import { foreignRequests, installProbes, pwnedHits, putRecord, recordCspViolations, recordRequests, startPhase } from './support/pageProbes.ts';
import { HOSTILE_MARKDOWN, MALFORMED, PERSON, TEST_COUNT, TRAIN_COUNT, VALID_COUNT, malformedLine, pastedText } from './support/pairsFixture.ts';

const MODEL_ID = 'tiny-llama-random';
/** A main-thread task longer than this fails the walk (the goal is < 50 ms; this catches gross regressions). */
const GROSS_LONG_TASK_MS = 1000;

interface Walk {
  device: 'webgpu' | 'wasm';
  /** Max tokens of the generation that is stopped: long enough to still be running when Stop arrives. */
  stopTokens: number;
  /** The interrupted-and-resumed run: the demo set (long answers, 18 results) or the pasted pairs. */
  resume: { demo: boolean; kinds: string[]; expected: number };
}

const WALKS: Walk[] = [
  { device: 'webgpu', stopTokens: 400, resume: { demo: false, kinds: ['None', 'Persona', 'Name'], expected: TEST_COUNT * 3 } },
  { device: 'wasm', stopTokens: 200, resume: { demo: true, kinds: ['None', 'Few-shot', 'Gold persona'], expected: 6 * 3 } },
];

for (const walk of WALKS) {
  test(`the playground on ${walk.device}: pairs, persona, comparison, scoring, persistence, export`, async ({ page, context, baseURL }, testInfo) => {
    test.setTimeout(240_000);
    const origin = new URL(baseURL as string).origin;
    await installProbes(context);
    const requests = recordRequests(context);
    const violations = await recordCspViolations(context);
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const longest: Record<string, number> = {};
    let shot = 0;
    const timings: string[] = [];
    const step = async (name: string, body: () => Promise<void>) => {
      const started = Date.now();
      await test.step(name, body);
      timings.push(`${name}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    };
    const screenshot = async (name: string) => {
      shot += 1;
      await page.screenshot({ path: testInfo.outputPath(`${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
    };

    await step('empty page', async () => {
      await page.goto('./');
      await expect(page.getByRole('heading', { level: 1, name: 'WikiPersona Playground' })).toBeVisible();
      await expect(page.getByText('Nothing you paste leaves this page.')).toBeVisible();
      await expect(page.getByTestId('model-status')).toHaveAttribute('data-status', 'idle');
      await expect(page.getByTestId('pairs-summary')).toContainText('No pairs yet');
      await screenshot('empty');
    });

    await step(`load the tiny model on ${walk.device}`, async () => {
      await page.getByRole('combobox', { name: 'Model', exact: true }).selectOption(MODEL_ID);
      await page.getByRole('combobox', { name: 'Device' }).selectOption(walk.device);
      longest.load = await measure(page, async () => {
        await page.getByRole('button', { name: 'Load model', exact: true }).click();
        await expectModelReady(page, walk.device);
      });
      await screenshot('model-loaded');
    });

    await step('paste pairs: malformed rows are listed by line, valid rows kept', async () => {
      await page.getByRole('textbox', { name: 'Preferences', exact: true }).fill(pastedText());
      await expect(page.getByTestId('pairs-summary')).toContainText(`${VALID_COUNT} valid pairs`);
      await expect(page.getByTestId('pairs-summary')).toContainText(`${MALFORMED.length} problems`);
      await expect(page.getByTestId('pairs-summary')).toContainText('1 duplicate dropped');
      const issues = page.getByRole('alert', { name: 'Problems in the pasted pairs' });
      for (const [index, { message }] of MALFORMED.entries()) {
        await expect(issues).toContainText(`line ${malformedLine(index)}: ${message}`);
      }
      await expect(page.getByRole('combobox', { name: 'Person' })).toContainText(`${PERSON} — ${VALID_COUNT} pairs (${TRAIN_COUNT} train, ${TEST_COUNT} test`);
      // Render every pair, payloads included, and try the link a payload planted.
      await page.getByText(`${PERSON}'s pairs (${VALID_COUNT})`).click();
      for (const summary of await page.locator('.pair-list li > details > summary').all()) await summary.click();
      const plantedLink = page.locator('.pair-list a', { hasText: 'click me' });
      await plantedLink.click();
      await expect(page.locator('.pair-list script, .pair-list img, .pair-list svg, .pair-list [onerror]')).toHaveCount(0);
      await expect(plantedLink).not.toHaveAttribute('href', /.*/);
      expect(await pwnedHits(page)).toEqual([]);
      await screenshot('pairs-validated');
    });

    await step('infer a persona (G.5) and keep it as a version', async () => {
      await page.getByRole('spinbutton', { name: 'Shots' }).fill('2');
      await page.getByRole('spinbutton', { name: 'Shots' }).blur();
      await page.locator('#infer-tokens').fill('16');
      await page.locator('#infer-tokens').blur();
      await page.getByRole('button', { name: 'Infer persona' }).click();
      const versions = page.getByRole('combobox', { name: 'Persona version' });
      await expect(versions).toContainText('inferred by Tiny test Llama', { timeout: 120_000 });
      await expect(versions).toContainText('from 2 shots, seed 0, with y_l');
      await expect(page.getByRole('textbox', { name: 'Persona', exact: true })).not.toHaveValue('');
      await screenshot('persona-inferred');
    });

    await step('compare unprefixed and persona-prefixed generations', async () => {
      await page.getByRole('radio', { name: 'Persona', exact: true }).check();
      await page.getByRole('textbox', { name: 'Question', exact: true }).fill('What should I cook tonight? <img src=x onerror="window.__pwned=\'question\'">');
      await setNumber(page.locator('#gen-tokens'), 6);
      longest.generate = await measure(page, async () => {
        await page.getByRole('button', { name: 'Generate', exact: true }).click();
        await expect(side(page, 'Unprefixed')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
        await expect(side(page, 'Prefixed: Persona')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
      });
      const persona = await page.getByRole('textbox', { name: 'Persona', exact: true }).inputValue();
      for (const name of ['Unprefixed', 'Prefixed: Persona']) {
        await side(page, name).getByText('Full prompt').click();
        await expect(side(page, name).locator('pre.prompt')).toContainText('<|user|>');
      }
      await expect(side(page, 'Prefixed: Persona').locator('pre.prompt')).toContainText(persona.slice(0, 20));
      await expect(side(page, 'Unprefixed').locator('pre.prompt')).not.toContainText(persona.slice(0, 20));
      await screenshot('compared');
    });

    await step('stop a generation', async () => {
      await setNumber(page.locator('#gen-tokens'), walk.stopTokens);
      await page.getByRole('button', { name: 'Generate', exact: true }).click();
      await expect(side(page, 'Unprefixed')).toHaveAttribute('data-status', 'streaming', { timeout: 60_000 });
      await expect(side(page, 'Unprefixed').locator('.output')).not.toBeEmpty({ timeout: 60_000 });
      const stopAt = Date.now();
      await page.getByRole('button', { name: 'Stop', exact: true }).click();
      await expect(side(page, 'Unprefixed')).toHaveAttribute('data-status', /^(stopping|stopped)$/, { timeout: 1000 });
      await expect(side(page, 'Unprefixed')).toHaveAttribute('data-status', 'stopped', { timeout: 60_000 });
      const stopMs = Date.now() - stopAt;
      testInfo.annotations.push({ type: `stop latency (${walk.device})`, description: `${stopMs} ms from Stop to the engine's answer` });
      timings.push(`stop latency: ${stopMs} ms`);
      // The second side never starts once Stop was pressed.
      await expect(side(page, 'Prefixed: Persona')).toHaveAttribute('data-status', 'stopped');
      await expect(side(page, 'Prefixed: Persona').locator('.output')).toContainText('Stopped before any text');
      await expect(page.getByRole('button', { name: 'Generate', exact: true })).toBeEnabled();
      await screenshot('stopped');
    });

    await step('score the test pairs with and without the persona', async () => {
      await chooseKinds(page, ['None', 'Persona']);
      longest.score = await measure(page, async () => {
        await page.getByRole('button', { name: 'Score pairs' }).click();
        await expectRunComplete(page, TEST_COUNT * 2);
      });
      await expect(page.getByRole('img', { name: /Accuracy by prefix and question type/ })).toBeVisible();
      await screenshot('scored');
    });

    await step('edit the persona, score again and compare with the previous run', async () => {
      const personaBox = page.getByRole('textbox', { name: 'Persona', exact: true });
      await personaBox.fill(`${await personaBox.inputValue()}\nPrefers short, practical answers.`);
      await page.getByRole('button', { name: 'Score pairs' }).click();
      await expectRunComplete(page, TEST_COUNT * 2);
      const table = page.getByRole('table', { name: 'Accuracy against the previous run' });
      await expect(table).toContainText('→');
      await expect(table).toContainText('pts');
      await expect(page.getByText(/changed: persona v1 → v2/)).toBeVisible();
      await expect(page.getByRole('combobox', { name: 'Persona version' })).toContainText('v2 · edited by hand');
      await page.getByRole('button', { name: /Show tokens for .* Persona prefix/ }).first().click();
      await expect(page.locator('.token-view .spans')).toHaveCount(2, { timeout: 60_000 });
      await expect(page.locator('.token-view')).toContainText('Preferred (y_w): score');
      await page.getByRole('radio', { name: /change vs no prefix/ }).check();
      await screenshot('rescored-with-tokens');
    });

    const exports: Record<string, string> = {};
    await step('export the pairs as JSON, JSON Lines and CSV', async () => {
      for (const format of ['json', 'jsonl', 'csv'] as const) {
        await page.getByRole('combobox', { name: 'Export format' }).selectOption(format);
        const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export', exact: true }).click()]);
        const path = testInfo.outputPath(`export.${format}`);
        await download.saveAs(path);
        exports[format] = path;
      }
      const document = JSON.parse(await readFile(exports.json as string, 'utf8')) as { pairs: unknown[]; personas: { name: string; prefixes: Record<string, string> }[] };
      expect(document.pairs).toHaveLength(VALID_COUNT);
      expect(document.personas[0]?.name).toBe(PERSON);
      expect(document.personas[0]?.prefixes.persona).toContain('Prefers short, practical answers.');
    });

    await step('a stored generation full of payloads is shown without running any', async () => {
      await putRecord(page, 'generations', hostileGeneration());
    });

    await step('reload in the middle of a run', async () => {
      if (walk.resume.demo) {
        await page.getByRole('button', { name: 'Load demo pairs' }).click();
        await expect(page.getByTestId('pairs-summary')).toContainText('40 valid pairs');
      }
      await chooseKinds(page, walk.resume.kinds);
      await page.getByRole('button', { name: 'Score pairs' }).click();
      await expect(page.getByTestId('score-progress')).toContainText(/^[1-9]\d* of /, { timeout: 120_000 });
      await page.reload();
      await expect(page.getByRole('button', { name: 'Resume run' })).toBeVisible();
      await expect(page.getByRole('status').filter({ hasText: 'was interrupted' })).toContainText(/with [1-9]\d* of \d+ results saved/);
      await expect(page.getByRole('button', { name: 'Resume run' })).toBeDisabled();
      await screenshot('interrupted');
    });

    await step('resume the interrupted run', async () => {
      await expect(page.getByRole('combobox', { name: 'Model', exact: true })).toHaveValue(MODEL_ID);
      await expect(page.getByRole('combobox', { name: 'Device' })).toHaveValue(walk.device);
      await page.getByRole('button', { name: 'Load model', exact: true }).click();
      await expectModelReady(page, walk.device);
      await page.getByRole('button', { name: 'Resume run' }).click();
      await expectRunComplete(page, walk.resume.expected);
      await expect(page.getByRole('button', { name: 'Resume run' })).toHaveCount(0);
      await screenshot('resumed');
    });

    await step('after the reload everything is still there', async () => {
      if (walk.resume.demo) {
        const sets = page.getByRole('combobox', { name: 'Pair set' });
        await sets.selectOption({ label: 'Pasted pairs' });
      }
      await expect(page.getByRole('textbox', { name: 'Preferences', exact: true })).toHaveValue(pastedText());
      await expect(page.getByRole('alert', { name: 'Problems in the pasted pairs' })).toContainText(`line ${malformedLine(0)}`);
      await expect(page.getByRole('textbox', { name: 'Persona', exact: true })).toHaveValue(/Prefers short, practical answers\./);
      await expect(page.getByRole('combobox', { name: 'Persona version' }).locator('option')).toHaveCount(2);
      const runs = page.getByRole('combobox', { name: 'Run' });
      await expect(runs.locator('option')).toHaveCount(walk.resume.demo ? 2 : 3);
      await expect(page.getByTestId('results-table').locator('tr[data-state="pending"]')).toHaveCount(0);
      await expect(page.getByRole('combobox', { name: 'Earlier comparisons' }).locator('option')).toHaveCount(3);
      await screenshot('after-reload');
    });

    await step('generated text with payloads renders inert', async () => {
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
      expect(await pwnedHits(page)).toEqual([]);
      await screenshot('hostile-generation');
    });

    await step('re-import the exports', async () => {
      for (const format of ['json', 'jsonl', 'csv'] as const) {
        await page.getByLabel('Import pairs from a file').setInputFiles(exports[format] as string);
        await expect(page.getByTestId('pairs-summary')).toContainText(`${VALID_COUNT} valid pairs (${format.toUpperCase()})`);
        await expect(page.getByTestId('pairs-summary')).not.toContainText('problem');
      }
      await page.getByLabel('Import pairs from a file').setInputFiles(exports.json as string);
      await expect(page.getByRole('textbox', { name: 'Persona', exact: true })).toHaveValue(/Prefers short, practical answers\./);
      await expect(page.getByRole('combobox', { name: 'Persona version' })).toContainText('imported from');
      await screenshot('reimported');
    });

    await step('privacy, security and responsiveness', async () => {
      expect(await pwnedHits(page)).toEqual([]);
      expect(dialogs).toEqual([]);
      expect(pageErrors).toEqual([]);
      expect(foreignRequests(requests, origin)).toEqual([]);
      expect(violations, 'Content-Security-Policy violations').toEqual([]);
      const report = Object.entries(longest)
        .map(([phase, ms]) => `${phase}: ${ms < 0 ? 'not measured' : ms === 0 ? 'none over 50 ms' : `${Math.round(ms)} ms`}`)
        .join(', ');
      testInfo.annotations.push({ type: `longest main-thread task (${walk.device})`, description: report });
      console.log(`[${walk.device}] longest main-thread task per phase: ${report}; requests: ${requests.length}, all to ${origin}`);
      console.log(`[${walk.device}] step times: ${timings.join('; ')}`);
      for (const [phase, ms] of Object.entries(longest)) expect(ms, `longest task while ${phase}`).toBeLessThan(GROSS_LONG_TASK_MS);
    });
  });
}

async function measure(page: Page, work: () => Promise<void>): Promise<number> {
  const phase = await startPhase(page);
  await work();
  return phase.end();
}

async function expectModelReady(page: Page, device: string): Promise<void> {
  const status = page.getByTestId('model-status');
  await expect(status).toHaveAttribute('data-status', 'ready', { timeout: 120_000 });
  await expect(status).toContainText(`on ${device.toUpperCase()}`);
}

function side(page: Page, name: string): Locator {
  return page.getByRole('article', { name, exact: true });
}

async function setNumber(input: Locator, value: number): Promise<void> {
  await input.fill(String(value));
  await input.blur();
}

async function chooseKinds(page: Page, kinds: readonly string[]): Promise<void> {
  for (const label of ['None', 'Tag', 'Few-shot', 'Persona', 'Name', 'Gold persona', 'Custom']) {
    const box = page.getByRole('checkbox', { name: label, exact: true });
    if (kinds.includes(label)) await box.check();
    else if (await box.isChecked()) await box.uncheck();
  }
}

async function expectRunComplete(page: Page, expected: number): Promise<void> {
  const rows = page.getByTestId('results-table').locator('tbody tr');
  await expect(rows).toHaveCount(expected, { timeout: 120_000 });
  await expect(page.getByTestId('results-table').locator('tr[data-state="pending"]')).toHaveCount(0, { timeout: 180_000 });
  await expect(page.getByTestId('results-table').locator('tr[data-state="failed"]')).toHaveCount(0);
  // The run winds down after its last row (the worker call returns, the status is saved): on a loaded
  // machine with SwiftShader that can take longer than the default wait.
  await expect(page.getByTestId('score-progress')).toHaveCount(0, { timeout: 60_000 });
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
