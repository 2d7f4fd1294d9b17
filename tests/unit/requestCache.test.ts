import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson, openRequestCache, requestKey } from '../../scripts/lib/requestCache.ts';
import { WRITER_PROVIDER, writerResponse } from '../support/requestCacheWriter.ts';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'request-cache-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('request cache', () => {
  it('misses, then hits after a put, counting both', () => {
    const cache = openRequestCache(join(dir, 'cache.sqlite'));
    const request = { model: 'm', messages: [{ role: 'user', content: 'Hi' }] };
    expect(cache.get('openai:m', request)).toBeUndefined();
    cache.put('openai:m', request, { choices: [{ index: 0, message: { content: 'Hello' } }] });
    expect(cache.get('openai:m', request)).toEqual({ choices: [{ index: 0, message: { content: 'Hello' } }] });
    expect(cache.stats()).toEqual({ hits: 1, misses: 1, writes: 1 });
    expect(cache.size()).toBe(1);
    cache.close();
  });

  it('keys on the canonical request: key order and undefined fields do not matter, values and provider do', () => {
    const a = { model: 'm', temperature: 0.7, messages: [{ role: 'user', content: 'Hi' }], seed: undefined };
    const b = { messages: [{ content: 'Hi', role: 'user' }], temperature: 0.7, model: 'm' };
    expect(canonicalJson(a)).toBe('{"messages":[{"content":"Hi","role":"user"}],"model":"m","temperature":0.7}');
    expect(requestKey('openai:m', a)).toBe(requestKey('openai:m', b));
    expect(requestKey('openai:m', a)).toMatch(/^[0-9a-f]{64}$/);
    expect(requestKey('openai:other', a)).not.toBe(requestKey('openai:m', a));
    expect(requestKey('openai:m', { ...b, temperature: 0.8 })).not.toBe(requestKey('openai:m', a));
    // Array order is meaning (message order), so it changes the key.
    expect(requestKey('x', { messages: [1, 2] })).not.toBe(requestKey('x', { messages: [2, 1] }));
  });

  it('keeps rows across reopening, and a reordered request finds them', () => {
    const path = join(dir, 'nested', 'cache.sqlite');
    const first = openRequestCache(path);
    first.put('p', { b: 1, a: 2 }, { ok: true });
    first.close();
    const second = openRequestCache(path);
    expect(second.get('p', { a: 2, b: 1 })).toEqual({ ok: true });
    expect(second.get('q', { a: 2, b: 1 })).toBeUndefined();
    second.close();
  });

  it('uses WAL journaling', () => {
    const path = join(dir, 'cache.sqlite');
    openRequestCache(path).close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('refuses a file that is not a cache, saying what to do', async () => {
    const path = join(dir, 'not-a-cache.sqlite');
    await writeFile(path, 'this is not a database, just text that is long enough to have a header page');
    expect(() => openRequestCache(path)).toThrow(/is not a usable request cache .*move it away or pass another cache path/);
  });

  it('leaves a readable database with only whole rows after the writer is killed with SIGKILL mid-run', async () => {
    const path = join(dir, 'crash.sqlite');
    const child = spawn(process.execPath, ['--import', 'tsx', resolve('tests/support/requestCacheWriter.ts'), path, '400'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Kill as soon as a few rows are committed: the child is then in the middle of later writes.
    const reported = await new Promise<number>((resolvePromise, reject) => {
      let last = -1;
      child.stdout.on('data', (chunk: Buffer) => {
        for (const match of chunk.toString().matchAll(/wrote (\d+)/g)) last = Number(match[1]);
        if (last >= 5 && child.exitCode === null) {
          child.kill('SIGKILL');
          resolvePromise(last);
        }
      });
      child.on('exit', (code, signal) => {
        if (signal !== 'SIGKILL') reject(new Error(`writer exited (${code}) before being killed: ${stderr}`));
      });
    });
    await new Promise((resolvePromise) => (child.exitCode !== null || child.signalCode !== null ? resolvePromise(null) : child.once('exit', resolvePromise)));
    expect(child.signalCode).toBe('SIGKILL');

    const db = new Database(path);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    const cache = openRequestCache(path);
    const rows = cache.size();
    // Every row reported as written survived; at most the one in progress may be missing.
    expect(rows).toBeGreaterThanOrEqual(reported + 1);
    for (let index = 0; index < rows; index++) expect(cache.get(WRITER_PROVIDER, { index })).toEqual(writerResponse(index));
    expect(cache.get(WRITER_PROVIDER, { index: rows })).toBeUndefined();
    cache.close();
  });
});
