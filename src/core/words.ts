/** Word counts as the paper's tables report them (persona lengths, answer lengths in dataset cards). */

/** Python's `len(text.split())`: runs of whitespace separate words; leading and trailing space count for nothing. */
export function wordCount(text: string): number {
  return text.split(/\s+/u).filter((word) => word !== '').length;
}

/** `1 row`, `3 rows`; `pluralForm` for irregular words (`2 axes`). */
export function countOf(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? singular : pluralForm}`;
}
