import { expect, test } from '@playwright/test';

test('the page loads, says what it is and makes no request off its origin', async ({ page, baseURL }) => {
  const foreign: string[] = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(baseURL ?? '')) foreign.push(request.url());
  });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto('./');
  await expect(page.getByRole('heading', { level: 1, name: 'WikiPersona Playground' })).toBeVisible();
  await expect(page.getByText('Nothing you paste leaves this page.')).toBeVisible();
  expect(errors).toEqual([]);
  expect(foreign).toEqual([]);
});
