/**
 * The build's crash-safe files: a journal survives a torn last line (a kill during an append) and
 * keeps every complete record; a whole-file write never leaves a temp file or a half file behind.
 */
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Journal } from '../../scripts/lib/dataset/journal.ts';
import { readJsonFile, writeFileAtomic } from '../../scripts/lib/durableFiles.ts';

const Row = z.object({ key: z.string(), value: z.number() });

describe('Journal', () => {
  it('keeps complete records, drops a torn last line and appends after it', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'journal-')), 'stage.jsonl');
    const journal = new Journal(path, Row);
    journal.append({ key: 'a', value: 1 });
    journal.append({ key: 'b', value: 2 });
    await journal.close();
    appendFileSync(path, '{"key":"c","val');

    const reopened = new Journal(path, Row);
    expect(reopened.records).toEqual([{ key: 'a', value: 1 }, { key: 'b', value: 2 }]);
    expect(readFileSync(path, 'utf8')).toBe('{"key":"a","value":1}\n{"key":"b","value":2}\n');
    reopened.append({ key: 'a', value: 3 });
    await reopened.close();
    const again = new Journal(path, Row);
    expect(again.latest.get('a')).toEqual({ key: 'a', value: 3 });
    expect(again.records).toHaveLength(3);
  });

  it('names the file and line of a record that does not parse', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'journal-')), 'stage.jsonl');
    writeFileSync(path, '{"key":"a","value":1}\n{"key":"b","value":"two"}\n');
    expect(() => new Journal(path, Row)).toThrow(/stage\.jsonl, line 2: .*delete the file to redo its stage/);
  });
});

describe('writeFileAtomic', () => {
  it('replaces the file whole and leaves no temp file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
    const path = join(dir, 'nested', 'file.json');
    writeFileAtomic(path, '{"key":"x","value":1}');
    writeFileAtomic(path, '{"key":"y","value":2}');
    expect(readJsonFile(path, Row)).toEqual({ key: 'y', value: 2 });
    expect(readdirSync(join(dir, 'nested'))).toEqual(['file.json']);
    expect(readJsonFile(join(dir, 'absent.json'), Row)).toBeUndefined();
    expect(existsSync(`${path}.tmp-${process.pid}`)).toBe(false);
  });
});
