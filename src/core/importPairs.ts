/**
 * Imports preference pairs from a file or pasted text. It detects the format (a JSON document, JSON Lines, or CSV),
 * reads each record with the line it starts on, and turns every known record shape into a PreferencePair (see
 * import/normalizeRecord.ts). Records without an id get one derived from their content. Of two duplicates the
 * later one is dropped; a later record that reuses an id for different content is a conflict, reported as such.
 * Nothing is dropped silently: every row that is not kept becomes an issue or a duplicate report, with its line
 * (and its index when a one-line JSON array puts several records on it). Text that cannot hold pairs at all (empty,
 * an HTML page, a JSON syntax error, nesting too deep to be a pair file) gives one file-level issue instead.
 */
import type { PairFormat, Persona, PreferencePair } from './schema.ts';
import { contentId, contentKey } from './import/contentId.ts';
import { normalizeRecord, type PairDefaults, type PairWithoutId } from './import/normalizeRecord.ts';
import { parseJsonWithLines } from './import/jsonWithLines.ts';
import { pairHeaderProblem, readCsv } from './import/readCsv.ts';
import { readJsonDocument, readJsonLines } from './import/readJson.ts';
import { describePosition, isPlainObject, positionKey, type ImportIssue, type RowPosition, type RowsRead } from './import/rows.ts';

export type { ImportIssue, RowPosition } from './import/rows.ts';
export type { PairDefaults } from './import/normalizeRecord.ts';

export interface DuplicateReport extends RowPosition {
  /** Line of the record that was kept. */
  firstLine: number;
  /** Index of the kept record in its one-line JSON array, when it shares its line. */
  firstRecord?: number;
  /** Id of the record that was kept. */
  id: string;
  reason: 'same id' | 'same prompt, chosen and rejected';
  /**
   * The dropped record reused the kept one's id for a different pair: data was lost, not a copy. Callers treat it
   * like an invalid row (the CLI exits 2); plain duplicates are only noted.
   */
  conflict: boolean;
  /** The pair fields in which a conflicting record differs from the kept one. */
  differs: string[];
}

export interface ImportResult {
  format: PairFormat;
  pairs: PreferencePair[];
  /** Every problem, in text order; `fileIssue`, when set, is the only one. Count rows with `invalidRowCount`. */
  issues: ImportIssue[];
  /** Why nothing in the text could be read (it is empty, an HTML page, JSON with a syntax error…). */
  fileIssue?: ImportIssue;
  duplicates: DuplicateReport[];
  /** The name of the pair set, when the text was a pair-set document (JSON object). */
  name?: string;
  /** The personas of the pair set, when the text was a pair set document that listed them. */
  personas?: Persona[];
}

export interface ImportOptions {
  /** Only a hint: content decides, since the authors name their JSON Lines files `.json`. Also: messages say "file". */
  fileName?: string;
  /** Skips detection. */
  format?: PairFormat;
  /** Fill fields that records leave out, e.g. the persona of a file holding one person's pairs. */
  defaults?: PairDefaults;
}

const READERS = {
  json: readJsonDocument,
  jsonl: readJsonLines,
  csv: (text: string) => readCsv(text, pairHeaderProblem),
} satisfies Record<PairFormat, (text: string) => RowsRead>;

const NOT_PAIRS = 'not JSON, JSON Lines or CSV';
const HTML_PAGE = /^<(?:!doctype\s+html|html|head|body|meta|title|div|table|script|style|!--)[\s>/]/i;

/** Text that cannot hold pairs, said for what it is rather than as the syntax error it would give. */
function unreadableText(text: string, what: 'file' | 'text'): string | undefined {
  if (text === '') return `the ${what} is empty`;
  const start = text.trimStart();
  if (start === '') return `the ${what} holds only whitespace`;
  if (HTML_PAGE.test(start) || /^<\?xml[^>]*>\s*<!doctype\s+html/i.test(start)) {
    return `this looks like an HTML page, ${NOT_PAIRS} (a saved web page that shows the pairs, rather than the pairs themselves?)`;
  }
  if (start.startsWith('<')) return `this looks like XML or HTML markup, ${NOT_PAIRS}`;
  return undefined;
}

function unreadable(format: PairFormat, issue: ImportIssue): ImportResult {
  const fileIssue: ImportIssue = { ...issue, scope: 'file' };
  return { format, pairs: [], issues: [fileIssue], fileIssue, duplicates: [] };
}

/** Rows not kept for their issues: a row with three bad fields counts once. Duplicates are counted apart. */
export function invalidRowCount(result: Pick<ImportResult, 'issues'>): number {
  return new Set(result.issues.filter((issue) => issue.scope === undefined).map(positionKey)).size;
}

const byPosition = (a: RowPosition, b: RowPosition) => a.line - b.line || (a.record ?? 0) - (b.record ?? 0);

export function importPairs(text: string, options: ImportOptions = {}): ImportResult {
  // Spreadsheet programs start their CSV with a byte order mark; it is no part of the first column name.
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const format = options.format ?? detectPairFormat(source, options.fileName);
  const notPairs = unreadableText(source, options.fileName === undefined ? 'text' : 'file');
  if (notPairs !== undefined) return unreadable(format, { line: 1, message: notPairs });

  const read = READERS[format](source);
  if (read.fileIssue) return unreadable(format, read.fileIssue);
  const issues = [...read.issues];
  const candidates: { position: RowPosition; pair: PairWithoutId }[] = [];
  for (const { value, ...position } of read.rows) {
    const normalized = normalizeRecord(value, options.defaults);
    if (normalized.ok) candidates.push({ position, pair: normalized.pair });
    else issues.push(...normalized.issues.map((issue) => ({ ...position, ...issue })));
  }
  const { pairs, duplicates } = keepFirstOccurrences(candidates);
  return {
    format,
    pairs,
    // Readers and the normaliser report in two passes; people read issues in file order.
    issues: issues.sort(byPosition),
    duplicates,
    ...(read.name !== undefined && { name: read.name }),
    ...(read.personas !== undefined && { personas: read.personas }),
  };
}

/** What decides whether two records with one id are the same pair (meta may differ: it is provenance). */
const COMPARED_FIELDS = ['persona', 'axis', 'type', 'split', 'prompt', 'chosen', 'rejected'] as const;

interface Kept {
  position: RowPosition;
  pair: PreferencePair;
}

/**
 * Assigns ids and keeps the first of duplicates. An explicit id names a pair, so reusing one is reported as such,
 * as a conflict when the pairs differ. A derived id repeats only when the content does, which is reported as the
 * content; if it clashes with another pair's id (an explicit one, or a hash collision), the record's position
 * becomes its id instead.
 */
function keepFirstOccurrences(candidates: { position: RowPosition; pair: PairWithoutId }[]) {
  const pairs: PreferencePair[] = [];
  const duplicates: DuplicateReport[] = [];
  const firstById = new Map<string, Kept>();
  const firstByContent = new Map<string, Kept>();
  for (const { position, pair } of candidates) {
    const { id: explicitId, ...content } = pair;
    const key = contentKey(content);
    const firstWithContent = firstByContent.get(key);
    const derivedId = contentId(content);
    const fallbackId = `line-${position.line}${position.record === undefined ? '' : `-${position.record}`}`;
    const id = explicitId ?? (firstById.has(derivedId) && !firstWithContent ? fallbackId : derivedId);
    const firstWithId = firstById.get(id);
    const kept = { id, ...content };
    const duplicate =
      explicitId !== undefined && firstWithId
        ? { first: firstWithId, reason: 'same id' as const }
        : firstWithContent
          ? { first: firstWithContent, reason: 'same prompt, chosen and rejected' as const }
          : firstWithId && { first: firstWithId, reason: 'same id' as const };
    if (duplicate) {
      const differs = duplicate.reason === 'same id' ? COMPARED_FIELDS.filter((field) => duplicate.first.pair[field] !== kept[field]) : [];
      duplicates.push({
        ...position,
        firstLine: duplicate.first.position.line,
        ...(duplicate.first.position.record !== undefined && { firstRecord: duplicate.first.position.record }),
        id: duplicate.first.pair.id,
        reason: duplicate.reason,
        conflict: differs.length > 0,
        differs,
      });
      continue;
    }
    firstById.set(id, { position, pair: kept });
    firstByContent.set(key, { position, pair: kept });
    pairs.push(kept);
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
  return `${describePosition(issue)}: ${issue.field === undefined ? '' : `field "${issue.field}": `}${issue.message}`;
}

/**
 * One line per dropped record, e.g. `record 2 (line 1) has the id "a" of record 1 (line 1) but a different prompt:
 * kept record 1 (line 1), dropped this one`.
 */
export function formatDuplicate(duplicate: DuplicateReport): string {
  const here = describePosition(duplicate);
  const first = describePosition({ line: duplicate.firstLine, ...(duplicate.firstRecord !== undefined && { record: duplicate.firstRecord }) });
  if (duplicate.conflict) {
    const fields = duplicate.differs.length === 1 ? duplicate.differs[0] : `${duplicate.differs.slice(0, -1).join(', ')} and ${duplicate.differs.at(-1)}`;
    return `${here} has the id "${duplicate.id}" of ${first} but a different ${fields}: kept ${first}, dropped this one (give it its own id to keep both)`;
  }
  const same = duplicate.reason === 'same id' ? `same id "${duplicate.id}" and content` : duplicate.reason;
  return `${here} repeats ${first} (${same}): dropped`;
}
