/**
 * Content identity of a pair: the exact key that spots duplicates, and a short stable id derived from it for
 * records that bring none. Both cover the persona, because two people may well agree on the same pair.
 */
import type { PreferencePair } from '../schema.ts';

type PairContent = Pick<PreferencePair, 'persona' | 'prompt' | 'chosen' | 'rejected'>;

/** Length-prefixed, so no two different pairs share a key whatever characters their texts hold. */
export function contentKey(pair: PairContent): string {
  return [pair.persona ?? '', pair.prompt, pair.chosen, pair.rejected].map((text) => `${text.length}:${text}`).join('');
}

/**
 * 16 hex digits of a two-lane 32-bit multiplicative hash (cyrb53's mixing) of the content key. It works on UTF-16
 * code units with Math.imul only, so the page, the worker and Node derive the same id.
 */
export function contentId(pair: PairContent): string {
  const key = contentKey(pair);
  let lane1 = 0xdeadbeef;
  let lane2 = 0x41c6ce57;
  for (let index = 0; index < key.length; index++) {
    const code = key.charCodeAt(index);
    lane1 = Math.imul(lane1 ^ code, 2654435761);
    lane2 = Math.imul(lane2 ^ code, 1597334677);
  }
  lane1 = Math.imul(lane1 ^ (lane1 >>> 16), 2246822507) ^ Math.imul(lane2 ^ (lane2 >>> 13), 3266489909);
  lane2 = Math.imul(lane2 ^ (lane2 >>> 16), 2246822507) ^ Math.imul(lane1 ^ (lane1 >>> 13), 3266489909);
  return [lane2, lane1].map((lane) => (lane >>> 0).toString(16).padStart(8, '0')).join('');
}
