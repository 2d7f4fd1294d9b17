/**
 * Writes preference pairs out: as our own JSON, JSON Lines or CSV (each of which importPairs reads back to the same
 * pairs), and record by record in the two layouts of the authors' code (spec §1.3 raw, §1.4 formatted), for
 * running their scripts on data made here.
 */
import Papa from 'papaparse';
import {
  AUTHORS_QUESTION_TYPE,
  type AuthorsFormattedRecord,
  type AuthorsRawRecord,
  type PairFormat,
  type PreferencePair,
} from './schema.ts';

/** Every pair field, in schema order; `meta` is written as JSON text since a CSV cell holds only text. */
const CSV_COLUMNS = ['id', 'persona', 'axis', 'type', 'split', 'prompt', 'chosen', 'rejected', 'meta'] as const satisfies readonly (keyof PreferencePair)[];

function toCsvRow(pair: PreferencePair): string[] {
  return CSV_COLUMNS.map((column) => {
    const value = pair[column];
    if (value === undefined) return '';
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
}

export function exportPairs(pairs: readonly PreferencePair[], format: PairFormat): string {
  switch (format) {
    case 'json':
      // One field per line, so the line numbers of import issues point somewhere useful.
      return `${JSON.stringify(pairs, null, 2)}\n`;
    case 'jsonl':
      return pairs.map((pair) => `${JSON.stringify(pair)}\n`).join('');
    case 'csv':
      // Formula escaping stays off: it would prefix cells with a quote that reading back cannot tell from data.
      return `${Papa.unparse({ fields: [...CSV_COLUMNS], data: pairs.map(toCsvRow) }, { newline: '\n' })}\n`;
  }
}

/**
 * A raw annotated record (spec §1.3). Fields in `meta` come first, so a record imported from the authors' files
 * (whose `y_cot`, `diverse_ys`, `raw_completions` went to meta) is written back as it was.
 */
export function toAuthorsRawRecord(pair: PreferencePair): AuthorsRawRecord {
  return {
    ...pair.meta,
    ...(pair.persona !== undefined && { name: pair.persona }),
    prompt: pair.prompt,
    ...(pair.type !== undefined && { question_type: AUTHORS_QUESTION_TYPE[pair.type] }),
    axis: pair.axis ?? null,
    yw: pair.chosen,
    yl: pair.rejected,
  };
}

/**
 * A formatted "prefs" record (spec §1.4). `userContent` is the prompt after the prefix template was applied; it is
 * the record's `prompt` and the user turn of both answers. `cv` is written when the pair's meta holds a fold number.
 */
export function toAuthorsFormattedRecord(pair: PreferencePair, userContent: string): AuthorsFormattedRecord {
  const turns = (answer: string): AuthorsFormattedRecord['chosen'] => [
    { role: 'user', content: userContent },
    { role: 'assistant', content: answer },
  ];
  const cv = pair.meta?.cv;
  return {
    ...(pair.persona !== undefined && { name: pair.persona }),
    prompt: userContent,
    chosen: turns(pair.chosen),
    rejected: turns(pair.rejected),
    ...(pair.type !== undefined && { question_type: AUTHORS_QUESTION_TYPE[pair.type] }),
    ...(typeof cv === 'number' && Number.isInteger(cv) && { cv }),
  };
}
