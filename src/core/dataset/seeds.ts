/**
 * Seeds derived from the build seed and a name for each random choice ("judge-order", row id, match),
 * so every choice is reproducible on its own: the result of one item never depends on how many
 * others were processed before it, in which order, or whether the run was interrupted and resumed.
 * That independence is what makes a resumed build identical to an uninterrupted one.
 */
import { createRng, type Rng } from '../random.ts';

/** 32-bit FNV-1a over the UTF-16 units of `text`, then a murmur3 finaliser to spread the bits. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A non-negative 31-bit seed for (`seed`, ...`parts`): valid for createRng and for an API's `seed` field. */
export function deriveSeed(seed: number, ...parts: readonly (string | number)[]): number {
  return hash32([seed, ...parts].join('\u241f')) & 0x7fffffff;
}

/** A generator seeded by `deriveSeed(seed, ...parts)`. */
export function rngFor(seed: number, ...parts: readonly (string | number)[]): Rng {
  return createRng(deriveSeed(seed, ...parts));
}
