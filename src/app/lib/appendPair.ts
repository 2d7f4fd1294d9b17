/**
 * Adds a pair from the page's form to the pasted text, in the text's own format, so the text
 * stays the one source of the pair set: a JSON Lines line, an element of a JSON array or of a
 * pair set's `pairs`, or a CSV row under the existing header. Text that cannot take a new pair
 * without being rewritten by guesswork (a JSON document with errors, a CSV header without
 * prompt/chosen/rejected columns) is left alone with a message saying what to fix.
 */
import { FIELD_ALIASES } from '../../core/import/normalizeRecord.ts';
import { detectPairFormat } from '../../core/importPairs.ts';
import type { PreferencePair } from '../../core/schema.ts';

export type NewPair = Omit<PreferencePair, 'id' | 'meta'>;
export type AppendResult = { ok: true; text: string } | { ok: false; message: string };

/** The pair fields the form fills, by the CSV header names the importer accepts for each. */
const CSV_ALIASES: Record<keyof NewPair, readonly string[]> = FIELD_ALIASES;

export function appendPair(text: string, pair: NewPair, fileName?: string): AppendResult {
  const record = Object.fromEntries(Object.entries(pair).filter(([, value]) => value !== undefined && value !== ''));
  if (text.trim() === '') return { ok: true, text: `${JSON.stringify(record)}\n` };
  switch (detectPairFormat(text, fileName)) {
    case 'jsonl':
      return { ok: true, text: `${text.replace(/\s*$/, '')}\n${JSON.stringify(record)}\n` };
    case 'json':
      return appendToJson(text, record);
    case 'csv':
      return appendToCsv(text, pair);
  }
}

function appendToJson(text: string, record: Record<string, unknown>): AppendResult {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return { ok: false, message: 'The JSON has errors: fix them first (see the list above), then add the pair.' };
  }
  if (Array.isArray(document)) return { ok: true, text: `${JSON.stringify([...document, record], null, 2)}\n` };
  if (typeof document === 'object' && document !== null && Array.isArray((document as { pairs?: unknown }).pairs)) {
    const set = document as { pairs: unknown[] };
    return { ok: true, text: `${JSON.stringify({ ...set, pairs: [...set.pairs, record] }, null, 2)}\n` };
  }
  return { ok: false, message: 'The JSON is neither a list of pairs nor a pair set: add the pair by hand.' };
}

function appendToCsv(text: string, pair: NewPair): AppendResult {
  const headerLine = text.split(/\r?\n/, 1)[0] ?? '';
  const header = parseCsvLine(headerLine).map((name) => name.trim());
  const lower = header.map((name) => name.toLowerCase());
  const row = lower.map((name) => {
    const field = (Object.keys(CSV_ALIASES) as (keyof NewPair)[]).find((key) => CSV_ALIASES[key].includes(name));
    return field === undefined ? '' : (pair[field] ?? '');
  });
  const required: (keyof NewPair)[] = ['prompt', 'chosen', 'rejected'];
  const missing = required.filter((field) => !CSV_ALIASES[field].some((alias) => lower.includes(alias)));
  if (missing.length > 0) return { ok: false, message: `The CSV header has no ${missing.join(', ')} column: add the pair by hand.` };
  return { ok: true, text: `${text.replace(/\s*$/, '')}\n${row.map(csvCell).join(',')}\n` };
}

function csvCell(value: string): string {
  return /[",\r\n]/.test(value) || value !== value.trim() ? `"${value.replace(/"/g, '""')}"` : value;
}

/** One CSV line (no embedded newlines: only used for the header). */
export function parseCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i] as string;
    if (quoted) {
      if (char === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      cells.push(cell);
      cell = '';
    } else cell += char;
  }
  cells.push(cell);
  return cells;
}
