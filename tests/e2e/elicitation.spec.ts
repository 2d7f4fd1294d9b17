/**
 * The Elicitation section end to end (issue 13): the release build, the real model worker and the
 * generated tiny Llama, once on WebGPU (SwiftShader) and once on WASM. Questions from a pasted
 * list, two sampled answers each, answered by keyboard only (n, 1, 2, s) in the Active and the
 * Random track; after every 2 answers the persona is inferred again and scored on the test pairs.
 * A reload finds the annotated pairs, the persona versions and the curve, read back from
 * IndexedDB. After every test the page is clean (no payload ran, no foreign request, no CSP
 * violation: support/pageProbes.ts).
 *
 * The tiny model's weights are random, so its answers are noise; what is checked is what the
 * page does with them. SwiftShader compiles shaders per tensor shape, so answers stay short.
 */
import { expect, test, type Page } from '@playwright/test';
import { AnnotatedChoice, ElicitationCheckpoint } from '../../src/app/storage/elicitationRecords.ts';
import { readRecords, shareWatchedPage } from './support/pageProbes.ts';
import { PERSON, TEST_COUNT } from './support/pairsFixture.ts';
import { ensureModel, ensurePairs, reload, setNumber } from './support/pageSteps.ts';

const QUESTIONS = ['What should I cook tonight?', 'Which city should I visit next spring?', 'How do I keep a houseplant alive?', 'Tea or coffee in the morning?', 'What is a good first board game?', 'Should I learn piano or guitar?'];
const DEVICES = ['webgpu', 'wasm'] as const;

for (const device of DEVICES) {
  test.describe(`elicitation on ${device}`, () => {
    test.describe.configure({ mode: 'serial' });

    let page: Page;
    shareWatchedPage((opened) => (page = opened));

    // SwiftShader compiles a shader for every new tensor shape: the model steps take minutes there.
    test.slow(device === 'webgpu', 'WebGPU runs on SwiftShader');

    const section = () => page.getByRole('region', { name: 'Elicitation', exact: true });
    const shot = (name: string) => page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });

    /** Leaves every field, so the section's keys apply. */
    async function leaveFields(): Promise<void> {
      await page.evaluate(() => (document.activeElement instanceof HTMLElement ? document.activeElement.blur() : undefined));
    }

    /** n, then the pick key once both answers are written; returns the reason shown. */
    async function answerByKey(pickKey: '1' | '2' | 's'): Promise<string> {
      await leaveFields();
      await page.keyboard.press('n');
      const preferA = section().getByRole('button', { name: 'Prefer A' });
      await expect(preferA).toBeEnabled({ timeout: 120_000 });
      const reason = (await section().getByTestId('elicitation-reason').textContent()) ?? '';
      await page.keyboard.press(pickKey);
      await expect(section().getByText(pickKey === 's' ? 'Skipped: saved.' : `You preferred ${pickKey === '1' ? 'A' : 'B'}: saved.`)).toBeVisible();
      // A pick that completes k answers starts the persona's re-inference; wait for the model.
      await expect(section().getByRole('button', { name: 'Next question' })).toBeEnabled({ timeout: 180_000 });
      return reason;
    }

    test('sets up: the tiny model, the pairs, pasted questions, short answers, k = 2', async () => {
      await ensureModel(page, device);
      await ensurePairs(page);
      // Persona inference (G.5) kept short: SwiftShader compiles every new shape.
      await setNumber(page.locator('#infer-tokens'), 16);
      await expect(section()).toBeVisible();
      await section().getByRole('radio', { name: 'A list I paste' }).check();
      await section().getByRole('textbox', { name: 'Questions, one a line' }).fill(QUESTIONS.join('\n'));
      await section().getByRole('radio', { name: 'Two samples' }).check();
      await setNumber(section().locator('#elicitation-tokens'), 4);
      await setNumber(section().locator('#elicitation-candidates'), 2);
      await setNumber(section().locator('#elicitation-every'), 2);
      await expect(section().getByTestId('elicitation-question-count')).toHaveText(`${QUESTIONS.length} questions, ${QUESTIONS.length} not yet asked in the Active track.`);
    });

    test('Active: answers two questions by keyboard, says why it asked each, then infers and measures a persona', async () => {
      await section().getByRole('radio', { name: 'Active', exact: true }).check();
      const first = await answerByKey('1');
      expect(first).toMatch(/^Why this question \(Active\): The model can't tell which answer you'd prefer: margin -?\d+\.\d+\. \(2 of 6 questions scored\)$/);
      await answerByKey('2');
      const versions = section().getByTestId('elicitation-versions');
      await expect(versions.locator('li')).toHaveCount(1);
      await expect(versions).toContainText(`Active · after 2 answers · `);
      await expect(versions).toContainText(`of the test pairs`);
      await expect(section().getByTestId('elicitation-curve').locator('g[data-strategy="active"] circle')).toHaveCount(2);
      await shot('active');
    });

    test('Random: answers, skips and answers by keyboard; a skip does not count towards k', async () => {
      await section().getByRole('radio', { name: 'Random', exact: true }).check();
      const reason = await answerByKey('1');
      expect(reason).toBe('Why this question (Random): Drawn at random from 6 questions.');
      await answerByKey('s');
      await expect(section().getByTestId('elicitation-versions').locator('li')).toHaveCount(1);
      await answerByKey('2');
      await expect(section().getByTestId('elicitation-versions').locator('li')).toHaveCount(2);
      await expect(section().getByTestId('elicitation-curve').locator('g[data-strategy="random"] circle')).toHaveCount(2);
      await shot('random');
    });

    test('after a reload: the annotated pairs, the persona versions and the curve are there, as stored', async () => {
      await reload(page);
      const rows = section().getByTestId('elicitation-annotations').locator('tbody tr');
      await expect(rows).toHaveCount(5);
      const shown = await rows.evaluateAll((cells) => cells.map((row) => [row.querySelector('td')?.textContent, row.getAttribute('data-pick')]));
      expect(shown).toEqual([
        ['Active', 'A'],
        ['Active', 'B'],
        ['Random', 'A'],
        ['Random', 'skip'],
        ['Random', 'B'],
      ]);
      await expect(section().getByTestId('elicitation-versions').locator('li')).toHaveCount(2);
      const curve = section().getByRole('img', { name: /Test accuracy against answered questions/ });
      await expect(curve).toBeVisible();
      await expect(curve.locator('g[data-strategy] circle')).toHaveCount(4);

      const byTime = <T extends { createdAt: number }>(records: T[]) => records.sort((a, b) => a.createdAt - b.createdAt);
      const choices = byTime((await readRecords(page, 'annotations')).map((record) => AnnotatedChoice.parse(record)));
      expect(choices.map((choice) => [choice.strategy, choice.pick])).toEqual([
        ['active', 'A'],
        ['active', 'B'],
        ['random', 'A'],
        ['random', 'skip'],
        ['random', 'B'],
      ]);
      for (const choice of choices) {
        expect(choice).toMatchObject({ person: PERSON, mode: 'samples', question: { source: 'pasted' }, model: { id: 'tiny-llama-random', device } });
        expect(QUESTIONS).toContain(choice.question.text);
        for (const answer of choice.answers) expect(answer.prompt).toContain(`<|user|>\n${choice.question.text}`);
      }
      const checkpoints = byTime((await readRecords(page, 'elicitationCheckpoints')).map((record) => ElicitationCheckpoint.parse(record)));
      expect(checkpoints.map((checkpoint) => [checkpoint.strategy, checkpoint.answered, checkpoint.scored])).toEqual([
        ['active', 0, TEST_COUNT],
        ['active', 2, TEST_COUNT],
        ['random', 0, TEST_COUNT],
        ['random', 2, TEST_COUNT],
      ]);
      await shot('reloaded');

      // A phone: the section's table and curve scroll in their own boxes; the page never scrolls sideways.
      await page.setViewportSize({ width: 390, height: 844 });
      await section().scrollIntoViewIfNeeded();
      await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await page.setViewportSize({ width: 1280, height: 720 });
    });
  });
}
