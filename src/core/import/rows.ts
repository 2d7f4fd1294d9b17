/**
 * What the import stages hand each other: a format reader turns text into records, each with the line it starts
 * on, plus issues for what it could not read; the record normaliser and the duplicate check take it from there.
 */
import type { Persona } from '../schema.ts';

/** A problem with one row, reported instead of dropping the row silently. */
export interface ImportIssue {
  /** 1-based line in the imported text where the row (or the syntax error) is. */
  line: number;
  /** The field as the source spelled it (`yw`, `question_type`, `personas[2].prefixes`). */
  field?: string;
  /** What was expected and what was found, e.g. `expected a non-empty string, got number`. */
  message: string;
}

/** One record as read from the text, before anyone has checked what it holds. */
export interface SourceRow {
  line: number;
  record: unknown;
}

export interface RowsRead {
  rows: SourceRow[];
  issues: ImportIssue[];
  /** Set when the text was a pair-set document (JSON object). */
  name?: string;
  personas?: Persona[];
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Names the fields an object had, for messages about objects of an unexpected shape. */
export function describeFields(record: Record<string, unknown>): string {
  const names = Object.keys(record);
  return names.length === 0 ? 'an object with no fields' : `an object with fields ${names.map((name) => JSON.stringify(name)).join(', ')}`;
}
