/**
 * Reads CSV with a header row (papaparse; comma, tab or semicolon as the header row shows) into records. Each
 * record carries the line its row starts on, also when quoted fields span several lines. Cells stay text, except
 * the `meta` column, which holds a JSON object (that is how pairs are exported to CSV).
 */
import Papa from 'papaparse';
import { parseJsonWithLines } from './jsonWithLines.ts';
import { FIELD_ALIASES } from './normalizeRecord.ts';
import type { ImportIssue, RowsRead } from './rows.ts';

const QUOTE_ERRORS: Record<string, string> = {
  MissingQuotes: 'expected a closing double quote for the quoted field that starts on this row',
  InvalidQuotes: 'expected a delimiter or a line break after the closing double quote (write a quote inside a quoted field as "")',
};

const DELIMITERS = [',', '\t', ';'] as const;

/**
 * The delimiter is whichever candidate the header row uses most. Papaparse's own guess weighs the data rows too,
 * and answer texts full of semicolons or tabs can outvote the commas.
 */
function headerDelimiter(text: string): string {
  const headerRow = text.trimStart().split('\n', 1)[0] ?? '';
  const uses = (delimiter: string) => headerRow.split(delimiter).length;
  return DELIMITERS.reduce((best, delimiter) => (uses(delimiter) > uses(best) ? delimiter : best));
}

function countLineBreaks(text: string, from: number, to: number): number {
  let count = 0;
  for (let index = text.indexOf('\n', from); index !== -1 && index < to; index = text.indexOf('\n', index + 1)) count++;
  return count;
}

/**
 * `headerProblem` says what makes a header row unusable for the caller's records (the pair importer's needs a
 * prompt, chosen and rejected column: `pairHeaderProblem`); a name given twice is refused for every caller.
 */
export function readCsv(text: string, headerProblem: (names: readonly string[]) => string | undefined = repeatedColumn): RowsRead {
  const read: RowsRead = { rows: [], issues: [] };
  let header: string[] | undefined;
  // Papaparse reports where each row ends; the next row starts there, and lines are found by counting breaks.
  let rowStart = 0;
  let rowLine = 1;
  Papa.parse<string[]>(text, {
    delimiter: headerDelimiter(text),
    step: (result, parser) => {
      const line = rowLine;
      const rowEnd = result.meta.cursor;
      // Line breaks inside the row's quoted fields, not the one that ends the row.
      const lastLine = line + countLineBreaks(text, rowStart, rowEnd - 1);
      rowLine = text[rowEnd - 1] === '\n' ? lastLine + 1 : lastLine;
      rowStart = rowEnd;
      const cells = result.data;
      const quoteError = result.errors.find((error) => error.type === 'Quotes');
      if (quoteError) {
        // A stray quote makes papaparse read on to the next quote, so later lines may be gone into this row.
        const runOn = lastLine > line ? ` (so lines ${line + 1}–${lastLine} were read as part of this row)` : '';
        read.issues.push({ line, message: `${QUOTE_ERRORS[quoteError.code] ?? quoteError.message}${runOn}` });
        return;
      }
      if (cells.every((cell) => cell.trim() === '')) return; // a blank line
      if (header === undefined) {
        const names = cells.map((cell) => cell.trim());
        header = names;
        const problem = headerProblem(names);
        if (problem !== undefined) {
          read.fileIssue = { line, message: problem };
          parser.abort();
        }
        return;
      }
      if (cells.length !== header.length) {
        read.issues.push({ line, message: `expected ${header.length} fields as in the header row, got ${cells.length}` });
        return;
      }
      const record: Record<string, unknown> = Object.fromEntries(header.map((name, index) => [name, cells[index]]));
      const metaIssue = parseMetaCell(record, line);
      if (metaIssue) read.issues.push(metaIssue);
      else read.rows.push({ line, value: record });
    },
  });
  return read;
}

const REQUIRED_COLUMNS = ['prompt', 'chosen', 'rejected'] as const;

/** Lists at most five column names, each cut to 40 characters. */
function listColumns(names: readonly string[]): string {
  const shown = names.slice(0, 5).map((name) => JSON.stringify(name.length > 40 ? `${name.slice(0, 39)}…` : name));
  return `${shown.join(', ')}${names.length > 5 ? `, … (${names.length} columns)` : ''}`;
}

function repeatedColumn(names: readonly string[]): string | undefined {
  const repeated = names.find((name, index) => names.indexOf(name) !== index);
  return repeated === undefined ? undefined : `expected each column name once in the header row, got "${repeated}" more than once`;
}

/**
 * What is wrong with a header row of pairs, if anything: a name given twice, or no column for a part of a pair (then every
 * row would fail for the same reason, so it is said once, for the file). A header naming no pair field at all is
 * most likely not CSV of pairs: plain text or another table.
 */
export function pairHeaderProblem(names: readonly string[]): string | undefined {
  const repeated = repeatedColumn(names);
  if (repeated !== undefined) return repeated;
  const missing = REQUIRED_COLUMNS.filter((field) => !FIELD_ALIASES[field].some((alias) => names.includes(alias)));
  if (missing.length === REQUIRED_COLUMNS.length) {
    return `expected JSON, JSON Lines or CSV whose header row names prompt, chosen and rejected; read as CSV, the first line names the columns ${listColumns(names)}`;
  }
  if (missing.length === 0) return undefined;
  const wanted = missing.map((field) => `${field} (${FIELD_ALIASES[field].join(', ')})`).join(' and ');
  return `expected the header row to name a column for ${wanted}, got ${listColumns(names)}`;
}

/** Replaces the `meta` cell's JSON text by its value; an empty cell means no meta. */
function parseMetaCell(record: Record<string, unknown>, line: number): ImportIssue | undefined {
  const text = record.meta;
  if (typeof text !== 'string') return undefined;
  if (text === '') {
    delete record.meta;
    return undefined;
  }
  const parsed = parseJsonWithLines(text);
  if (!parsed.ok) return { line, field: 'meta', message: `expected a JSON object, got invalid JSON (${parsed.message})` };
  record.meta = parsed.value;
  return undefined;
}
