/**
 * The data model every part of the playground shares: preference pairs, personas, pair sets, and the two record
 * layouts of the authors' FamousPersona code (spec §1.3 raw annotated records, §1.4 formatted "prefs" records).
 * Each schema is a value and a type of the same name, parsed at every entry point (files, pasted text, worker
 * messages, storage). Validation messages say what was expected and what arrived, so they can be shown to people
 * as they are.
 */
import { z } from 'zod';
import { ChatMessage } from './chat.ts';

/** How a value reads in "expected …, got …" messages: its kind, never its (possibly huge) content. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (value === '') return 'an empty string';
  return typeof value;
}

/** "expected X, got Y", worded differently when the field is absent altogether. */
export function expectation(expected: string, input: unknown): string {
  return input === undefined ? `expected ${expected}, but the field is missing` : `expected ${expected}, got ${describeValue(input)}`;
}

/** Quotes a short string value for a message; anything else is described by its kind. */
function quoteForMessage(value: unknown): string {
  const maxLength = 40;
  if (typeof value !== 'string') return describeValue(value);
  return JSON.stringify(value.length > maxLength ? `${value.slice(0, maxLength)}…` : value);
}

const NonEmptyString = z
  .string({ error: (issue) => expectation('a non-empty string', issue.input) })
  .min(1, { error: 'expected a non-empty string, got an empty string' });

/** Text that must say something: a prompt of spaces is as empty as no prompt. */
const NonBlankString = z
  .string({ error: (issue) => expectation('a non-empty string', issue.input) })
  .refine((text) => text.trim() !== '', {
    error: (issue) => `expected a non-empty string, got ${issue.input === '' ? 'an empty string' : 'only whitespace'}`,
  });

function enumWithMessage<const Values extends readonly [string, ...string[]]>(values: Values) {
  const expected = `one of ${values.map((value) => JSON.stringify(value)).join(', ')}`;
  return z.enum(values, { error: (issue) => `expected ${expected}, got ${quoteForMessage(issue.input)}` });
}

export const QuestionType = enumWithMessage(['personal', 'divergent']);
export type QuestionType = z.infer<typeof QuestionType>;

export const Split = enumWithMessage(['train', 'test']);
export type Split = z.infer<typeof Split>;

/** The file formats pairs are imported from and exported to. */
export const PairFormat = enumWithMessage(['json', 'jsonl', 'csv']);
export type PairFormat = z.infer<typeof PairFormat>;

/**
 * One preference: for `prompt`, the person prefers `chosen` over `rejected` (the paper's x, y_w, y_l). Optional
 * text fields are non-empty when present, so "absent" has one spelling. `meta` keeps whatever else a source record
 * carried (the authors' `y_cot`, `diverse_ys`, `raw_completions`, `cv`, …).
 */
export const PreferencePair = z.object({
  id: NonEmptyString,
  persona: NonEmptyString.optional(),
  axis: NonEmptyString.optional(),
  type: QuestionType.optional(),
  split: Split.optional(),
  prompt: NonBlankString,
  chosen: NonEmptyString,
  rejected: NonEmptyString,
  meta: z.record(z.string(), z.unknown(), { error: (issue) => expectation('an object', issue.input) }).optional(),
});
export type PreferencePair = z.infer<typeof PreferencePair>;

/**
 * A person as the prefix strategies see them. `prefixes` holds prefix texts keyed by kind (`persona`, `gold`, `tag`,
 * `few-shot`, `custom`, or an authors' field name such as `persona_xy_4s`, spec §1.6).
 */
export const Persona = z.object(
  {
    name: NonEmptyString.optional(),
    axis: NonEmptyString.optional(),
    category: NonEmptyString.optional(),
    prefixes: z.record(z.string(), z.string({ error: (issue) => expectation('a string', issue.input) }), {
      error: (issue) => expectation('an object of prefix texts', issue.input),
    }),
  },
  { error: (issue) => expectation('a persona object', issue.input) },
);
export type Persona = z.infer<typeof Persona>;

/** Our canonical JSON document: a named set of pairs, with the personas they belong to when known. */
export const PairSet = z.object({
  name: NonEmptyString,
  pairs: z.array(PreferencePair),
  personas: z.array(Persona).optional(),
});
export type PairSet = z.infer<typeof PairSet>;

/** The authors' code says "common" for what the paper calls a divergent question. */
export const AuthorsQuestionType = enumWithMessage(['personal', 'common']);
export type AuthorsQuestionType = z.infer<typeof AuthorsQuestionType>;

export const AUTHORS_QUESTION_TYPE = {
  personal: 'personal',
  divergent: 'common',
} as const satisfies Record<QuestionType, AuthorsQuestionType>;

/**
 * A raw annotated record (spec §1.3): `yw` is the judge's winner, `yl` a random loser. `axis` is null for personal
 * questions. The pipeline's other columns (`y_cot`, `diverse_ys`, `raw_completions`, …) pass through untouched.
 */
export const AuthorsRawRecord = z.looseObject({
  name: z.string().optional(),
  prompt: z.string(),
  question_type: AuthorsQuestionType.optional(),
  axis: z.string().nullable(),
  yw: z.string(),
  yl: z.string(),
});
export type AuthorsRawRecord = z.infer<typeof AuthorsRawRecord>;

/** The two turns of a formatted answer: the (prefixed) prompt as the user, then the answer as the assistant. */
export const AuthorsTurns = z.tuple([
  ChatMessage.extend({ role: z.literal('user') }),
  ChatMessage.extend({ role: z.literal('assistant') }),
]);
export type AuthorsTurns = z.infer<typeof AuthorsTurns>;

/**
 * A formatted "prefs" record (spec §1.4), what the authors score and train on. `prompt` is the user text after the
 * prefix template, repeated as the user turn of both `chosen` and `rejected`.
 */
export const AuthorsFormattedRecord = z.object({
  name: z.string().optional(),
  prompt: z.string(),
  chosen: AuthorsTurns,
  rejected: AuthorsTurns,
  question_type: AuthorsQuestionType.optional(),
  cv: z.number().int().optional(),
});
export type AuthorsFormattedRecord = z.infer<typeof AuthorsFormattedRecord>;
