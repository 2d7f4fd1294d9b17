/**
 * Playwright in real Chromium, hermetic: the page is served by `vite preview` on 127.0.0.1.
 * Debian's chromium (/usr/bin/chromium, or CHROMIUM_PATH) is used where present, since these
 * machines cannot download Playwright's browser; elsewhere Playwright's own browser is used.
 * WebGPU runs through SwiftShader on a localhost page with --enable-unsafe-webgpu.
 */
import { existsSync } from 'node:fs';
import { defineConfig } from '@playwright/test';

const PORT = 4173;
const systemChromium = [process.env.CHROMIUM_PATH, '/usr/bin/chromium'].find((path) => path && existsSync(path));

export default defineConfig({
  testDir: 'tests/e2e',
  outputDir: 'test-results',
  timeout: 180_000,
  workers: 1,
  reporter: process.env.CI ? [['list']] : [['list'], ['html', { open: 'never' }]],
  use: {
    baseURL: `http://127.0.0.1:${PORT}/`,
    screenshot: 'only-on-failure',
    launchOptions: {
      ...(systemChromium ? { executablePath: systemChromium } : {}),
      args: [
        '--no-sandbox',
        '--headless=new',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--enable-unsafe-webgpu',
      ],
    },
  },
  webServer: {
    command: `npm run build && npx vite preview --host 127.0.0.1 --port ${PORT} --strictPort`,
    url: `http://127.0.0.1:${PORT}/`,
    reuseExistingServer: !process.env.CI,
    timeout: 180_000,
  },
});
