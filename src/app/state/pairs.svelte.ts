/**
 * The preference pairs: the pasted or imported text (the one source of a pair set), its live
 * validation, the people in it, saved pair sets, the add-a-pair form, the demo set, and export.
 *
 * Validation runs shortly after typing pauses; every row that parses is kept and every row that
 * does not becomes an issue with its line, shown in an alert. The text is saved as typed, so a
 * reload restores it, malformed rows included.
 */
import { exportPairs } from '../../core/exportPairs.ts';
import { formatImportIssue, importPairs, type ImportResult } from '../../core/importPairs.ts';
import type { PairFormat, PairSet, Persona } from '../../core/schema.ts';
import { appendPair, type NewPair } from '../lib/appendPair.ts';
import { debounce, newId } from '../lib/debounce.ts';
import { groupByPerson, type Person } from '../lib/people.ts';
import type { StoredPairSet } from '../storage/records.ts';
import type { Repository } from '../storage/repository.ts';

const EMPTY: ImportResult = { format: 'jsonl', pairs: [], issues: [], duplicates: [] };
/** Bigger files are refused: validation runs on the main thread and the whole set is kept in memory. */
const MAX_FILE_BYTES = 20 * 1024 * 1024;

export interface PairsContext {
  pairSetId: string | null;
  person: Person | undefined;
}

export class PairsController {
  readonly #repo: Repository;
  readonly #onContext: (context: PairsContext) => void;
  #sets = $state<StoredPairSet[]>([]);
  #active = $state<StoredPairSet | null>(null);
  #text = $state('');
  #result = $state.raw<ImportResult>(EMPTY);
  #pending = $state(false);
  #personKey = $state<string | undefined>(undefined);
  #message = $state<{ kind: 'error' | 'info'; text: string } | null>(null);
  #lastContext = '';

  readonly #people = $derived(groupByPerson(this.#result.pairs, this.#result.personas ?? []));
  readonly #person = $derived(this.#people.find((person) => person.key === this.#personKey) ?? this.#people[0]);

  readonly #parseSoon = debounce(() => this.#parseNow(), 200);
  readonly #saveSoon = debounce(() => void this.#save(), 400);

  constructor(repo: Repository, onContext: (context: PairsContext) => void) {
    this.#repo = repo;
    this.#onContext = onContext;
  }

  async init(activeId: string | undefined, personKey: string | undefined): Promise<void> {
    this.#sets = await this.#repo.pairSets();
    const active = this.#sets.find((set) => set.id === activeId) ?? this.#sets[0] ?? null;
    this.#personKey = personKey;
    if (active) this.#open(active);
    else this.#notify();
  }

  get sets(): readonly StoredPairSet[] {
    return this.#sets;
  }
  get active(): StoredPairSet | null {
    return this.#active;
  }
  get result(): ImportResult {
    return this.#result;
  }
  /** Typing has not been validated yet. */
  get pending(): boolean {
    return this.#pending;
  }
  get people(): readonly Person[] {
    return this.#people;
  }
  get person(): Person | undefined {
    return this.#person;
  }
  get message() {
    return this.#message;
  }
  get issueLines(): string[] {
    return this.#result.issues.map(formatImportIssue);
  }

  get text(): string {
    return this.#text;
  }
  set text(value: string) {
    this.#text = value;
    this.#pending = true;
    this.#message = null;
    if (!this.#active && value.trim() !== '') this.#active = this.#newSet('Pasted pairs');
    this.#parseSoon();
    this.#saveSoon();
  }

  get personKey(): string | undefined {
    return this.#person?.key;
  }
  set personKey(key: string | undefined) {
    this.#personKey = key;
    this.#notify();
  }

  get activeId(): string | null {
    return this.#active?.id ?? null;
  }
  set activeId(id: string | null) {
    const set = this.#sets.find((candidate) => candidate.id === id);
    if (!set || set.id === this.#active?.id) return;
    this.#saveSoon.flush();
    this.#open(set);
  }

  /** Starts an empty pair set. */
  newSet(): void {
    this.#saveSoon.flush();
    this.#replaceText(this.#newSet('Pasted pairs'), '');
  }

  async deleteActive(): Promise<void> {
    const set = this.#active;
    if (!set) return;
    this.#saveSoon.cancel();
    await this.#repo.deletePairSet(set.id);
    this.#sets = this.#sets.filter((candidate) => candidate.id !== set.id);
    const next = this.#sets[0];
    if (next) this.#open(next);
    else {
      this.#active = null;
      this.#text = '';
      this.#parseNow();
    }
  }

  async loadDemo(): Promise<void> {
    try {
      // Relative to the page, so it works under any base path.
      const response = await fetch('demo/pairs.json');
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const text = await response.text();
      this.#replaceText(this.#newSet('Demo pairs', 'pairs.json'), text);
      this.#message = { kind: 'info', text: `Loaded the demo set: ${this.#result.pairs.length} pairs of ${this.#people.length} fictional people.` };
    } catch (error) {
      this.#message = { kind: 'error', text: `The demo set could not be loaded (${String(error)}): is the page served with its demo/ folder?` };
    }
  }

  /** Reads a dropped or chosen file into a new pair set. */
  async importFile(file: File): Promise<ImportResult | null> {
    if (file.size > MAX_FILE_BYTES) {
      this.#message = { kind: 'error', text: `${file.name} is ${(file.size / 1e6).toFixed(0)} MB; the page takes files up to 20 MB. Split it and import the part you need.` };
      return null;
    }
    const text = await file.text();
    this.#replaceText(this.#newSet(file.name.replace(/\.[^.]+$/, '') || 'Imported pairs', file.name), text);
    const { pairs, issues } = this.#result;
    this.#message = {
      kind: issues.length > 0 && pairs.length === 0 ? 'error' : 'info',
      text: `Imported ${file.name} (${this.#result.format.toUpperCase()}): ${pairs.length} pair${pairs.length === 1 ? '' : 's'}${issues.length > 0 ? `, ${issues.length} issue${issues.length === 1 ? '' : 's'} listed below` : ''}.`,
    };
    return this.#result;
  }

  /** Adds a pair from the form to the text; returns false with a message when it cannot. */
  addPair(pair: NewPair): boolean {
    this.#parseSoon.flush();
    const appended = appendPair(this.#text, pair, this.#active?.fileName);
    if (!appended.ok) {
      this.#message = { kind: 'error', text: appended.message };
      return false;
    }
    this.text = appended.text;
    this.#parseSoon.flush();
    this.#message = { kind: 'info', text: 'Pair added to the end of the text.' };
    return true;
  }

  /** The pairs in `format`; JSON is a pair set document carrying the people's persona texts. */
  exportText(format: PairFormat, personaTexts: Readonly<Record<string, string>>): { text: string; fileName: string; mime: string } {
    this.#parseSoon.flush();
    const base = (this.#active?.name ?? 'pairs').replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '') || 'pairs';
    const { pairs } = this.#result;
    if (format !== 'json') {
      return { text: exportPairs(pairs, format), fileName: `${base}.${format}`, mime: format === 'csv' ? 'text/csv' : 'application/jsonl' };
    }
    const personas: Persona[] = this.#people.flatMap((person) => {
      const own = person.persona ?? (person.name !== undefined ? { name: person.name, prefixes: {} } : undefined);
      if (!own) return [];
      const text = personaTexts[person.key];
      return [{ ...own, prefixes: { ...own.prefixes, ...(text ? { persona: text } : {}) } }];
    });
    const set: PairSet = { name: this.#active?.name ?? 'Pairs', pairs, ...(personas.length > 0 && { personas }) };
    return { text: `${JSON.stringify(set, null, 2)}\n`, fileName: `${base}.json`, mime: 'application/json' };
  }

  /** Saves pending edits now (before the page is hidden). */
  flush(): void {
    this.#parseSoon.flush();
    this.#saveSoon.flush();
  }

  #newSet(name: string, fileName?: string): StoredPairSet {
    const now = Date.now();
    return { id: newId(), name, sourceText: '', ...(fileName !== undefined && { fileName }), createdAt: now, updatedAt: now };
  }

  #replaceText(set: StoredPairSet, text: string): void {
    this.#active = set;
    this.#text = text;
    this.#personKey = undefined;
    this.#parseNow();
    void this.#save();
  }

  #open(set: StoredPairSet): void {
    this.#active = set;
    this.#text = set.sourceText;
    this.#message = null;
    this.#parseNow();
  }

  #parseNow(): void {
    this.#parseSoon.cancel();
    const fileName = this.#active?.fileName;
    this.#result = this.#text.trim() === '' ? EMPTY : importPairs(this.#text, fileName !== undefined ? { fileName } : {});
    this.#pending = false;
    if (this.#active && this.#result.name && this.#active.name !== this.#result.name) {
      this.#active = { ...this.#active, name: this.#result.name };
    }
    this.#notify();
  }

  async #save(): Promise<void> {
    const active = this.#active;
    if (!active) return;
    const set: StoredPairSet = { ...active, sourceText: this.#text, updatedAt: Date.now() };
    this.#active = set;
    this.#sets = [set, ...this.#sets.filter((candidate) => candidate.id !== set.id)];
    await this.#repo.savePairSet(set);
  }

  #notify(): void {
    const person = this.#person;
    const key = `${this.#active?.id ?? ''}\u0000${person?.key ?? ''}`;
    if (key === this.#lastContext) return;
    this.#lastContext = key;
    this.#onContext({ pairSetId: this.#active?.id ?? null, person });
  }
}
