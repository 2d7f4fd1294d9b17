/**
 * What the import stages hand each other: a format reader turns text into records, each with the line it starts
 * on, plus issues for what it could not read; the record normaliser and the duplicate check take it from there.
 */
import type { Persona } from '../schema.ts';

/** Where a row is: its line, and its place in a JSON array when other records start on the same line. */
export interface RowPosition {
  /** 1-based line in the imported text where the row (or the syntax error) is. */
  line: number;
  /** 1-based index of the record in its JSON array, given only when the line holds more than one record. */
  record?: number;
}

/** A problem with one row, reported instead of dropping the row silently; or with the document or the whole text. */
export interface ImportIssue extends RowPosition {
  /**
   * Absent for a row's issue. `document`: the text around the rows (a pair set's name), no row lost to it. `file`:
   * nothing in the text could be read (it is empty, an HTML page, JSON with a syntax error…).
   */
  scope?: 'document' | 'file';
  /** The field as the source spelled it (`yw`, `question_type`, `personas[2].prefixes`). */
  field?: string;
  /** What was expected and what was found, e.g. `expected a non-empty string, got number`. */
  message: string;
}

/** One record as read from the text, before anyone has checked what it holds. */
export interface SourceRow extends RowPosition {
  value: unknown;
}

export interface RowsRead {
  rows: SourceRow[];
  /** Rows that could not be read, and problems with the document around them (scope `document`). */
  issues: ImportIssue[];
  /** Why nothing in the text could be read, when that is so (a syntax error in a JSON document, say). */
  fileIssue?: ImportIssue;
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

/** `line 4`, or `record 2 (line 1)` for a record that shares its line with others. */
export function describePosition(position: RowPosition): string {
  return position.record === undefined ? `line ${position.line}` : `record ${position.record} (line ${position.line})`;
}

/** The key that tells rows apart: line and record. */
export function positionKey(position: RowPosition): string {
  return `${position.line}#${position.record ?? 0}`;
}
