/**
 * Python `str` semantics for the few operations the authors' text heuristics use (spec §2.6), so
 * `cleanup.ts` can be a line-by-line port whose thresholds (650, 400, 200, 100, 50 characters)
 * count what Python counts.
 *
 * Why not plain JS string methods: Python indexes by code point, JS by UTF-16 unit (an emoji is 1
 * in Python, 2 in JS, and Zephyr writes emojis); Python's `strip()` removes a different set of
 * characters than `trim()` (it strips U+001C–U+001F and U+0085, keeps U+FEFF); and Python slices
 * accept negative indices, which several of the authors' quirks rely on (`y[-1:]`, `y[y.find(",")+2:]`).
 * Lower-casing is `toLowerCase()`, which matches Python's `lower()` for the special cases that change
 * length (İ) or depend on context (final sigma).
 */

/** The characters Python's `str.isspace()` accepts, i.e. what `strip()` with no argument removes. */
const PY_WHITESPACE = '\\t\\n\\v\\f\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const LEADING = new RegExp(`^[${PY_WHITESPACE}]+`, 'u');
const TRAILING = new RegExp(`[${PY_WHITESPACE}]+$`, 'u');

/** `s.strip()` */
export function pyStrip(s: string): string {
  return s.replace(LEADING, '').replace(TRAILING, '');
}

/** `len(s)`: code points. */
export function pyLen(s: string): number {
  let count = 0;
  for (const _ of s) count++;
  return count;
}

/** `s.lower()` */
export function pyLower(s: string): string {
  return s.toLowerCase();
}

/** UTF-16 offset of code point `index` (clamped to the end). */
function unitOffset(s: string, index: number): number {
  let units = 0;
  let points = 0;
  for (const char of s) {
    if (points === index) return units;
    units += char.length;
    points++;
  }
  return units;
}

/** Code-point index of UTF-16 offset `offset`. */
function pointIndex(s: string, offset: number): number {
  return pyLen(s.slice(0, offset));
}

/** Python's slice-bound normalisation: negatives count from the end, then clamp to [0, len]. */
function bound(index: number, length: number): number {
  const resolved = index < 0 ? index + length : index;
  return Math.min(Math.max(resolved, 0), length);
}

/** `s[start:end]` with Python's negative-index rules. */
export function pySlice(s: string, start: number, end?: number): string {
  const length = pyLen(s);
  const from = bound(start, length);
  const to = end === undefined ? length : bound(end, length);
  if (to <= from) return '';
  return s.slice(unitOffset(s, from), unitOffset(s, to));
}

/** `s[index]` (`undefined` where Python raises IndexError). */
export function pyCharAt(s: string, index: number): string | undefined {
  const length = pyLen(s);
  const resolved = index < 0 ? index + length : index;
  if (resolved < 0 || resolved >= length) return undefined;
  return pySlice(s, resolved, resolved + 1);
}

/** `s.find(sub, start, end)`: the lowest code-point index of `sub` within s[start:end], else −1. */
export function pyFind(s: string, sub: string, start = 0, end?: number): number {
  return findWithin(s, start, end, (slice) => slice.indexOf(sub));
}

/** `s.rfind(sub, start, end)`: the highest code-point index of `sub` within s[start:end], else −1. */
export function pyRfind(s: string, sub: string, start = 0, end?: number): number {
  return findWithin(s, start, end, (slice) => slice.lastIndexOf(sub));
}

/** Runs a UTF-16 search over s[start:end] and maps its offset back to a code-point index of s. */
function findWithin(s: string, start: number, end: number | undefined, search: (window: string) => number): number {
  const length = pyLen(s);
  const from = bound(start, length);
  const to = end === undefined ? length : bound(end, length);
  const window = s.slice(unitOffset(s, from), unitOffset(s, to));
  const offset = search(window);
  return offset < 0 ? -1 : from + pointIndex(window, offset);
}

/** `s[0].upper() + s[1:]`, the authors' `capitalize` (not Python's `str.capitalize`, which lowers the rest). */
export function pyCapitalizeFirst(s: string): string {
  if (s === '') return s;
  return pySlice(s, 0, 1).toUpperCase() + pySlice(s, 1);
}
