/**
 * The browser tests' ports (tests/e2e/testBuild.ts): every checkout hash gives a release port and
 * a test-build port Chromium will load. A checkout whose hash gave 5060/5061 (SIP) failed every
 * page test with net::ERR_UNSAFE_PORT.
 */
import { describe, expect, it } from 'vitest';
import { releasePortFor } from '../e2e/testBuild.ts';

describe('browser test ports', () => {
  it('skips the ports Chromium refuses, for every checkout hash (the port depends on hash % 400)', () => {
    const refused = [5060, 5061];
    expect(releasePortFor(380)).toBe(5062);
    for (let hash = 0; hash < 400; hash++) {
      const port = releasePortFor(hash);
      expect(refused.includes(port) || refused.includes(port + 1), `hash ${hash}: ${port}`).toBe(false);
      expect(port % 2).toBe(0);
    }
  });
});
