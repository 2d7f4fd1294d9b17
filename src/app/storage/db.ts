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
}

export type PlaygroundDb = IDBPDatabase<PlaygroundSchema>;
type UpgradeTransaction = IDBPTransaction<PlaygroundSchema, StoreNames<PlaygroundSchema>[], 'versionchange'>;
type Migration = (db: PlaygroundDb, transaction: UpgradeTransaction) => void;

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
];

export const DB_VERSION = MIGRATIONS.length;

export async function openPlaygroundDb(name = DB_NAME): Promise<PlaygroundDb> {
  if (typeof indexedDB === 'undefined') throw new Error('This browser offers no IndexedDB.');
  const db = await openDB<PlaygroundSchema>(name, DB_VERSION, {
    upgrade(database, oldVersion, newVersion, transaction) {
      for (let version = oldVersion; version < (newVersion ?? DB_VERSION); version++) {
        const migrate = MIGRATIONS[version];
        if (!migrate) throw new Error(`No migration to version ${version + 1}.`);
        migrate(database, transaction);
      }
    },
    blocking() {
      // A newer page in another tab wants to upgrade: step aside rather than block it.
      db.close();
    },
  });
  return db;
}
