/**
 * Imports preference pairs from a file or pasted text. It detects the format (a JSON document, JSON Lines, or CSV),
 * reads each record with the line it starts on, and turns every known record shape into a PreferencePair (see
 * import/normalizeRecord.ts). Records without an id get one derived from their content. Of two duplicates the
 * later one is dropped. Nothing is dropped silently: every row that is not kept becomes an issue or a duplicate
 * report, with its line.
 */
import type { PairFormat, Persona, PreferencePair } from './schema.ts';
import { contentId, contentKey } from './import/contentId.ts';
import { normalizeRecord, type PairDefaults, type PairWithoutId } from './import/normalizeRecord.ts';
import { parseJsonWithLines } from './import/jsonWithLines.ts';
import { readCsv } from './import/readCsv.ts';
import { readJsonDocument, readJsonLines } from './import/readJson.ts';
import { isPlainObject, type ImportIssue, type RowsRead } from './import/rows.ts';

export type { ImportIssue } from './import/rows.ts';
export type { PairDefaults } from './import/normalizeRecord.ts';

export interface DuplicateReport {
  /** Line of the dropped record. */
  line: number;
  /** Line of the record that was kept. */
  firstLine: number;
  /** Id of the record that was kept. */
  id: string;
  reason: 'same id' | 'same prompt, chosen and rejected';
}

export interface ImportResult {
  format: PairFormat;
  pairs: PreferencePair[];
  issues: ImportIssue[];
  duplicates: DuplicateReport[];
  /** The name of the pair set, when the text was a pair-set document (JSON object). */
  name?: string;
  /** The personas of the pair set, when the text was a pair set document that listed them. */
  personas?: Persona[];
}

export interface ImportOptions {
  /** Only a hint: content decides, since the authors name their JSON Lines files `.json`. */
  fileName?: string;
  /** Skips detection. */
  format?: PairFormat;
  /** Fill fields that records leave out, e.g. the persona of a file holding one person's pairs. */
  defaults?: PairDefaults;
}

const READERS = {
  json: readJsonDocument,
  jsonl: readJsonLines,
  csv: readCsv,
} satisfies Record<PairFormat, (text: string) => RowsRead>;

export function importPairs(text: string, options: ImportOptions = {}): ImportResult {
  // Spreadsheet programs start their CSV with a byte order mark; it is no part of the first column name.
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const format = options.format ?? detectPairFormat(source, options.fileName);
  // An empty file holds no pairs, and nothing wrong either (it is what exporting no pairs as JSON Lines gives).
  if (source.trim() === '') return { format, pairs: [], issues: [], duplicates: [] };

  const read = READERS[format](source);
  const issues = [...read.issues];
  const candidates: { line: number; pair: PairWithoutId }[] = [];
  for (const { line, record } of read.rows) {
    const normalized = normalizeRecord(record, options.defaults);
    if (normalized.ok) candidates.push({ line, pair: normalized.pair });
    else issues.push(...normalized.issues.map((issue) => ({ line, ...issue })));
  }
  const { pairs, duplicates } = keepFirstOccurrences(candidates);
  return {
    format,
    pairs,
    // Readers and the normaliser report in two passes; people read issues in file order.
    issues: issues.sort((a, b) => a.line - b.line),
    duplicates,
    ...(read.name !== undefined && { name: read.name }),
    ...(read.personas !== undefined && { personas: read.personas }),
  };
}

/**
 * Assigns ids and keeps the first of duplicates. An explicit id names a pair, so reusing one is reported as such. A
 * derived id repeats only when the content does, which is reported as the content; if it clashes with another
 * pair's id (an explicit one, or a hash collision), the record's line number becomes its id instead.
 */
function keepFirstOccurrences(candidates: { line: number; pair: PairWithoutId }[]) {
  const pairs: PreferencePair[] = [];
  const duplicates: DuplicateReport[] = [];
  const firstById = new Map<string, { line: number; id: string }>();
  const firstByContent = new Map<string, { line: number; id: string }>();
  for (const { line, pair } of candidates) {
    const { id: explicitId, ...content } = pair;
    const key = contentKey(content);
    const firstWithContent = firstByContent.get(key);
    const derivedId = contentId(content);
    const id = explicitId ?? (firstById.has(derivedId) && !firstWithContent ? `line-${line}` : derivedId);
    const firstWithId = firstById.get(id);
    const duplicate =
      explicitId !== undefined && firstWithId
        ? { first: firstWithId, reason: 'same id' as const }
        : firstWithContent
          ? { first: firstWithContent, reason: 'same prompt, chosen and rejected' as const }
          : firstWithId && { first: firstWithId, reason: 'same id' as const };
    if (duplicate) {
      duplicates.push({ line, firstLine: duplicate.first.line, id: duplicate.first.id, reason: duplicate.reason });
      continue;
    }
    firstById.set(id, { line, id });
    firstByContent.set(key, { line, id });
    pairs.push({ id, ...content });
  }
  return { pairs, duplicates };
}

function formatFromFileName(fileName: string | undefined): PairFormat | undefined {
  const extension = fileName?.toLowerCase().match(/\.([a-z]+)$/)?.[1];
  if (extension === 'jsonl' || extension === 'ndjson') return 'jsonl';
  if (extension === 'json') return 'json';
  if (extension === 'csv' || extension === 'tsv') return 'csv';
  return undefined;
}

/**
 * Content first: `[` opens a JSON document; `{` opens JSON Lines when the first line is a whole object (unless
 * that object is a one-line pair set), else a JSON document spread over lines; anything else is CSV. The file name
 * decides only what content cannot: a text that starts like neither, or a first line that does not parse.
 */
export function detectPairFormat(text: string, fileName?: string): PairFormat {
  const hinted = formatFromFileName(fileName);
  const start = text.trimStart();
  if (start === '') return hinted ?? 'json';
  if (start.startsWith('[')) return 'json';
  if (!start.startsWith('{')) return hinted === 'json' || hinted === 'jsonl' ? hinted : 'csv';
  const lineEnd = start.indexOf('\n');
  const parsed = parseJsonWithLines(lineEnd === -1 ? start : start.slice(0, lineEnd));
  if (!parsed.ok) return hinted === 'jsonl' ? 'jsonl' : 'json';
  return isPlainObject(parsed.value) && Array.isArray(parsed.value.pairs) ? 'json' : 'jsonl';
}

/** One line for logs and CLI output: `line 4: field "chosen": expected a non-empty string, got number`. */
export function formatImportIssue(issue: ImportIssue): string {
  return `line ${issue.line}: ${issue.field === undefined ? '' : `field "${issue.field}": `}${issue.message}`;
}
