/**
 * The one crash-safe file layer (scripts/lib/durableFiles.ts) both resuming commands use: appends
 * from many callers land whole and in order, each resolving once fsynced; a new file gets its
 * folder; damage names its file, line and field with the caller's advice.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { JsonlAppender, readJsonFile, readJsonLines } from '../../scripts/lib/durableFiles.ts';

const Row = z.object({ key: z.string(), n: z.number() });

describe('durable files', () => {
  it('creates a missing folder and keeps concurrent appends whole and in call order', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'durable-')), 'new', 'rows.jsonl');
    const file = JsonlAppender.open(path);
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((key, n) => file.append({ key, n })));
    file.write({ key: 'last', n: 50 });
    await file.close();
    expect(readJsonLines(path, Row, 'unused').rows.map((row) => row.key)).toEqual([...keys, 'last']);
    expect(() => file.write({ key: 'late', n: 0 })).toThrow(/is closed/);
  });

  it('names the file, line and field of damage, with the caller\u2019s advice', () => {
    const dir = mkdtempSync(join(tmpdir(), 'durable-'));
    const lines = join(dir, 'rows.jsonl');
    writeFileSync(lines, '{"key":"a","n":1}\n{"key":"b","n":"two"}\n');
    expect(() => readJsonLines(lines, Row, 'delete it')).toThrow(/rows\.jsonl, line 2: field "n": .*; delete it\.$/);
    const whole = join(dir, 'run.json');
    writeFileSync(whole, '{"key":1}');
    expect(() => readJsonFile(whole, Row, 'use a new folder')).toThrow(/run\.json: field "key": .*: use a new folder\.$/);
    writeFileSync(whole, '{"key":');
    expect(() => readJsonFile(whole, Row)).toThrow(/run\.json is not valid JSON \(.*\): fix or delete it, then re-run\.$/);
  });

  it('cuts a torn last line off the file and says so', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'durable-')), 'rows.jsonl');
    writeFileSync(path, '{"key":"a","n":1}\n{"key":"b"');
    expect(readJsonLines(path, Row, 'unused')).toEqual({ rows: [{ key: 'a', n: 1 }], repaired: true });
    expect(readFileSync(path, 'utf8')).toBe('{"key":"a","n":1}\n');
  });
});
