import { describe, expect, it } from 'vitest';
import {
  AUTHORS_QUESTION_TYPE,
  AuthorsFormattedRecord,
  AuthorsRawRecord,
  AuthorsTurns,
  PairFormat,
  PairSet,
  Persona,
  PreferencePair,
  QuestionType,
  Split,
  describeValue,
  expectation,
} from '../../src/core/schema.ts';

const minimalPair = { id: 'p1', prompt: 'What do you eat for breakfast?', chosen: 'Eggs and bacon.', rejected: 'Oatmeal.' };

/** Each schema issue as [path, message], the part a person reads. */
function issuesOf(result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) {
  return (result.error?.issues ?? []).map((issue) => [issue.path.join('.'), issue.message]);
}

describe('describeValue and expectation', () => {
  it('names kinds of values, not their content', () => {
    expect([null, [], '', 'text', 3, true, {}, undefined].map(describeValue)).toEqual([
      'null',
      'array',
      'an empty string',
      'string',
      'number',
      'boolean',
      'object',
      'undefined',
    ]);
  });

  it('says when a field is missing rather than "got undefined"', () => {
    expect(expectation('a non-empty string', 4)).toBe('expected a non-empty string, got number');
    expect(expectation('a non-empty string', undefined)).toBe('expected a non-empty string, but the field is missing');
  });
});

describe('PreferencePair', () => {
  it('accepts a minimal pair and keeps every optional field', () => {
    const full = { ...minimalPair, persona: 'Halle Berry', axis: 'diet', type: 'divergent', split: 'test', meta: { cv: 4 } };
    expect(PreferencePair.parse(minimalPair)).toEqual(minimalPair);
    expect(PreferencePair.parse(full)).toEqual(full);
  });

  it('keeps the prompt as given: whitespace around it is content', () => {
    expect(PreferencePair.parse({ ...minimalPair, prompt: '  Why?\n' }).prompt).toBe('  Why?\n');
  });

  it('says what each invalid field should have been', () => {
    const result = PreferencePair.safeParse({ id: '', prompt: '  \n', chosen: 5, type: 'common', split: 'dev', meta: [1] });
    expect(issuesOf(result)).toEqual([
      ['id', 'expected a non-empty string, got an empty string'],
      ['type', 'expected one of "personal", "divergent", got "common"'],
      ['split', 'expected one of "train", "test", got "dev"'],
      ['prompt', 'expected a non-empty string, got only whitespace'],
      ['chosen', 'expected a non-empty string, got number'],
      ['rejected', 'expected a non-empty string, but the field is missing'],
      ['meta', 'expected an object, got array'],
    ]);
  });

  it('tells an empty prompt from a blank one, and rejects empty optional text', () => {
    expect(issuesOf(PreferencePair.safeParse({ ...minimalPair, prompt: '' }))).toEqual([
      ['prompt', 'expected a non-empty string, got an empty string'],
    ]);
    expect(issuesOf(PreferencePair.safeParse({ ...minimalPair, persona: '' }))).toEqual([
      ['persona', 'expected a non-empty string, got an empty string'],
    ]);
  });

  it('shortens long invalid enum values in messages', () => {
    const result = QuestionType.safeParse('x'.repeat(100));
    expect(issuesOf(result)).toEqual([['', `expected one of "personal", "divergent", got "${'x'.repeat(40)}…"`]]);
  });
});

describe('enums', () => {
  it('lists the accepted values', () => {
    expect(QuestionType.options).toEqual(['personal', 'divergent']);
    expect(Split.options).toEqual(['train', 'test']);
    expect(PairFormat.options).toEqual(['json', 'jsonl', 'csv']);
  });

  it('maps the paper\'s "divergent" to the authors\' "common"', () => {
    expect(AUTHORS_QUESTION_TYPE).toEqual({ personal: 'personal', divergent: 'common' });
  });
});

describe('Persona and PairSet', () => {
  it('accepts prefix texts keyed by kind', () => {
    const persona = { name: 'Halle Berry', axis: 'diet', category: 'Ketogenic', prefixes: { gold: 'A keto actor.', tag: '<special_person_tag_3>' } };
    expect(Persona.parse(persona)).toEqual(persona);
  });

  it('names the prefix that is not text', () => {
    expect(issuesOf(Persona.safeParse({ prefixes: { gold: 1 } }))).toEqual([['prefixes.gold', 'expected a string, got number']]);
    expect(issuesOf(Persona.safeParse('Halle'))).toEqual([['', 'expected a persona object, got string']]);
  });

  it('validates the pairs inside a pair set, by position', () => {
    const set = { name: 'demo', pairs: [minimalPair, { ...minimalPair, chosen: '' }] };
    expect(issuesOf(PairSet.safeParse(set))).toEqual([['pairs.1.chosen', 'expected a non-empty string, got an empty string']]);
    expect(PairSet.parse({ ...set, pairs: [minimalPair], personas: [] })).toEqual({ name: 'demo', pairs: [minimalPair], personas: [] });
  });
});

describe("the authors' records", () => {
  it('reads a raw annotated record, keeping the pipeline columns', () => {
    const raw = { name: 'Halle Berry', prompt: 'Best diet?', question_type: 'common', axis: 'diet', yw: 'Keto.', yl: 'Vegan.', y_cot: ['Axis: diet'] };
    expect(AuthorsRawRecord.parse(raw)).toEqual(raw);
    expect(AuthorsRawRecord.parse({ ...raw, question_type: 'personal', axis: null }).axis).toBeNull();
    expect(issuesOf(AuthorsRawRecord.safeParse({ ...raw, question_type: 'divergent' }))).toEqual([
      ['question_type', 'expected one of "personal", "common", got "divergent"'],
    ]);
  });

  it('reads a formatted record whose answers are [user, assistant] turns', () => {
    const turns = (answer: string) => [
      { content: 'Prefixed question', role: 'user' },
      { content: answer, role: 'assistant' },
    ];
    const formatted = { name: 'Halle Berry', prompt: 'Prefixed question', chosen: turns('Keto.'), rejected: turns('Vegan.'), cv: 4 };
    expect(AuthorsFormattedRecord.parse(formatted)).toEqual(formatted);
    expect(AuthorsTurns.safeParse([...turns('Keto.')].reverse()).success).toBe(false);
    expect(AuthorsTurns.safeParse(turns('Keto.').slice(0, 1)).success).toBe(false);
  });
});
