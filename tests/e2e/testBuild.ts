/** Where playwright.config.ts serves the test build (PLAYGROUND_TEST_BUILD=1), shared with the specs. */
export const TEST_BUILD_PORT = 4174;
export const TEST_BUILD_DIR = '.cache/e2e-dist';
export const TEST_BUILD_URL = `http://127.0.0.1:${TEST_BUILD_PORT}/`;
export const HARNESS_PATH = 'tests/e2e/harness/worker.html';
