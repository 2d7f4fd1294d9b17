/**
 * Dataset fingerprints: a resumed run compares the fingerprint of the pairs it is given with the
 * one recorded when the run started, and refuses to mix rows scored on different data.
 */
import { hash64Hex, lengthPrefixed } from '../hash.ts';

/** 16 hex digits identifying `parts` (length-prefixed, so no two different lists collide by joining). */
export function fingerprint(parts: readonly string[]): string {
  return hash64Hex(lengthPrefixed(parts));
}
