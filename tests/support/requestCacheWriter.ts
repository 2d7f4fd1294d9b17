/**
 * Child process for the request-cache crash test: writes rows with large, index-derived responses
 * as fast as it can and prints "wrote <i>" after each put returns (i.e. after the row is
 * committed), until killed or `maxRows` is reached. Usage: requestCacheWriter.ts <db> <maxRows>.
 */
import { pathToFileURL } from 'node:url';
import { openRequestCache } from '../../scripts/lib/requestCache.ts';

/** The response stored for row i: big enough that a write takes a while, checkable after a crash. */
export function writerResponse(index: number): { index: number; payload: string } {
  return { index, payload: `row-${index}-`.repeat(20_000) };
}

export const WRITER_PROVIDER = 'crash-test';

// Runs only as the entry script; the test imports this module for the helpers above.
const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
const [dbPath, maxRowsText] = process.argv.slice(2);
if (isEntry && dbPath && maxRowsText) {
  const cache = openRequestCache(dbPath);
  const maxRows = Number(maxRowsText);
  for (let index = 0; index < maxRows; index++) {
    cache.put(WRITER_PROVIDER, { index }, writerResponse(index));
    process.stdout.write(`wrote ${index}\n`);
  }
  cache.close();
}
