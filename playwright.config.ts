/**
 * Playwright in real Chromium, hermetic: pages are served by `vite preview` on 127.0.0.1.
 * The browser is the one scripts/lib/chromium.ts picks: CHROMIUM_PATH, the system's Chromium or
 * Chrome (Debian's /usr/bin/chromium here), else Playwright's own.
 * WebGPU runs through SwiftShader on a localhost page with --enable-unsafe-webgpu.
 *
 * Two servers: the release build (the page as users get it) on RELEASE_PORT, and the test build
 * (PLAYGROUND_TEST_BUILD=1: the worker harness page, the tiny model under models/, the test-only
 * crash request) on TEST_BUILD_PORT, built into .cache/e2e-dist so it can never be mistaken for a
 * release in dist/. Both ports are this checkout's own (tests/e2e/testBuild.ts).
 */
import { chromium, defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, chromiumExecutablePath } from './scripts/lib/chromium.ts';
import { HARNESS_PATH, RELEASE_PORT as PORT, TEST_BUILD_DIR, TEST_BUILD_PORT, TEST_BUILD_URL } from './tests/e2e/testBuild.ts';

const executablePath = chromiumExecutablePath(chromium);

export default defineConfig({
  testDir: 'tests/e2e',
  outputDir: 'test-results',
  // Generates the tiny model fixture the Node-side checks load (the test build makes sure of it too,
  // because Playwright starts web servers before global setup).
  globalSetup: './tests/e2e/globalSetup.ts',
  timeout: 180_000,
  workers: 1,
  reporter: process.env.CI ? [['list']] : [['list'], ['html', { open: 'never' }]],
  use: {
    baseURL: `http://127.0.0.1:${PORT}/`,
    screenshot: 'only-on-failure',
    launchOptions: {
      ...(executablePath ? { executablePath } : {}),
      args: [...CHROMIUM_ARGS],
    },
  },
  webServer: [
    {
      command: `npm run build && npx vite preview --host 127.0.0.1 --port ${PORT} --strictPort`,
      url: `http://127.0.0.1:${PORT}/`,
      reuseExistingServer: !process.env.CI,
      timeout: 180_000,
    },
    {
      command: `npx vite build --outDir ${TEST_BUILD_DIR} --emptyOutDir && npx vite preview --outDir ${TEST_BUILD_DIR} --host 127.0.0.1 --port ${TEST_BUILD_PORT} --strictPort`,
      env: { PLAYGROUND_TEST_BUILD: '1' },
      url: `${TEST_BUILD_URL}${HARNESS_PATH}`,
      reuseExistingServer: !process.env.CI,
      timeout: 300_000,
    },
  ],
});
