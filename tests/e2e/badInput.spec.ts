/**
 * Bad input pasted into the page (issue 15), answered for what it is: an HTML page, JSON nested far
 * too deep (a stack overflow before), a one-line JSON array whose records reuse an id for different
 * content (every record was "line 1", and the page keyed its duplicate list by line), null fields.
 * The page stays usable: no uncaught error, nothing sent anywhere.
 */
import { expect, test, type Page } from '@playwright/test';
import { expectPageClean, installProbes, watchPage, type PageWatch } from './support/pageProbes.ts';

const pair = (id: string, prompt: string) => ({ id, person: 'Ada', prompt, chosen: 'yes', rejected: 'no', split: 'test' });

async function paste(page: Page, text: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Preferences', exact: true }).fill(text);
}

test.describe('bad input on the page', () => {
  let watch: PageWatch;

  test.beforeEach(async ({ page, context }) => {
    await installProbes(context);
    watch = await watchPage(context, page);
    await page.goto('./');
    await expect(page.getByTestId('pairs-summary')).toContainText('No pairs yet');
  });

  test.afterEach(async ({ page, baseURL }) => {
    await expectPageClean(page, watch, new URL(baseURL as string).origin);
  });

  test('an HTML page is named as one', async ({ page }) => {
    await paste(page, '<!doctype html>\n<html><body><table><tr><td>question</td></tr></table></body></html>');
    await expect(page.getByTestId('pairs-unreadable')).toHaveText(
      'Nothing here could be read as pairs: this looks like an HTML page, not JSON, JSON Lines or CSV (a saved web page that shows the pairs, rather than the pairs themselves?).',
    );
    await expect(page.getByTestId('pairs-summary')).toContainText('0 valid pairs');
  });

  test('JSON nested 20,000 levels deep is refused in words, and the page goes on', async ({ page }) => {
    await paste(page, `${'['.repeat(20_000)}${']'.repeat(20_000)}`);
    await expect(page.getByTestId('pairs-unreadable')).toContainText('nest');
    await paste(page, JSON.stringify([pair('a', 'Tea?')]));
    await expect(page.getByTestId('pairs-summary')).toContainText('1 valid pair');
    await expect(page.getByTestId('pairs-unreadable')).toHaveCount(0);
  });

  test('records of a one-line array that reuse an id for different content are listed by record, kept first', async ({ page }) => {
    await paste(page, JSON.stringify([pair('a', 'Tea?'), pair('a', 'Coffee?'), pair('b', 'Milk?'), pair('b', 'Milk?')]));
    const summary = page.getByTestId('pairs-summary');
    await expect(summary).toContainText('2 valid pairs');
    await expect(summary).toContainText('2 duplicates dropped');
    await expect(page.getByRole('alert', { name: 'Records that reuse an id' })).toContainText(
      'record 2 (line 1) has the id "a" of record 1 (line 1) but a different prompt: kept record 1 (line 1), dropped this one (give it its own id to keep both)',
    );
    await page.getByText('Exact repeats dropped').click();
    await expect(page.getByText('record 4 (line 1) repeats record 3 (line 1)')).toBeVisible();
  });

  test('a record with null fields is one invalid row, named by its record', async ({ page }) => {
    await paste(page, JSON.stringify([pair('a', 'Tea?'), { id: 'n', person: 'Ada', prompt: null, chosen: null, rejected: null }]));
    await expect(page.getByTestId('pairs-summary')).toContainText('1 valid pair');
    const issues = page.getByRole('alert', { name: 'Problems in the pasted pairs' });
    await expect(issues).toContainText('record 2 (line 1)');
  });
});
