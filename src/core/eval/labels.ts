/**
 * Preference labels from people, the format `eval agreement` reads and the page's annotation
 * (issue 13) exports: one record per (pair id, annotator) saying which of the pair's two answers
 * the annotator preferred, by the answer's role in the dataset (`chosen`, the judge's pick, or
 * `rejected`), or null when the annotator saw the pair and gave no label. JSON Lines or CSV with
 * a header; the authors' spellings are accepted (`pair_id`, `y_w`/`y_l`, …).
 *
 * Failures handled: every unreadable or invalid record is an issue naming its line and field,
 * and the valid ones are kept; a second label for the same (pair, annotator) is an issue too.
 */
import { z } from 'zod';
import { readCsv } from '../import/readCsv.ts';
import { readJsonLines } from '../import/readJson.ts';
import type { ImportIssue } from '../import/rows.ts';

export const PREFERRED_ANSWERS = ['chosen', 'rejected'] as const;
export const PreferredAnswer = z.enum(PREFERRED_ANSWERS);
export type PreferredAnswer = z.infer<typeof PreferredAnswer>;

/** One person's label for one pair. */
export const PreferenceLabel = z.object({
  pairId: z.string().min(1),
  annotator: z.string().min(1),
  /** The preferred answer's role in the dataset; null: shown, not labelled. */
  preferred: PreferredAnswer.nullable(),
});
export type PreferenceLabel = z.infer<typeof PreferenceLabel>;

export interface LabelsRead {
  labels: PreferenceLabel[];
  issues: ImportIssue[];
}

const FIELD_ALIASES: Record<keyof PreferenceLabel, readonly string[]> = {
  pairId: ['pairId', 'pair_id', 'pair', 'id'],
  annotator: ['annotator', 'annotator_id', 'rater', 'labeler', 'labeller'],
  preferred: ['preferred', 'preference', 'label', 'choice'],
};

const VALUE_ALIASES: Record<string, PreferredAnswer | null> = {
  chosen: 'chosen',
  y_w: 'chosen',
  yw: 'chosen',
  rejected: 'rejected',
  y_l: 'rejected',
  yl: 'rejected',
  '': null,
  skip: null,
  skipped: null,
  none: null,
};

function field(record: Record<string, unknown>, name: keyof PreferenceLabel): { key?: string; value: unknown } {
  const key = FIELD_ALIASES[name].find((alias) => alias in record);
  return key === undefined ? { value: undefined } : { key, value: record[key] };
}

function toLabel(record: unknown, line: number): PreferenceLabel | ImportIssue {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return { line, message: 'expected an object with pair id, annotator and preferred' };
  const row = record as Record<string, unknown>;
  const pairId = field(row, 'pairId');
  const annotator = field(row, 'annotator');
  const preferred = field(row, 'preferred');
  const text = (value: unknown) => (typeof value === 'number' ? String(value) : value);
  const raw = preferred.value === undefined || preferred.value === null ? '' : String(preferred.value).trim().toLowerCase();
  if (!(raw in VALUE_ALIASES)) return { line, field: preferred.key ?? 'preferred', message: `expected "chosen" or "rejected" (or empty when not labelled), got "${String(preferred.value)}"` };
  const parsed = PreferenceLabel.safeParse({ pairId: text(pairId.value), annotator: text(annotator.value), preferred: VALUE_ALIASES[raw] });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const name = issue?.path[0] as keyof PreferenceLabel | undefined;
  const spelled = name === 'pairId' ? pairId.key : name === 'annotator' ? annotator.key : undefined;
  return { line, field: spelled ?? String(name ?? ''), message: `expected a non-empty ${name === 'pairId' ? 'pair id' : 'annotator'}` };
}

/** Labels from JSON Lines or CSV text (told apart by the first character: `{` is JSON Lines). */
export function importLabels(text: string): LabelsRead {
  const read = text.trimStart().startsWith('{') ? readJsonLines(text) : readCsv(text);
  const labels: PreferenceLabel[] = [];
  if (read.fileIssue) return { labels: [], issues: [read.fileIssue] };
  const issues = [...read.issues];
  const seen = new Map<string, number>();
  for (const { line, value } of read.rows) {
    const label = toLabel(value, line);
    if ('message' in label) {
      issues.push(label);
      continue;
    }
    const key = `${label.pairId}\u0000${label.annotator}`;
    const first = seen.get(key);
    if (first !== undefined) {
      issues.push({ line, message: `a second label of "${label.annotator}" for pair "${label.pairId}" (first on line ${first}); the first is kept` });
      continue;
    }
    seen.set(key, line);
    labels.push(label);
  }
  return { labels, issues };
}

/** Labels as JSON Lines (`{"pairId", "annotator", "preferred"}` per line), which importLabels reads back. */
export function exportLabels(labels: readonly PreferenceLabel[]): string {
  return labels.map((label) => `${JSON.stringify(PreferenceLabel.parse(label))}\n`).join('');
}
