/**
 * Reads the two JSON formats into records with line numbers: a JSON document (a bare array of pairs, or a pair set
 * `{name, pairs, personas?}`), and JSON Lines (one record per line, as the authors' pipeline writes every file,
 * blank lines skipped but counted). Syntax errors are reported at their line and column.
 */
import type { z } from 'zod';
import { describeValue, expectation, PairSet, Persona } from '../schema.ts';
import { parseJsonWithLines } from './jsonWithLines.ts';
import { describeFields, isPlainObject, type ImportIssue, type RowsRead, type SourceRow } from './rows.ts';

/** Schema issues of a value nested in the document, with fields named by their path from the top. */
function schemaIssues(line: number, field: string, error: z.ZodError): ImportIssue[] {
  return error.issues.map((issue) => ({ line, field: [field, ...issue.path.map(String)].join('.'), message: issue.message }));
}

function syntaxIssue(line: number, column: number, message: string): ImportIssue {
  return { line, message: `invalid JSON at column ${column}: ${message}` };
}

export function readJsonDocument(text: string): RowsRead {
  const parsed = parseJsonWithLines(text);
  if (!parsed.ok) return { rows: [], issues: [syntaxIssue(parsed.line, parsed.column, parsed.message)] };
  const { value, elementLines } = parsed;
  // Element lines are recorded for every array the parser built, so the lookups below always find them.
  const withLines = (items: unknown[]) => items.map((record, index) => ({ line: elementLines.get(items)?.[index] ?? 1, record }));

  if (Array.isArray(value)) return { rows: withLines(value), issues: [] };
  if (!isPlainObject(value) || !Array.isArray(value.pairs)) {
    const got = isPlainObject(value) ? describeFields(value) : describeValue(value);
    return { rows: [], issues: [{ line: 1, message: `expected an array of pairs or a pair set {"name": …, "pairs": […]}, got ${got}` }] };
  }

  const issues: ImportIssue[] = [];
  const read: RowsRead = { rows: withLines(value.pairs), issues };
  if (value.name !== undefined) {
    const name = PairSet.shape.name.safeParse(value.name);
    if (name.success) read.name = name.data;
    else issues.push(...schemaIssues(1, 'name', name.error));
  }
  if (value.personas !== undefined) {
    if (Array.isArray(value.personas)) read.personas = readPersonas(withLines(value.personas), issues);
    else issues.push({ line: 1, field: 'personas', message: expectation('an array of personas', value.personas) });
  }
  return read;
}

function readPersonas(rows: SourceRow[], issues: ImportIssue[]): Persona[] {
  const personas: Persona[] = [];
  rows.forEach(({ line, record }, index) => {
    const persona = Persona.safeParse(record);
    if (persona.success) personas.push(persona.data);
    else issues.push(...schemaIssues(line, `personas[${index}]`, persona.error));
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
    if (parsed.ok) read.rows.push({ line, record: parsed.value });
    else read.issues.push(syntaxIssue(line, parsed.column, parsed.message));
  });
  return read;
}
