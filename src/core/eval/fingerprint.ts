/**
 * Dataset fingerprints: a resumed run compares the fingerprint of the pairs it is given with the
 * one recorded when the run started, and refuses to mix rows scored on different data.
 */

/** 16 hex digits identifying `parts` (length-prefixed, so no two different lists collide by joining). */
export function fingerprint(parts: readonly string[]): string {
  const text = parts.map((part) => `${part.length}:${part}`).join('');
  // cyrb53's two-lane multiplicative mixing over UTF-16 code units: the same value in every runtime.
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
