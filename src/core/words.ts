/** Word counts as the paper's tables report them (persona lengths, answer lengths in dataset cards). */

/** Python's `len(text.split())`: runs of whitespace separate words; leading and trailing space count for nothing. */
export function wordCount(text: string): number {
  return text.split(/\s+/u).filter((word) => word !== '').length;
}
