/**
 * Typed access to the page's IndexedDB stores. Writes take parsed records; every read is
 * zod-parsed, and a record that does not parse is counted in `skipped` (shown on the page) and
 * left out instead of breaking the page.
 *
 * When IndexedDB cannot be opened the repository runs in memory only (`persistent` is false), so
 * the page still works and says that nothing will survive a reload.
 */
import type { z } from 'zod';
import { openPlaygroundDb, type PlaygroundDb } from './db.ts';
import {
  PairResult,
  PersonaVersion,
  ScoringRun,
  StoredGeneration,
  StoredPairSet,
  UiSettings,
} from './records.ts';
import { AnnotatedChoice, ElicitationCheckpoint, ElicitationSettings } from './elicitationRecords.ts';

const SETTINGS_KEY = 'ui';
const ELICITATION_SETTINGS_KEY = 'elicitation';
/** Generations kept; older ones are deleted when a new one is saved. */
const GENERATIONS_KEPT = 50;

export class Repository {
  #db: PlaygroundDb | null;
  #skipped = 0;
  readonly openError: string | null;

  private constructor(db: PlaygroundDb | null, openError: string | null) {
    this.#db = db;
    this.openError = openError;
  }

  static async open(name?: string): Promise<Repository> {
    try {
      return new Repository(await openPlaygroundDb(name), null);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return new Repository(null, `Saving is off: IndexedDB could not be opened (${message}). Your work stays until you close or reload the page.`);
    }
  }

  get persistent(): boolean {
    return this.#db !== null;
  }

  /** Records that did not parse, so far. */
  get skipped(): number {
    return this.#skipped;
  }

  #parseAll<T>(schema: z.ZodType<T>, values: readonly unknown[]): T[] {
    const out: T[] = [];
    for (const value of values) {
      const parsed = schema.safeParse(value);
      if (parsed.success) out.push(parsed.data);
      else this.#skipped++;
    }
    return out;
  }

  #parseOne<T>(schema: z.ZodType<T>, value: unknown): T | undefined {
    if (value === undefined) return undefined;
    return this.#parseAll(schema, [value])[0];
  }

  // Settings -----------------------------------------------------------------------------------

  async loadSettings(): Promise<UiSettings> {
    return this.#loadSettingsRecord(SETTINGS_KEY, UiSettings);
  }

  async saveSettings(settings: UiSettings): Promise<void> {
    await this.#db?.put('settings', UiSettings.parse(settings), SETTINGS_KEY);
  }

  async loadElicitationSettings(): Promise<ElicitationSettings> {
    return this.#loadSettingsRecord(ELICITATION_SETTINGS_KEY, ElicitationSettings);
  }

  async saveElicitationSettings(settings: ElicitationSettings): Promise<void> {
    await this.#db?.put('settings', ElicitationSettings.parse(settings), ELICITATION_SETTINGS_KEY);
  }

  /** A settings record whose every field has its own fallback, so the parse succeeds for any object. */
  async #loadSettingsRecord<T>(key: string, schema: z.ZodType<T>): Promise<T> {
    const stored = this.#db ? await this.#db.get('settings', key) : undefined;
    const parsed = schema.safeParse(typeof stored === 'object' && stored !== null ? stored : {});
    return parsed.success ? parsed.data : schema.parse({});
  }

  // Pair sets ----------------------------------------------------------------------------------

  async pairSets(): Promise<StoredPairSet[]> {
    if (!this.#db) return [];
    const sets = this.#parseAll(StoredPairSet, await this.#db.getAll('pairSets'));
    return sets.sort((a, b) => b.updatedAt - a.updatedAt);
  }

  async savePairSet(set: StoredPairSet): Promise<void> {
    await this.#db?.put('pairSets', StoredPairSet.parse(set));
  }

  /** Deletes a pair set with everything made from it. */
  async deletePairSet(id: string): Promise<void> {
    if (!this.#db) return;
    const runs = (await this.runs()).filter((run) => run.pairSetId === id);
    for (const run of runs) await this.deleteRun(run.id);
    const tx = this.#db.transaction(['pairSets', 'personaVersions', 'annotations', 'elicitationCheckpoints'], 'readwrite');
    await tx.objectStore('pairSets').delete(id);
    const versions = tx.objectStore('personaVersions');
    for await (const cursor of versions) {
      const version = PersonaVersion.safeParse(cursor.value);
      if (version.success && version.data.pairSetId === id) await cursor.delete();
    }
    // Elicitation records are indexed by [pairSetId, person]: every person of the set.
    const ofSet = IDBKeyRange.bound([id], [id, []]);
    for (const store of ['annotations', 'elicitationCheckpoints'] as const) {
      for await (const cursor of tx.objectStore(store).index('byPerson').iterate(ofSet)) await cursor.delete();
    }
    await tx.done;
  }

  // Persona versions ---------------------------------------------------------------------------

  async personaVersions(pairSetId: string, person: string): Promise<PersonaVersion[]> {
    if (!this.#db) return [];
    const values = await this.#db.getAllFromIndex('personaVersions', 'byPerson', [pairSetId, person]);
    return this.#parseAll(PersonaVersion, values).sort((a, b) => a.createdAt - b.createdAt);
  }

  async savePersonaVersion(version: PersonaVersion): Promise<void> {
    await this.#db?.put('personaVersions', PersonaVersion.parse(version));
  }

  // Scoring runs -------------------------------------------------------------------------------

  async runs(): Promise<ScoringRun[]> {
    if (!this.#db) return [];
    return this.#parseAll(ScoringRun, await this.#db.getAllFromIndex('runs', 'byCreatedAt'));
  }

  async run(id: string): Promise<ScoringRun | undefined> {
    return this.#db ? this.#parseOne(ScoringRun, await this.#db.get('runs', id)) : undefined;
  }

  async saveRun(run: ScoringRun): Promise<void> {
    await this.#db?.put('runs', ScoringRun.parse(run));
  }

  async results(runId: string): Promise<PairResult[]> {
    if (!this.#db) return [];
    return this.#parseAll(PairResult, await this.#db.getAllFromIndex('results', 'byRun', runId));
  }

  /** One pair's result, written as soon as it is known, so a reload keeps everything finished. */
  async saveResult(result: PairResult): Promise<void> {
    await this.#db?.put('results', PairResult.parse(result));
  }

  async deleteRun(id: string): Promise<void> {
    if (!this.#db) return;
    const tx = this.#db.transaction(['runs', 'results'], 'readwrite');
    await tx.objectStore('runs').delete(id);
    const keys = await tx.objectStore('results').index('byRun').getAllKeys(id);
    for (const key of keys) await tx.objectStore('results').delete(key);
    await tx.done;
  }

  // Elicitation --------------------------------------------------------------------------------

  /** The person's annotated choices in the pair set, oldest first. */
  async annotations(pairSetId: string, person: string): Promise<AnnotatedChoice[]> {
    if (!this.#db) return [];
    const values = await this.#db.getAllFromIndex('annotations', 'byPerson', [pairSetId, person]);
    return this.#parseAll(AnnotatedChoice, values).sort((a, b) => a.createdAt - b.createdAt);
  }

  async saveAnnotation(choice: AnnotatedChoice): Promise<void> {
    await this.#db?.put('annotations', AnnotatedChoice.parse(choice));
  }

  async checkpoints(pairSetId: string, person: string): Promise<ElicitationCheckpoint[]> {
    if (!this.#db) return [];
    const values = await this.#db.getAllFromIndex('elicitationCheckpoints', 'byPerson', [pairSetId, person]);
    return this.#parseAll(ElicitationCheckpoint, values).sort((a, b) => a.createdAt - b.createdAt);
  }

  async saveCheckpoint(checkpoint: ElicitationCheckpoint): Promise<void> {
    await this.#db?.put('elicitationCheckpoints', ElicitationCheckpoint.parse(checkpoint));
  }

  // Generations --------------------------------------------------------------------------------

  async generations(): Promise<StoredGeneration[]> {
    if (!this.#db) return [];
    const values = await this.#db.getAllFromIndex('generations', 'byCreatedAt');
    return this.#parseAll(StoredGeneration, values).reverse();
  }

  async saveGeneration(generation: StoredGeneration): Promise<void> {
    if (!this.#db) return;
    await this.#db.put('generations', StoredGeneration.parse(generation));
    const keys = await this.#db.getAllKeysFromIndex('generations', 'byCreatedAt');
    for (const key of keys.slice(0, Math.max(0, keys.length - GENERATIONS_KEPT))) await this.#db.delete('generations', key);
  }

  async deleteGeneration(id: string): Promise<void> {
    await this.#db?.delete('generations', id);
  }
}
