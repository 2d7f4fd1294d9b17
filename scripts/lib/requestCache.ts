/**
 * The SQLite request cache (better-sqlite3 12): one row per distinct request a provider made,
 * keyed by sha256(provider id + canonical request JSON), holding the response JSON. A re-run of a
 * finished build is answered entirely from here (zero network calls) and a killed run resumes
 * without repeating a paid call.
 *
 * Crash safety: every `put` is one SQLite transaction in WAL mode, so after a kill -9 at any
 * moment a row is either fully written or absent; `synchronous = FULL` also makes a committed row
 * survive a power cut, which costs one fsync per call, negligible next to a network round trip.
 *
 * Failures handled: a file that is not a cache (or from a newer schema) is refused with a message
 * saying what to do; a locked database waits (busy timeout) instead of failing at once when two
 * processes share one cache. The key never covers credentials: callers pass the request body only.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { AppError } from '../../src/core/errors.ts';

/** Bump when the table layout changes; an older file is migrated, a newer one refused. */
const SCHEMA_VERSION = 1;
/** How long a writer waits for another process's transaction before failing. */
const BUSY_TIMEOUT_MS = 10_000;

export interface RequestCacheStats {
  hits: number;
  misses: number;
  writes: number;
}

export interface RequestCache {
  /** Absolute path of the database file, or ":memory:". */
  readonly path: string;
  /** The stored response for this exact request, or undefined (counted as a hit or a miss). */
  get(providerId: string, request: unknown): unknown;
  /** Stores (or replaces) the response; durable when this returns. */
  put(providerId: string, request: unknown, response: unknown): void;
  stats(): RequestCacheStats;
  /** Rows stored. */
  size(): number;
  close(): void;
}

/**
 * JSON with object keys sorted at every depth, so two requests that differ only in key order (or
 * in keys whose value is undefined) serialise, and hash, identically.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, sortKeys(v)]));
  }
  return value;
}

/** The cache key: sha256 over the provider id and the canonical request, hex. */
export function requestKey(providerId: string, request: unknown): string {
  return createHash('sha256').update(providerId).update('\n').update(canonicalJson(request)).digest('hex');
}

/** Opens (creating if needed) the cache at `path`; ":memory:" gives a throw-away cache for tests. */
export function openRequestCache(path: string): RequestCache {
  const location = path === ':memory:' ? path : resolve(path);
  if (location !== ':memory:') mkdirSync(dirname(location), { recursive: true });
  let db: Database.Database;
  try {
    db = new Database(location);
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    migrate(db, location);
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError(
      'invalid-input',
      `${location} is not a usable request cache (${error instanceof Error ? error.message : String(error)}): move it away or pass another cache path.`,
    );
  }

  const select = db.prepare<[string], { response: string }>('SELECT response FROM responses WHERE key = ?');
  const upsert = db.prepare<[string, string, string, string, number]>(
    'INSERT OR REPLACE INTO responses (key, provider, request, response, created_at) VALUES (?, ?, ?, ?, ?)',
  );
  const count = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM responses');
  const counters: RequestCacheStats = { hits: 0, misses: 0, writes: 0 };

  return {
    path: location,
    get(providerId, request) {
      const row = select.get(requestKey(providerId, request));
      if (!row) {
        counters.misses++;
        return undefined;
      }
      counters.hits++;
      return JSON.parse(row.response) as unknown;
    },
    put(providerId, request, response) {
      const body = JSON.stringify(response);
      if (body === undefined) throw new AppError('internal', 'Cannot cache an undefined response.');
      // One statement = one transaction: the row is committed whole or not at all.
      upsert.run(requestKey(providerId, request), providerId, canonicalJson(request), body, Date.now());
      counters.writes++;
    },
    stats: () => ({ ...counters }),
    size: () => count.get()?.n ?? 0,
    close: () => db.close(),
  };
}

function migrate(db: Database.Database, location: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new AppError('invalid-input', `${location} was written by a newer version (cache schema ${version}): update, or pass another cache path.`);
  }
  db.exec(`
    CREATE TABLE IF NOT EXISTS responses (
      key TEXT PRIMARY KEY NOT NULL,
      provider TEXT NOT NULL,
      request TEXT NOT NULL,
      response TEXT NOT NULL,
      created_at INTEGER NOT NULL
    ) WITHOUT ROWID;
  `);
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
}
