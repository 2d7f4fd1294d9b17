/**
 * Where playwright.config.ts serves the release build and the test build (PLAYGROUND_TEST_BUILD=1),
 * shared with the specs. The ports come from PLAYWRIGHT_PORT when set, else from this checkout's
 * path: two checkouts on one machine then never share a server, and Playwright's
 * `reuseExistingServer` can only ever reuse this checkout's own build.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const checkout = fileURLToPath(new URL('../..', import.meta.url));
const fromPath = 4300 + (createHash('sha256').update(checkout).digest().readUInt16BE(0) % 400) * 2;

export const RELEASE_PORT = Number(process.env.PLAYWRIGHT_PORT) || fromPath;
export const TEST_BUILD_PORT = RELEASE_PORT + 1;
export const TEST_BUILD_DIR = '.cache/e2e-dist';
export const TEST_BUILD_URL = `http://127.0.0.1:${TEST_BUILD_PORT}/`;
export const HARNESS_PATH = 'tests/e2e/harness/worker.html';
