/**
 * The page's IndexedDB database through `idb`: its versioned schema and the migrations that
 * build it. Version N is what the first N migrations make; an older database is upgraded by
 * running the ones it lacks, in order, inside the upgrade transaction (so a failed step rolls
 * the whole upgrade back and the old data stays readable by the old page).
 *
 * Values are typed `unknown` on purpose: everything read is zod-parsed by `repository.ts`.
 *
 * Failures handled: IndexedDB missing or refused (private windows of some browsers, disabled
 * storage) makes `openPlaygroundDb` reject with a message the page shows while it keeps working
 * without persistence; another tab holding an older version open is asked to close it.
 */
import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';

export const DB_NAME = 'wikipersona-playground';

export interface PlaygroundSchema extends DBSchema {
  pairSets: { key: string; value: unknown };
  personaVersions: { key: string; value: unknown; indexes: { byPerson: [string, string] } };
  runs: { key: string; value: unknown; indexes: { byCreatedAt: number } };
  /** Key: [runId, kind, pairId]; written one by one as pairs finish. */
  results: { key: [string, string, string]; value: unknown; indexes: { byRun: string } };
  generations: { key: string; value: unknown; indexes: { byCreatedAt: number } };
  settings: { key: string; value: unknown };
  /** Elicitation: each question's pick, by [pairSetId, person]. */
  annotations: { key: string; value: unknown; indexes: { byPerson: [string, string] } };
  /** Elicitation: each persona re-inferred from the answers, with its test accuracy. */
  elicitationCheckpoints: { key: string; value: unknown; indexes: { byPerson: [string, string] } };
}

export type PlaygroundDb = IDBPDatabase<PlaygroundSchema>;
type UpgradeTransaction = IDBPTransaction<PlaygroundSchema, StoreNames<PlaygroundSchema>[], 'versionchange'>;
/** Runs inside the upgrade transaction; awaits only that transaction's requests. */
type Migration = (db: PlaygroundDb, transaction: UpgradeTransaction) => void | Promise<void>;

/** Append only: never edit a migration that has shipped, add the next one. */
const MIGRATIONS: readonly Migration[] = [
  // v1: pair sets, persona versions, scoring runs with per-pair results, generations, settings.
  (db) => {
    db.createObjectStore('pairSets', { keyPath: 'id' });
    db.createObjectStore('personaVersions', { keyPath: 'id' }).createIndex('byPerson', ['pairSetId', 'person']);
    db.createObjectStore('runs', { keyPath: 'id' }).createIndex('byCreatedAt', 'createdAt');
    db.createObjectStore('results', { keyPath: ['runId', 'kind', 'pairId'] }).createIndex('byRun', 'runId');
    db.createObjectStore('generations', { keyPath: 'id' }).createIndex('byCreatedAt', 'createdAt');
    db.createObjectStore('settings');
  },
  // v2: inferred personas record G.5's layout and the full decoding. Older ones were made with the
  // shown-y_l choice as their layout, top-p 1, no top-k, and the seed itself as the generation seed.
  async (_db, transaction) => {
    for await (const cursor of transaction.objectStore('personaVersions')) {
      const upgraded = withInferenceRecord(cursor.value);
      if (upgraded !== cursor.value) await cursor.update(upgraded);
    }
  },
  // v3: active persona elicitation (issue 13): annotated choices and the personas inferred from them.
  (db) => {
    db.createObjectStore('annotations', { keyPath: 'id' }).createIndex('byPerson', ['pairSetId', 'person']);
    db.createObjectStore('elicitationCheckpoints', { keyPath: 'id' }).createIndex('byPerson', ['pairSetId', 'person']);
  },
];

export const DB_VERSION = MIGRATIONS.length;

/** Opens (creating or upgrading) the database; `version` below the latest is for testing migrations. */
export async function openPlaygroundDb(name = DB_NAME, version = DB_VERSION): Promise<PlaygroundDb> {
  if (typeof indexedDB === 'undefined') throw new Error('This browser offers no IndexedDB.');
  const db = await openDB<PlaygroundSchema>(name, version, {
    upgrade(database, oldVersion, newVersion, transaction) {
      const migrations = MIGRATIONS.slice(oldVersion, newVersion ?? version);
      // A step that fails aborts the upgrade: nothing of it is kept and openDB rejects.
      void (async () => {
        for (const migrate of migrations) await migrate(database, transaction);
      })().catch(() => transaction.abort());
    },
    blocking() {
      // A newer page in another tab wants to upgrade: step aside rather than block it.
      db.close();
    },
  });
  return db;
}

/** A v1 inferred-persona provenance with the v2 fields filled in as they were; anything else unchanged. */
function withInferenceRecord(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || !('provenance' in value)) return value;
  const provenance: unknown = value.provenance;
  if (typeof provenance !== 'object' || provenance === null || !('source' in provenance) || provenance.source !== 'inferred' || 'variant' in provenance) return value;
  const showRejected = 'showRejected' in provenance && provenance.showRejected === true;
  const seed = 'seed' in provenance ? provenance.seed : undefined;
  return { ...value, provenance: { ...provenance, variant: showRejected ? 'authors' : 'paper', generationSeed: seed, topP: 1, topK: 0 } };
}
