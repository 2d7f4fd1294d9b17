/**
 * Stable string hashing for ids and fingerprints: the page, the worker and Node must derive the same
 * value, so it works on UTF-16 code units with Math.imul only (no crypto, no platform API).
 */

/** Length-prefixed join: no two different lists give the same text, whatever characters they hold. */
export function lengthPrefixed(parts: readonly string[]): string {
  return parts.map((part) => `${part.length}:${part}`).join('');
}

/** 16 hex digits of cyrb53's two-lane 32-bit multiplicative mixing over `text`'s UTF-16 code units. */
export function hash64Hex(text: string): string {
  let lane1 = 0xdeadbeef;
  let lane2 = 0x41c6ce57;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    lane1 = Math.imul(lane1 ^ code, 2654435761);
    lane2 = Math.imul(lane2 ^ code, 1597334677);
  }
  lane1 = Math.imul(lane1 ^ (lane1 >>> 16), 2246822507) ^ Math.imul(lane2 ^ (lane2 >>> 13), 3266489909);
  lane2 = Math.imul(lane2 ^ (lane2 >>> 16), 2246822507) ^ Math.imul(lane1 ^ (lane1 >>> 13), 3266489909);
  return [lane2 >>> 0, lane1 >>> 0].map((lane) => lane.toString(16).padStart(8, '0')).join('');
}
