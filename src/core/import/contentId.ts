/**
 * Content identity of a pair: the exact key that spots duplicates, and a short stable id derived from it for
 * records that bring none. Both cover the persona, because two people may well agree on the same pair.
 */
import { hash64Hex, lengthPrefixed } from '../hash.ts';
import type { PreferencePair } from '../schema.ts';

type PairContent = Pick<PreferencePair, 'persona' | 'prompt' | 'chosen' | 'rejected'>;

/** Length-prefixed, so no two different pairs share a key whatever characters their texts hold. */
export function contentKey(pair: PairContent): string {
  return lengthPrefixed([pair.persona ?? '', pair.prompt, pair.chosen, pair.rejected]);
}

/** 16 hex digits (src/core/hash.ts) of the content key: the page, the worker and Node derive the same id. */
export function contentId(pair: PairContent): string {
  return hash64Hex(contentKey(pair));
}
