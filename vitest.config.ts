import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (the core, engines, CLI and worker protocol, in Node) and `page` (the page's
 * rune state classes and IndexedDB layer, tests/unit/app/). `page` compiles `*.svelte.ts` with the
 * Svelte plugin and resolves Svelte's browser build, so runes behave as in the page; it runs in
 * Node with an in-memory IndexedDB (fake-indexeddb, see tests/support/pageRig.ts).
 */
const PAGE_TESTS = 'tests/unit/app/**/*.test.ts';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts'],
          exclude: [PAGE_TESTS],
          globalSetup: ['tests/support/globalSetup.ts'],
        },
      },
      {
        extends: true,
        plugins: [svelte()],
        resolve: { conditions: ['browser'] },
        test: {
          name: 'page',
          include: [PAGE_TESTS],
          environment: 'node',
        },
      },
    ],
  },
});
