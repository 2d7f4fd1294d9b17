/**
 * Reads the two JSON formats into records with line numbers: a JSON document (a bare array of pairs, or a pair set
 * `{name, pairs, personas?}`), and JSON Lines (one record per line, as the authors' pipeline writes every file,
 * blank lines skipped but counted). Syntax errors are reported at their line and column; records of an array
 * written on one line are told apart by their index.
 */
import type { z } from 'zod';
import { describeValue, expectation, PairSet, Persona } from '../schema.ts';
import { parseJsonWithLines, type JsonParseResult } from './jsonWithLines.ts';
import { describeFields, isPlainObject, type ImportIssue, type RowsRead, type SourceRow } from './rows.ts';

/** Schema issues of a value nested in the document, with fields named by their path from the top. */
function schemaIssues(row: Omit<SourceRow, 'value'>, field: string, error: z.ZodError): ImportIssue[] {
  return error.issues.map((issue) => ({ ...row, field: [field, ...issue.path.map(String)].join('.'), message: issue.message }));
}

/** What a failed parse says, at its line. */
export function parseFailureIssue(failure: Extract<JsonParseResult, { ok: false }>, line = failure.line): ImportIssue {
  if (failure.reason === 'depth') {
    return { line, message: `JSON ${failure.message} (at column ${failure.column}): pair files need a few; is this the right file?` };
  }
  return { line, message: `invalid JSON at column ${failure.column}: ${failure.message}` };
}

/** Each element with the line it starts on, and its index when another element starts on the same line. */
function withPositions(items: unknown[], lines: readonly number[] | undefined): SourceRow[] {
  const perLine = new Map<number, number>();
  for (const line of lines ?? []) perLine.set(line, (perLine.get(line) ?? 0) + 1);
  return items.map((value, index) => {
    const line = lines?.[index] ?? 1;
    return (perLine.get(line) ?? 0) > 1 ? { line, record: index + 1, value } : { line, value };
  });
}

export function readJsonDocument(text: string): RowsRead {
  const parsed = parseJsonWithLines(text);
  if (!parsed.ok) return { rows: [], issues: [], fileIssue: parseFailureIssue(parsed) };
  const { value, elementLines } = parsed;
  // Element lines are recorded for every array the parser built, so the lookups below always find them.
  const rowsOf = (items: unknown[]) => withPositions(items, elementLines.get(items));

  if (Array.isArray(value)) return { rows: rowsOf(value), issues: [] };
  if (!isPlainObject(value) || !Array.isArray(value.pairs)) {
    const got = isPlainObject(value) ? describeFields(value) : describeValue(value);
    return { rows: [], issues: [], fileIssue: { line: 1, message: `expected an array of pairs or a pair set {"name": …, "pairs": […]}, got ${got}` } };
  }

  const issues: ImportIssue[] = [];
  const read: RowsRead = { rows: rowsOf(value.pairs), issues };
  if (value.name !== undefined) {
    const name = PairSet.shape.name.safeParse(value.name);
    if (name.success) read.name = name.data;
    else issues.push(...schemaIssues({ line: 1 }, 'name', name.error).map((issue) => ({ ...issue, scope: 'document' as const })));
  }
  if (value.personas !== undefined) {
    if (Array.isArray(value.personas)) read.personas = readPersonas(rowsOf(value.personas), issues);
    else issues.push({ line: 1, scope: 'document', field: 'personas', message: expectation('an array of personas', value.personas) });
  }
  return read;
}

function readPersonas(rows: SourceRow[], issues: ImportIssue[]): Persona[] {
  const personas: Persona[] = [];
  rows.forEach(({ value, ...position }, index) => {
    const persona = Persona.safeParse(value);
    if (persona.success) personas.push(persona.data);
    else issues.push(...schemaIssues(position, `personas[${index}]`, persona.error));
  });
  return personas;
}

export function readJsonLines(text: string): RowsRead {
  const read: RowsRead = { rows: [], issues: [] };
  text.split('\n').forEach((rawLine, index) => {
    const line = index + 1;
    const lineText = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (lineText.trim() === '') return;
    const parsed = parseJsonWithLines(lineText);
    if (parsed.ok) read.rows.push({ line, value: parsed.value });
    else read.issues.push(parseFailureIssue(parsed, line));
  });
  return read;
}
