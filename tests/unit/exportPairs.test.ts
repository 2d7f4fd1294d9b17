import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exportPairs, toAuthorsFormattedRecord, toAuthorsRawRecord } from '../../src/core/exportPairs.ts';
import { contentKey } from '../../src/core/import/contentId.ts';
import { importPairs } from '../../src/core/importPairs.ts';
import type { PreferencePair } from '../../src/core/schema.ts';

const plain: PreferencePair = { id: 'p1', prompt: 'Breakfast?', chosen: 'Eggs.', rejected: 'Oats.' };
const full: PreferencePair = {
  id: 'p2',
  persona: 'Halle Berry',
  axis: 'diet',
  type: 'divergent',
  split: 'test',
  prompt: 'Best diet, "really"?',
  chosen: 'Keto,\nalways.',
  rejected: 'Vegan.',
  meta: { cv: 4 },
};

describe('exportPairs', () => {
  it('writes pretty JSON, one field per line', () => {
    expect(exportPairs([plain], 'json')).toBe(
      '[\n  {\n    "id": "p1",\n    "prompt": "Breakfast?",\n    "chosen": "Eggs.",\n    "rejected": "Oats."\n  }\n]\n',
    );
  });

  it('writes one JSON object per line', () => {
    expect(exportPairs([plain, full], 'jsonl')).toBe(
      '{"id":"p1","prompt":"Breakfast?","chosen":"Eggs.","rejected":"Oats."}\n' +
        '{"id":"p2","persona":"Halle Berry","axis":"diet","type":"divergent","split":"test","prompt":"Best diet, \\"really\\"?","chosen":"Keto,\\nalways.","rejected":"Vegan.","meta":{"cv":4}}\n',
    );
    expect(exportPairs([], 'jsonl')).toBe('');
  });

  it('writes CSV with every column, quoting what needs it and meta as JSON', () => {
    expect(exportPairs([plain, full], 'csv')).toBe(
      'id,persona,axis,type,split,prompt,chosen,rejected,meta\n' +
        'p1,,,,,Breakfast?,Eggs.,Oats.,\n' +
        'p2,Halle Berry,diet,divergent,test,"Best diet, ""really""?","Keto,\nalways.",Vegan.,"{""cv"":4}"\n',
    );
  });
});

describe("the authors' layouts", () => {
  it('writes a raw record: divergent as "common", no axis as null', () => {
    expect(toAuthorsRawRecord(full)).toEqual({ cv: 4, name: 'Halle Berry', prompt: 'Best diet, "really"?', question_type: 'common', axis: 'diet', yw: 'Keto,\nalways.', yl: 'Vegan.' });
    expect(toAuthorsRawRecord(plain)).toEqual({ prompt: 'Breakfast?', axis: null, yw: 'Eggs.', yl: 'Oats.' });
  });

  it('writes back an imported raw record as it was', () => {
    const raw = { name: 'Halle Berry', prompt: 'Best diet?', question_type: 'common', axis: 'diet', y_cot: ['Axis: diet'], diverse_ys: ['a', 'b', 'c', 'd'], yw: 'Keto.', yl: 'Vegan.' };
    const [imported] = importPairs(JSON.stringify(raw)).pairs;
    expect(imported && toAuthorsRawRecord(imported)).toEqual(raw);
  });

  it('writes a formatted record whose turns carry the prefixed prompt', () => {
    const userContent = 'You are talking to Halle Berry.\nBest diet?';
    expect(toAuthorsFormattedRecord(full, userContent)).toEqual({
      name: 'Halle Berry',
      prompt: userContent,
      chosen: [
        { role: 'user', content: userContent },
        { role: 'assistant', content: 'Keto,\nalways.' },
      ],
      rejected: [
        { role: 'user', content: userContent },
        { role: 'assistant', content: 'Vegan.' },
      ],
      question_type: 'common',
      cv: 4,
    });
    expect(Object.keys(toAuthorsFormattedRecord({ ...plain, meta: { cv: 'four' } }, 'Q'))).toEqual(['prompt', 'chosen', 'rejected']);
  });

  it('writes back an imported formatted record as it was', () => {
    const turns = (answer: string) => [
      { role: 'user', content: 'Prefix. Q?' },
      { role: 'assistant', content: answer },
    ];
    const formatted = { name: 'Beyoncé', prompt: 'Prefix. Q?', chosen: turns('A.'), rejected: turns('B.'), question_type: 'personal', cv: 2 };
    const [imported] = importPairs(JSON.stringify(formatted)).pairs;
    expect(imported && toAuthorsFormattedRecord(imported, imported.prompt)).toEqual(formatted);
  });
});

describe('round trips', () => {
  // Characters that break naive writers and readers, mixed with any code point.
  const trickyCharacter = fc.constantFrom('"', "'", ',', ';', '\t', '\n', '\r', '\r\n', ' ', '\\', '{', '}', '[', ']', '=', 'é', '漢', '😀', '\u2028', '\u0000', '\uFEFF', '\ud800');
  const text = fc.string({ unit: fc.oneof(trickyCharacter, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 24 });
  const nonEmptyText = text.filter((value) => value !== '');
  const metaValue = fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(null), fc.array(text, { maxLength: 3 }));

  const pairArbitrary = (metaKey: fc.Arbitrary<string>) =>
    fc.record(
      {
        id: nonEmptyText,
        persona: nonEmptyText,
        axis: nonEmptyText,
        type: fc.constantFrom('personal', 'divergent'),
        split: fc.constantFrom('train', 'test'),
        prompt: text.filter((value) => value.trim() !== ''),
        chosen: nonEmptyText,
        rejected: nonEmptyText,
        meta: fc.dictionary(metaKey, metaValue, { maxKeys: 3 }),
      },
      { requiredKeys: ['id', 'prompt', 'chosen', 'rejected'] },
    ) satisfies fc.Arbitrary<PreferencePair>;

  // Later duplicates are dropped on import, so the generated pairs are distinct by id and by content. At least one:
  // no pairs as JSON Lines is an empty text, which import reports as such.
  const distinctPairs = (metaKey: fc.Arbitrary<string>) =>
    fc.uniqueArray(pairArbitrary(metaKey), { minLength: 1, maxLength: 6, comparator: (a, b) => a.id === b.id || contentKey(a) === contentKey(b) });

  it.each(['json', 'jsonl', 'csv'] as const)('export to %s then import gives the same pairs', (format) => {
    fc.assert(
      fc.property(distinctPairs(text), (pairs) => {
        const result = importPairs(exportPairs(pairs, format));
        expect(result.issues).toEqual([]);
        expect(result.duplicates).toEqual([]);
        expect(result.pairs).toEqual(pairs);
        expect(result.format).toBe(format);
      }),
      { numRuns: 300 },
    );
  });

  it("raw authors' records read back to the same pairs, less the id and split they do not carry", () => {
    // Meta keys come back as columns of the raw record, so they must not be spellings of pair fields.
    const extraColumn = text.map((key) => `extra_${key}`);
    fc.assert(
      fc.property(distinctPairs(extraColumn), (pairs) => {
        const lines = pairs.map((pair) => JSON.stringify(toAuthorsRawRecord(pair))).join('\n');
        const result = importPairs(lines);
        expect(result.issues).toEqual([]);
        expect(result.pairs.map(({ id: _id, ...rest }) => rest)).toEqual(
          pairs.map(({ id: _id, split: _split, meta, ...rest }) => ({ ...rest, ...(meta && Object.keys(meta).length > 0 && { meta }) })),
        );
      }),
      { numRuns: 300 },
    );
  });
});
