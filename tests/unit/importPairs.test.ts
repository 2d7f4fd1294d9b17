import { describe, expect, it } from 'vitest';
import { detectPairFormat, formatDuplicate, formatImportIssue, importPairs, invalidRowCount, type ImportOptions } from '../../src/core/importPairs.ts';
import { contentId } from '../../src/core/import/contentId.ts';
import { MAX_JSON_DEPTH, parseJsonWithLines } from '../../src/core/import/jsonWithLines.ts';

const pair = { prompt: 'What do you eat for breakfast?', chosen: 'Eggs and bacon.', rejected: 'Oatmeal.' };
const jsonl = (...records: unknown[]) => records.map((record) => (typeof record === 'string' ? record : JSON.stringify(record))).join('\n');

/** Issues as the one-line text people read, which pins line, field and message at once. */
const issueLines = (text: string, options?: ImportOptions) => importPairs(text, options).issues.map(formatImportIssue);

describe('detectPairFormat', () => {
  it.each([
    ['[{"prompt": "p"}]', undefined, 'json'],
    ['  \n[\n]', 'pairs.jsonl', 'json'],
    ['{"prompt": "p"}\n{"prompt": "q"}', 'train_prefs.json', 'jsonl'],
    ['{"prompt": "p"}', undefined, 'jsonl'],
    ['{"name": "demo", "pairs": []}', undefined, 'json'],
    ['{\n  "name": "demo",\n  "pairs": []\n}', undefined, 'json'],
    ['{\n  "prompt": "p"\n}', 'pairs.jsonl', 'jsonl'],
    ['prompt,chosen,rejected\np,a,b', undefined, 'csv'],
    ['prompt\tchosen\trejected', 'pairs.json', 'json'],
    ['prompt\tchosen\trejected', 'pairs.TSV', 'csv'],
    ['', 'pairs.csv', 'csv'],
    ['', undefined, 'json'],
  ] as const)('%j (file %s) is %s', (text, fileName, format) => {
    expect(detectPairFormat(text, fileName)).toBe(format);
  });

  it('is what importPairs reports, unless a format is forced', () => {
    expect(importPairs(jsonl(pair)).format).toBe('jsonl');
    expect(importPairs(JSON.stringify(pair), { format: 'json' }).issues.map(formatImportIssue)).toEqual([
      'line 1: expected an array of pairs or a pair set {"name": …, "pairs": […]}, got an object with fields "prompt", "chosen", "rejected"',
    ]);
  });
});

describe('JSON documents', () => {
  it('reads a bare array, each pair at the line where its element starts', () => {
    const text = `[\n  ${JSON.stringify({ ...pair, id: 'a' })},\n\n  {\n    "id": "b",\n    "prompt": "Why?"\n  }\n]`;
    const result = importPairs(text);
    expect(result.format).toBe('json');
    expect(result.pairs).toEqual([{ id: 'a', ...pair }]);
    expect(result.issues.map(formatImportIssue)).toEqual([
      'line 4: field "chosen": expected a non-empty string, but the field is missing',
      'line 4: field "rejected": expected a non-empty string, but the field is missing',
    ]);
  });

  it('reads a pair set with its name and personas', () => {
    const persona = { name: 'Halle Berry', axis: 'diet', prefixes: { gold: 'A keto fan.' } };
    const result = importPairs(JSON.stringify({ name: 'demo', pairs: [{ id: 'a', ...pair }], personas: [persona] }, null, 2));
    expect(result).toEqual({ format: 'json', pairs: [{ id: 'a', ...pair }], issues: [], duplicates: [], name: 'demo', personas: [persona] });
  });

  it('reports invalid personas and names at their lines, and keeps the pairs', () => {
    const text = '{"name": 3, "pairs": [\n' + JSON.stringify({ id: 'a', ...pair }) + '\n], "personas": [\n{"prefixes": {"gold": 1}},\n{"prefixes": {}}\n]}';
    const result = importPairs(text);
    expect(result.pairs).toEqual([{ id: 'a', ...pair }]);
    expect(result.personas).toEqual([{ prefixes: {} }]);
    expect(result.name).toBeUndefined();
    expect(result.issues.map(formatImportIssue)).toEqual([
      'line 1: field "name": expected a non-empty string, got number',
      'line 4: field "personas[0].prefixes.gold": expected a string, got number',
    ]);
  });

  it('gives one clear issue for a document that is neither an array nor a pair set', () => {
    expect(issueLines('{\n  "title": "x",\n  "items": []\n}')).toEqual([
      'line 1: expected an array of pairs or a pair set {"name": …, "pairs": […]}, got an object with fields "title", "items"',
    ]);
    expect(issueLines('"just text"', { format: 'json' })).toEqual([
      'line 1: expected an array of pairs or a pair set {"name": …, "pairs": […]}, got string',
    ]);
  });

  it('reports the line and column of a syntax error', () => {
    expect(issueLines('[\n  {"prompt": "p",\n   "chosen": "a" "rejected": "b"}\n]')).toEqual([
      'line 3: invalid JSON at column 18: expected \',\' or \'}\' after a property value, got "\\""',
    ]);
    expect(issueLines('[\n  {"prompt": "p"},\n]')).toEqual(['line 3: invalid JSON at column 1: expected a value, got "]"']);
    expect(issueLines('[{"prompt": "unterminated\n"}]')).toEqual([
      'line 1: invalid JSON at column 26: expected a closing double quote (line breaks and other control characters must be escaped), got "\\n"',
    ]);
    expect(issueLines('[1] [2]')).toEqual(['line 1: invalid JSON at column 5: expected the end of the document after the value, got "["']);
  });

  it('decodes escapes like JSON.parse and keeps "__proto__" as data', () => {
    const text = '[{"prompt": "tab\\there \\u00e9 \\ud83d\\ude00", "chosen": "a\\"b", "rejected": "c\\\\d", "__proto__": "x"}]';
    const [imported] = importPairs(text).pairs;
    expect(imported?.prompt).toBe('tab\there é 😀');
    expect(imported?.chosen).toBe('a"b');
    expect(imported?.rejected).toBe('c\\d');
    expect(Object.getOwnPropertyDescriptor(imported?.meta, '__proto__')?.value).toBe('x');
  });
});

describe('JSON Lines', () => {
  it('skips blank lines but keeps the file\'s line numbers', () => {
    const text = ['', JSON.stringify({ id: 'a', ...pair }), '   ', '', JSON.stringify({ id: 'b', ...pair, chosen: 3 }), ''].join('\n');
    const result = importPairs(text);
    expect(result.format).toBe('jsonl');
    expect(result.pairs).toEqual([{ id: 'a', ...pair }]);
    expect(result.issues.map(formatImportIssue)).toEqual(['line 5: field "chosen": expected a non-empty string, got number']);
  });

  it('reads Windows line endings and reports unparseable lines with their column', () => {
    const text = [JSON.stringify({ id: 'a', ...pair }), '{"prompt": "p", chosen: "a"}', JSON.stringify({ id: 'c', ...pair, prompt: 'Other?' })].join('\r\n');
    const result = importPairs(text);
    expect(result.pairs.map((imported) => imported.id)).toEqual(['a', 'c']);
    expect(result.issues.map(formatImportIssue)).toEqual([
      'line 2: invalid JSON at column 17: expected a property name in double quotes, got "c"',
    ]);
  });

  it('reads a file without a trailing newline', () => {
    expect(importPairs(jsonl({ id: 'a', ...pair })).pairs).toHaveLength(1);
  });
});

describe('CSV', () => {
  it('reports the first line of rows whose quoted fields span lines', () => {
    const text = [
      'id,prompt,chosen,rejected',
      'a,"Two',
      'lines","Says ""hi"", then',
      'leaves",no',
      '',
      'b,Why?,,no',
    ].join('\n');
    const result = importPairs(text);
    expect(result.format).toBe('csv');
    expect(result.pairs).toEqual([{ id: 'a', prompt: 'Two\nlines', chosen: 'Says "hi", then\nleaves', rejected: 'no' }]);
    expect(result.issues.map(formatImportIssue)).toEqual(['line 6: field "chosen": expected a non-empty string, got an empty string']);
  });

  it('reads tab-separated text with CRLF line ends and a byte order mark', () => {
    const text = '\uFEFFprompt\tyw\tyl\tname\r\nWhy?\tBecause.\tNo.\tHalle Berry\r\n';
    expect(importPairs(text).pairs).toEqual([
      { id: contentId({ persona: 'Halle Berry', prompt: 'Why?', chosen: 'Because.', rejected: 'No.' }), persona: 'Halle Berry', prompt: 'Why?', chosen: 'Because.', rejected: 'No.' },
    ]);
  });

  it('treats empty optional cells as absent and parses the meta column as JSON', () => {
    const text = 'id,persona,type,split,prompt,chosen,rejected,meta\na,,,,p,c,r,\nb,Halle,personal,train,p,c,r,"{""cv"": 4}"\n';
    expect(importPairs(text).pairs).toEqual([
      { id: 'a', prompt: 'p', chosen: 'c', rejected: 'r' },
      { id: 'b', persona: 'Halle', type: 'personal', split: 'train', prompt: 'p', chosen: 'c', rejected: 'r', meta: { cv: 4 } },
    ]);
  });

  it('keeps other columns in meta as text', () => {
    const text = 'prompt,chosen,rejected,source\np,c,r,survey\n';
    expect(importPairs(text).pairs[0]?.meta).toEqual({ source: 'survey' });
  });

  it('reports rows with the wrong number of fields and invalid meta', () => {
    const text = ['id,prompt,chosen,rejected,meta', 'a,p,c', 'b,p,c,r,"{cv: 4}"', 'c,p,c,r,"[1]"', 'd,p,c,r,', 'e,p,c,r,x,y'].join('\n');
    const result = importPairs(text);
    expect(result.pairs.map((imported) => imported.id)).toEqual(['d']);
    expect(result.issues.map(formatImportIssue)).toEqual([
      'line 2: expected 5 fields as in the header row, got 3',
      'line 3: field "meta": expected a JSON object, got invalid JSON (expected a property name in double quotes, got "c")',
      'line 4: field "meta": expected an object, got array',
      'line 6: expected 5 fields as in the header row, got 6',
    ]);
  });

  it('reports broken quotes, and the lines a stray quote swallowed', () => {
    const strayQuote = ['prompt,chosen,rejected', 'p,"c"x,r', 'q,c,r', 'q2,c,r'].join('\n');
    expect(issueLines(strayQuote)).toEqual([
      'line 2: expected a delimiter or a line break after the closing double quote (write a quote inside a quoted field as "") (so lines 3–4 were read as part of this row)',
    ]);
    const unterminated = ['prompt,chosen,rejected', 'p,c,r', 'q,"never closed,r', ''].join('\n');
    const result = importPairs(unterminated);
    expect(result.pairs.map((imported) => imported.prompt)).toEqual(['p']);
    expect(result.issues.map(formatImportIssue)).toEqual(['line 3: expected a closing double quote for the quoted field that starts on this row']);
  });

  it('refuses a header that names a column twice', () => {
    const result = importPairs('prompt,chosen,chosen,rejected\np,a,b,c\n');
    expect(result.pairs).toEqual([]);
    expect(result.fileIssue?.message).toBe('expected each column name once in the header row, got "chosen" more than once');
    expect(result.issues.map(formatImportIssue)).toEqual(['line 1: expected each column name once in the header row, got "chosen" more than once']);
  });

  it('says once, for the file, when the header has no column for a part of a pair', () => {
    const result = importPairs('prompt,answer,rejected\nQ,A,B\nQ2,A2,B2\n');
    expect(result.pairs).toEqual([]);
    expect(result.issues.map(formatImportIssue)).toEqual([
      'line 1: expected the header row to name a column for chosen (chosen, yw, y_w, preferred, response_chosen), got "prompt", "answer", "rejected"',
    ]);
  });

  it('reads a header without rows as no pairs', () => {
    expect(importPairs('id,prompt,chosen,rejected\n')).toEqual({ format: 'csv', pairs: [], issues: [], duplicates: [] });
  });
});

describe('text that cannot hold pairs: one file-level issue saying what it is', () => {
  const fileIssue = (text: string, options?: ImportOptions) => {
    const result = importPairs(text, options);
    expect(result.pairs).toEqual([]);
    expect(result.issues).toEqual([result.fileIssue]);
    expect(invalidRowCount(result)).toBe(0);
    return result.fileIssue;
  };

  it('an empty file, or one holding only whitespace', () => {
    expect(fileIssue('', { fileName: 'pairs.json' })).toEqual({ line: 1, scope: 'file', message: 'the file is empty' });
    expect(fileIssue('\uFEFF')?.message).toBe('the text is empty');
    expect(fileIssue(' \n\t\n', { fileName: 'x.jsonl' })?.message).toBe('the file holds only whitespace');
  });

  it('an HTML page, whatever the file is called', () => {
    const page = '<!DOCTYPE html>\n<html lang="en"><head><title>pairs.json · GitHub</title></head><body>[{"prompt": "p"}]</body></html>';
    for (const fileName of [undefined, 'pairs.json', 'pairs.jsonl', 'pairs.csv']) {
      expect(fileIssue(page, fileName === undefined ? {} : { fileName })?.message).toMatch(/^this looks like an HTML page, not JSON, JSON Lines or CSV/);
    }
    expect(fileIssue('\n  <html><body>hi</body></html>')?.message).toMatch(/^this looks like an HTML page/);
    expect(fileIssue('<?xml version="1.0"?><pairs/>')?.message).toBe('this looks like XML or HTML markup, not JSON, JSON Lines or CSV');
  });

  it('plain text or a table that names no pair field', () => {
    expect(fileIssue('Dear diary,\ntoday I wrote no pairs.\n')?.message).toBe(
      'expected JSON, JSON Lines or CSV whose header row names prompt, chosen and rejected; read as CSV, the first line names the columns "Dear diary", ""',
    );
  });

  it('a syntax error in a JSON document, at its line and column', () => {
    expect(fileIssue('[\n  {"prompt": "p"},\n]')).toEqual({ line: 3, scope: 'file', message: 'invalid JSON at column 1: expected a value, got "]"' });
  });

  it('JSON nested 20,000 levels deep: refused past the limit, without overflowing the stack', () => {
    const deep = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
    expect(parseJsonWithLines(deep(MAX_JSON_DEPTH)).ok).toBe(true);
    expect(parseJsonWithLines(deep(MAX_JSON_DEPTH + 1))).toMatchObject({ ok: false, reason: 'depth', line: 1, column: MAX_JSON_DEPTH + 1 });
    expect(fileIssue(deep(20_000))).toEqual({
      line: 1,
      scope: 'file',
      message: `JSON nested deeper than ${MAX_JSON_DEPTH} levels of arrays and objects (at column ${MAX_JSON_DEPTH + 1}): pair files need a few; is this the right file?`,
    });
    expect(fileIssue(`${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`)?.message).toMatch(/^JSON nested deeper than 128 levels/);
    // In JSON Lines only the deep line is lost.
    const lines = importPairs(jsonl({ id: 'a', ...pair }, deep(20_000)));
    expect(lines.pairs.map((imported) => imported.id)).toEqual(['a']);
    expect(lines.issues.map(formatImportIssue)).toEqual([
      `line 2: JSON nested deeper than ${MAX_JSON_DEPTH} levels of arrays and objects (at column ${MAX_JSON_DEPTH + 1}): pair files need a few; is this the right file?`,
    ]);
  });
});

describe('record shapes', () => {
  it("reads the authors' raw records: common means divergent, null axis means none, the rest goes to meta", () => {
    const divergent = { name: 'Halle Berry', prompt: 'Best diet?', question_type: 'common', axis: 'diet', y_cot: ['Axis: diet'], diverse_ys: ['a', 'b'], raw_completions: { '0_beats_1': 'A wins' }, yw: 'Keto.', yl: 'Vegan.' };
    const personal = { name: 'Halle Berry', prompt: 'Your first film?', question_type: 'personal', axis: null, yw: 'Jungle Fever.', yl: 'Catwoman.' };
    const [first, second] = importPairs(jsonl(divergent, personal)).pairs;
    expect(first).toEqual({
      id: contentId({ persona: 'Halle Berry', prompt: 'Best diet?', chosen: 'Keto.', rejected: 'Vegan.' }),
      persona: 'Halle Berry',
      axis: 'diet',
      type: 'divergent',
      prompt: 'Best diet?',
      chosen: 'Keto.',
      rejected: 'Vegan.',
      meta: { y_cot: ['Axis: diet'], diverse_ys: ['a', 'b'], raw_completions: { '0_beats_1': 'A wins' } },
    });
    expect(second).toMatchObject({ persona: 'Halle Berry', type: 'personal', prompt: 'Your first film?', chosen: 'Jungle Fever.', rejected: 'Catwoman.' });
    expect(second).not.toHaveProperty('axis');
  });

  const turns = (user: string, answer: string) => [
    { content: user, role: 'user' },
    { content: answer, role: 'assistant' },
  ];

  it("reads the authors' formatted records: prompt from the user turn, answers from the assistant turns", () => {
    const formatted = { name: 'Halle Berry', prompt: 'Prefix. Best diet?', chosen: turns('Prefix. Best diet?', 'Keto.'), rejected: turns('Prefix. Best diet?', 'Vegan.'), question_type: 'personal', cv: 4 };
    expect(importPairs(jsonl(formatted)).pairs).toEqual([
      {
        id: contentId({ persona: 'Halle Berry', prompt: 'Prefix. Best diet?', chosen: 'Keto.', rejected: 'Vegan.' }),
        persona: 'Halle Berry',
        type: 'personal',
        prompt: 'Prefix. Best diet?',
        chosen: 'Keto.',
        rejected: 'Vegan.',
        meta: { cv: 4 },
      },
    ]);
  });

  it('keeps a top-level prompt that differs from the user turn in meta', () => {
    const formatted = { prompt: 'Best diet?', chosen: turns('Prefix. Best diet?', 'Keto.'), rejected: turns('Prefix. Best diet?', 'Vegan.') };
    expect(importPairs(jsonl(formatted)).pairs[0]).toMatchObject({ prompt: 'Prefix. Best diet?', meta: { prompt: 'Best diet?' } });
  });

  it('reports message lists that are not [user, assistant], and user turns that disagree', () => {
    const text = jsonl(
      { chosen: [{ role: 'assistant', content: 'Keto.' }], rejected: turns('Q', 'Vegan.') },
      { chosen: turns('Q', 'Keto.'), rejected: turns('Another Q', 'Vegan.') },
      { chosen: turns('  ', 'Keto.'), rejected: turns('  ', 'Vegan.') },
    );
    expect(issueLines(text)).toEqual([
      'line 1: field "chosen": expected a string or a message list [{"role": "user", "content": …}, {"role": "assistant", "content": …}]',
      'line 2: field "rejected[0].content": expected the same user turn as chosen[0].content',
      'line 3: field "chosen[0].content": expected a non-empty string, got only whitespace',
    ]);
  });

  it.each([
    ['x / y_w / y_l', { x: 'Q', y_w: 'A', y_l: 'B' }],
    ['question / preferred / dispreferred', { question: 'Q', preferred: 'A', dispreferred: 'B' }],
    ['prompt / response_chosen / response_rejected', { prompt: 'Q', response_chosen: 'A', response_rejected: 'B' }],
  ])('reads the %s spelling', (_spelling, record) => {
    expect(importPairs(jsonl(record)).pairs).toEqual([{ id: contentId({ prompt: 'Q', chosen: 'A', rejected: 'B' }), prompt: 'Q', chosen: 'A', rejected: 'B' }]);
  });

  it('names the fields of a record that matches no known shape', () => {
    expect(issueLines(jsonl({ query: 'Q', good: 'A', bad: 'B' }, {}, 'null'))).toEqual([
      "line 1: expected a record with prompt, chosen and rejected (or the authors' prompt, yw and yl; x, y_w and y_l; question, preferred and dispreferred), got an object with fields \"query\", \"good\", \"bad\"",
      "line 2: expected a record with prompt, chosen and rejected (or the authors' prompt, yw and yl; x, y_w and y_l; question, preferred and dispreferred), got an object with no fields",
      "line 3: expected an object with prompt, chosen and rejected (or the authors' prompt, yw and yl; x, y_w and y_l; question, preferred and dispreferred), got null",
    ]);
  });

  it('refuses two fields that both give the same part of a pair', () => {
    expect(issueLines(jsonl({ ...pair, yw: 'Toast.' }))).toEqual(['line 1: field "yw": expected one field giving the chosen, got both "chosen" and "yw"']);
  });
});

describe('invalid rows', () => {
  it('reports each kind of problem with line, field and expectation, and keeps the valid rows', () => {
    const text = jsonl(
      { id: 'ok', ...pair },
      { id: 'missing', prompt: 'Q', chosen: 'A' },
      { id: 'wrong-type', ...pair, rejected: ['B'] },
      { id: 'empty', ...pair, chosen: '' },
      { id: 'enum', ...pair, type: 'shared', split: 'dev' },
      '{"id": "unparseable", ',
      { id: 7, ...pair, prompt: 'Numbered?' },
      { id: 'meta', ...pair, prompt: 'Meta?', meta: 'note' },
      { id: 'ok-too', ...pair, prompt: 'Lunch?' },
    );
    const result = importPairs(text);
    expect(result.pairs.map((imported) => imported.id)).toEqual(['ok', 'ok-too']);
    // Line 5 has two bad fields: one row.
    expect(invalidRowCount(result)).toBe(7);
    expect(result.issues.map(formatImportIssue)).toEqual([
      'line 2: field "rejected": expected a non-empty string, but the field is missing',
      'line 3: field "rejected": expected a string or a message list [{"role": "user", "content": …}, {"role": "assistant", "content": …}]',
      'line 4: field "chosen": expected a non-empty string, got an empty string',
      'line 5: field "type": expected one of "personal", "divergent", got "shared"',
      'line 5: field "split": expected one of "train", "test", got "dev"',
      'line 6: invalid JSON at column 23: expected a property name in double quotes, got the end of the text',
      'line 7: field "id": expected a non-empty string, got number',
      'line 8: field "meta": expected an object, got string',
    ]);
  });

  it('counts a row with three null fields as one invalid row', () => {
    const result = importPairs(jsonl({ id: 'ok', ...pair }, { id: 'nulls', prompt: null, chosen: null, rejected: null }));
    expect(result.pairs.map((imported) => imported.id)).toEqual(['ok']);
    expect(result.issues.map(formatImportIssue)).toEqual([
      'line 2: field "prompt": expected a non-empty string, got null',
      'line 2: field "chosen": expected a non-empty string, got null',
      'line 2: field "rejected": expected a non-empty string, got null',
    ]);
    expect(invalidRowCount(result)).toBe(1);
  });

  it('tells apart the records of a JSON array written on one line by their index', () => {
    const records = [{ id: 'a', ...pair }, { id: 'b', prompt: 'Q', chosen: 7, rejected: null }, { id: 'c', ...pair, prompt: 'Lunch?' }];
    const result = importPairs(JSON.stringify(records));
    expect(result.pairs.map((imported) => imported.id)).toEqual(['a', 'c']);
    expect(result.issues.map(formatImportIssue)).toEqual([
      'record 2 (line 1): field "chosen": expected a non-empty string, got number',
      'record 2 (line 1): field "rejected": expected a non-empty string, got null',
    ]);
    expect(invalidRowCount(result)).toBe(1);
    // One record per line needs no index.
    expect(issueLines(JSON.stringify(records, null, 2))[0]).toMatch(/^line 8: field "chosen"/);
    const set = { name: 'demo', personas: [{ name: 'Ann', prefixes: { gold: 'x' } }, { name: 'Bob', prefixes: { gold: 5 } }], pairs: [records[0]] };
    expect(issueLines(JSON.stringify(set))).toEqual(['record 2 (line 1): field "personas[1].prefixes.gold": expected a string, got number']);
  });

  it('does not count document-level problems as rows', () => {
    const result = importPairs(JSON.stringify({ name: 5, pairs: [{ id: 'a', ...pair }] }));
    expect(result.pairs).toHaveLength(1);
    expect(result.issues).toEqual([{ line: 1, scope: 'document', field: 'name', message: 'expected a non-empty string, got number' }]);
    expect(invalidRowCount(result)).toBe(0);
  });

  it('names the field as the source spelled it', () => {
    expect(issueLines(jsonl({ name: 'Halle Berry', prompt: 'Q', question_type: 'divergent', yw: 5, yl: 'B' }))).toEqual([
      'line 1: field "yw": expected a non-empty string, got number',
    ]);
    expect(issueLines(jsonl({ prompt: 'Q', question_type: 'shared', yw: 'A', yl: 'B' }))).toEqual([
      'line 1: field "question_type": expected one of "personal", "divergent", got "shared"',
    ]);
  });
});

describe('ids, defaults and duplicates', () => {
  it('derives a stable 16-hex-digit id from persona and content', () => {
    const id = contentId(pair);
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(contentId({ ...pair })).toBe(id);
    expect(contentId({ ...pair, persona: 'Halle Berry' })).not.toBe(id);
    // Fields are length-prefixed, so moving text across a boundary changes the id.
    expect(contentId({ ...pair, prompt: `${pair.prompt}E`, chosen: pair.chosen.slice(1) })).not.toBe(id);
    expect(importPairs(jsonl(pair)).pairs[0]?.id).toBe(id);
  });

  it('falls back to the line number when a derived id is taken', () => {
    const result = importPairs(jsonl({ ...pair, id: contentId(pair), prompt: 'Other?' }, pair));
    expect(result.pairs.map((imported) => imported.id)).toEqual([contentId(pair), 'line-2']);
    expect(result.duplicates).toEqual([]);
  });

  it('fills absent fields from the defaults, never present ones', () => {
    const text = jsonl(pair, { ...pair, prompt: 'Lunch?', name: 'Beyoncé', question_type: 'common' });
    const result = importPairs(text, { defaults: { persona: 'Halle Berry', split: 'test', type: 'personal' } });
    expect(result.pairs.map(({ persona, split, type }) => ({ persona, split, type }))).toEqual([
      { persona: 'Halle Berry', split: 'test', type: 'personal' },
      { persona: 'Beyoncé', split: 'test', type: 'divergent' },
    ]);
    expect(result.pairs[0]?.id).toBe(contentId({ ...pair, persona: 'Halle Berry' }));
  });

  it('reports later duplicates by id or by content and keeps the first', () => {
    const text = jsonl(
      { id: 'a', ...pair },
      { id: 'a', ...pair, prompt: 'Different?' },
      { id: 'b', ...pair },
      pair,
      { ...pair, persona: 'Beyoncé' },
    );
    const result = importPairs(text);
    expect(result.pairs.map((imported) => imported.id)).toEqual(['a', contentId({ ...pair, persona: 'Beyoncé' })]);
    expect(result.duplicates).toEqual([
      { line: 2, firstLine: 1, id: 'a', reason: 'same id', conflict: true, differs: ['prompt'] },
      { line: 3, firstLine: 1, id: 'a', reason: 'same prompt, chosen and rejected', conflict: false, differs: [] },
      { line: 4, firstLine: 1, id: 'a', reason: 'same prompt, chosen and rejected', conflict: false, differs: [] },
    ]);
  });

  it('reports repeated records without ids as the same content, not the same id', () => {
    expect(importPairs(jsonl(pair, pair)).duplicates).toEqual([
      { line: 2, firstLine: 1, id: contentId(pair), reason: 'same prompt, chosen and rejected', conflict: false, differs: [] },
    ]);
  });

  it('tells a copy (same id, same pair) from a conflict (same id, another pair), with record indices on one line', () => {
    const copy = importPairs(jsonl({ id: 'a', ...pair }, { id: 'a', ...pair, meta: { note: 'exported twice' } }));
    expect(copy.duplicates).toEqual([{ line: 2, firstLine: 1, id: 'a', reason: 'same id', conflict: false, differs: [] }]);
    expect(copy.duplicates.map(formatDuplicate)).toEqual(['line 2 repeats line 1 (same id "a" and content): dropped']);

    const conflict = importPairs(JSON.stringify([{ id: 'a', ...pair }, { id: 'a', ...pair, prompt: 'Different?', split: 'test' }]));
    expect(conflict.pairs.map((imported) => imported.prompt)).toEqual([pair.prompt]);
    expect(conflict.duplicates).toEqual([{ line: 1, record: 2, firstLine: 1, firstRecord: 1, id: 'a', reason: 'same id', conflict: true, differs: ['split', 'prompt'] }]);
    expect(conflict.duplicates.map(formatDuplicate)).toEqual([
      'record 2 (line 1) has the id "a" of record 1 (line 1) but a different split and prompt: kept record 1 (line 1), dropped this one (give it its own id to keep both)',
    ]);
    expect(importPairs(jsonl(pair, pair)).duplicates.map(formatDuplicate)).toEqual(['line 2 repeats line 1 (same prompt, chosen and rejected): dropped']);
  });

  it('falls back to the position when a derived id is taken in a one-line array', () => {
    const result = importPairs(JSON.stringify([{ ...pair, id: contentId(pair), prompt: 'Other?' }, pair]));
    expect(result.pairs.map((imported) => imported.id)).toEqual([contentId(pair), 'line-1-2']);
  });
});

describe('formatImportIssue', () => {
  it('renders line, field and message on one line', () => {
    expect(formatImportIssue({ line: 4, field: 'chosen', message: 'expected a non-empty string, got number' })).toBe(
      'line 4: field "chosen": expected a non-empty string, got number',
    );
    expect(formatImportIssue({ line: 2, message: 'expected 5 fields as in the header row, got 3' })).toBe('line 2: expected 5 fields as in the header row, got 3');
  });
});
