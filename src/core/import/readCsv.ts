/**
 * Reads CSV with a header row (papaparse; comma, tab or semicolon as the header row shows) into records. Each
 * record carries the line its row starts on, also when quoted fields span several lines. Cells stay text, except
 * the `meta` column, which holds a JSON object (that is how pairs are exported to CSV).
 */
import Papa from 'papaparse';
import { parseJsonWithLines } from './jsonWithLines.ts';
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

export function readCsv(text: string): RowsRead {
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
        const repeated = names.find((name, index) => names.indexOf(name) !== index);
        if (repeated !== undefined) {
          read.issues.push({ line, message: `expected each column name once in the header row, got "${repeated}" more than once` });
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
      else read.rows.push({ line, record });
    },
  });
  return read;
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
