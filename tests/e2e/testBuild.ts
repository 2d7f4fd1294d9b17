/**
 * Where playwright.config.ts serves the release build and the test build (PLAYGROUND_TEST_BUILD=1),
 * shared with the specs. The ports come from PLAYWRIGHT_PORT when set, else from this checkout's
 * path: two checkouts on one machine then never share a server, and Playwright's
 * `reuseExistingServer` can only ever reuse this checkout's own build.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

/**
 * Ports Chromium refuses to load pages from (net::ERR_UNSAFE_PORT; net/base/port_util.cc), those
 * at or above the range used here.
 */
const CHROMIUM_RESTRICTED_PORTS = new Set([4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080]);

/** The release build's port for a checkout hash: an even port in 4300–5098 whose pair Chromium accepts. */
export function releasePortFor(hash: number): number {
  let port = 4300 + (hash % 400) * 2;
  while (CHROMIUM_RESTRICTED_PORTS.has(port) || CHROMIUM_RESTRICTED_PORTS.has(port + 1)) port += 2;
  return port;
}

const checkout = fileURLToPath(new URL('../..', import.meta.url));
const fromPath = releasePortFor(createHash('sha256').update(checkout).digest().readUInt16BE(0));

export const RELEASE_PORT = Number(process.env.PLAYWRIGHT_PORT) || fromPath;
export const TEST_BUILD_PORT = RELEASE_PORT + 1;
export const TEST_BUILD_DIR = '.cache/e2e-dist';
export const TEST_BUILD_URL = `http://127.0.0.1:${TEST_BUILD_PORT}/`;
export const HARNESS_PATH = 'tests/e2e/harness/worker.html';
export const STAND_IN_PAGE_PATH = 'tests/e2e/harness/standin.html';
