/**
 * Turns one record of any accepted shape into a preference pair (its id, if missing, is derived later), or into
 * issues that name the field as the source spelled it. Records are recognised by their fields, not by a declared
 * shape: each pair field has a list of aliases covering our canonical records, the authors' raw records
 * (`name`, `question_type`, `yw`, `yl`), the authors' formatted records (`chosen` / `rejected` as message lists) and
 * common spellings (`x`/`y_w`/`y_l`, `question`/`preferred`/`dispreferred`, `response_chosen`/`response_rejected`).
 * Every field no alias claims goes to `meta`, so no data is lost on the way in.
 */
import { AUTHORS_QUESTION_TYPE, AuthorsTurns, expectation, PreferencePair } from '../schema.ts';
import { describeFields, isPlainObject, type ImportIssue } from './rows.ts';

export type PairDefaults = Partial<Pick<PreferencePair, 'persona' | 'split' | 'type' | 'axis'>>;
export type PairWithoutId = Omit<PreferencePair, 'id'> & { id?: string };
type FieldIssue = Omit<ImportIssue, 'line'>;
export type NormalizedRecord = { ok: true; pair: PairWithoutId } | { ok: false; issues: FieldIssue[] };

/** Where each pair field may come from, in order of preference (also the CSV header names the page writes to). */
export const FIELD_ALIASES = {
  id: ['id'],
  persona: ['persona', 'name'],
  axis: ['axis'],
  type: ['type', 'question_type'],
  split: ['split'],
  prompt: ['prompt', 'x', 'question'],
  chosen: ['chosen', 'yw', 'y_w', 'preferred', 'response_chosen'],
  rejected: ['rejected', 'yl', 'y_l', 'dispreferred', 'response_rejected'],
  meta: ['meta'],
} as const satisfies Record<keyof PreferencePair, readonly string[]>;

type PairField = keyof typeof FIELD_ALIASES;
const PAIR_FIELDS = Object.keys(FIELD_ALIASES) as PairField[];
const ALIASED_KEYS: ReadonlySet<string> = new Set(Object.values(FIELD_ALIASES).flat());
const OPTIONAL_TEXT_FIELDS = ['id', 'persona', 'axis', 'type', 'split'] as const;

const CandidatePair = PreferencePair.extend({ id: PreferencePair.shape.id.optional() });

const EXPECTED_SHAPES =
  'prompt, chosen and rejected (or the authors\' prompt, yw and yl; x, y_w and y_l; question, preferred and dispreferred)';
const EXPECTED_TURNS = 'a message list [{"role": "user", "content": …}, {"role": "assistant", "content": …}]';

/** Null and the empty string both mean "not given" for optional fields: CSV cannot tell them apart from absence. */
function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

export function normalizeRecord(record: unknown, defaults: PairDefaults = {}): NormalizedRecord {
  if (!isPlainObject(record)) {
    return { ok: false, issues: [{ message: expectation(`an object with ${EXPECTED_SHAPES}`, record) }] };
  }
  const issues: FieldIssue[] = [];
  const sourceKeys: Partial<Record<PairField, string>> = {};
  const values: Partial<Record<PairField, unknown>> = {};
  for (const field of PAIR_FIELDS) {
    const keys = FIELD_ALIASES[field].filter((alias) => Object.hasOwn(record, alias));
    const given = keys.filter((key) => !isAbsent(record[key]));
    if (given.length > 1) {
      issues.push({ field: given[1], message: `expected one field giving the ${field}, got both "${given[0]}" and "${given[1]}"` });
    }
    const key = given[0] ?? keys[0];
    if (key !== undefined) {
      sourceKeys[field] = key;
      values[field] = record[key];
    }
  }
  if (sourceKeys.prompt === undefined && sourceKeys.chosen === undefined && sourceKeys.rejected === undefined) {
    return { ok: false, issues: [{ message: `expected a record with ${EXPECTED_SHAPES}, got ${describeFields(record)}` }] };
  }

  const extras: Record<string, unknown> = Object.fromEntries(Object.entries(record).filter(([key]) => !ALIASED_KEYS.has(key)));
  takeAnswersFromTurns(values, sourceKeys, extras, issues);
  if (values.type === AUTHORS_QUESTION_TYPE.divergent) values.type = 'divergent';
  for (const field of OPTIONAL_TEXT_FIELDS) {
    if (isAbsent(values[field])) values[field] = field === 'id' ? undefined : defaults[field];
  }
  if (isAbsent(values.meta)) values.meta = undefined;
  if (Object.keys(extras).length > 0 && (values.meta === undefined || isPlainObject(values.meta))) {
    values.meta = { ...extras, ...values.meta };
  }

  const candidate = Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined));
  const parsed = CandidatePair.safeParse(candidate);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = issue.path[0] as PairField | undefined;
      issues.push({ ...(field !== undefined && { field: sourceKeys[field] ?? field }), message: issue.message });
    }
  }
  if (!parsed.success || issues.length > 0) return { ok: false, issues: firstIssuePerField(issues) };
  // zod rebuilds records by assignment, which would turn a "__proto__" key into a prototype; meta needs no
  // conversion, so the checked original is kept.
  return { ok: true, pair: { ...parsed.data, ...(candidate.meta !== undefined && { meta: candidate.meta as Record<string, unknown> }) } };
}

/**
 * The authors' formatted records give each answer as [user turn, assistant turn]: the answer is the assistant's
 * content and the prompt is the user's (the prefixed prompt, spec §1.4). A top-level prompt that differs from the
 * user turn is kept in meta rather than lost.
 */
function takeAnswersFromTurns(
  values: Partial<Record<PairField, unknown>>,
  sourceKeys: Partial<Record<PairField, string>>,
  extras: Record<string, unknown>,
  issues: FieldIssue[],
): void {
  let userTurn: { text: string; field: string } | undefined;
  for (const field of ['chosen', 'rejected'] as const) {
    const key = sourceKeys[field] ?? field;
    if (!Array.isArray(values[field])) continue;
    const turns = AuthorsTurns.safeParse(values[field]);
    if (!turns.success) {
      issues.push({ field: key, message: `expected a string or ${EXPECTED_TURNS}` });
      continue;
    }
    const [user, assistant] = turns.data;
    values[field] = assistant.content;
    sourceKeys[field] = `${key}[1].content`;
    if (userTurn === undefined) {
      userTurn = { text: user.content, field: `${key}[0].content` };
    } else if (user.content !== userTurn.text) {
      issues.push({ field: `${key}[0].content`, message: `expected the same user turn as ${userTurn.field}` });
    }
  }
  if (userTurn === undefined) return;
  if (sourceKeys.prompt !== undefined && values.prompt !== userTurn.text) extras[sourceKeys.prompt] = values.prompt;
  values.prompt = userTurn.text;
  sourceKeys.prompt = userTurn.field;
}

/** One message per field is enough: a field that is not a message list need not also be told it is not a string. */
function firstIssuePerField(issues: FieldIssue[]): FieldIssue[] {
  const seen = new Set<string | undefined>();
  return issues.filter((issue) => {
    if (seen.has(issue.field)) return false;
    seen.add(issue.field);
    return true;
  });
}
