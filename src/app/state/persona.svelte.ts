/**
 * The persona of the selected person: inferred from their train pairs with the paper's G.5
 * prompt through the core's `planPersonaInference`, the rule `eval` uses too (shots, seed, the
 * paper's or the authors' layout and the decoding are options), streamed into the editor, edited by
 * hand, and kept as versions with provenance (model, shots and their ids, seeds, layout, decoding,
 * prompt version).
 * Also the prefix choice for the comparison (none, tag, few-shot, persona, name, gold, custom),
 * resolved through the core's `resolvePrefix`, so the page uses exactly the paper's wrappers.
 *
 * Unsaved edits are kept as a draft per person (in settings), so a reload loses nothing.
 */
import { AppError, toSerializedError } from '../../core/errors.ts';
import { FEW_SHOT_DEFAULT_COUNT, PrefixKind, resolvePrefix, type PrefixSpec } from '../../core/prefixes.ts';
import { inferPersona, PERSONA_INFERENCE_DEFAULTS, planPersonaInference } from '../../core/personaInference.ts';
import { debounce, newId } from '../lib/debounce.ts';
import { FrameBatch } from '../lib/frameBatch.ts';
import { TokenMeter, type TokenRate } from '../lib/rate.ts';
import type { Person } from '../lib/people.ts';
import type { InferenceSettings, PersonaVersion } from '../storage/records.ts';
import type { Repository } from '../storage/repository.ts';
import type { ModelController } from './model.svelte.ts';

export const PREFIX_KINDS = PrefixKind.options;

export const PREFIX_LABELS: Record<PrefixKind, string> = {
  none: 'None',
  tag: 'Tag',
  'few-shot': 'Few-shot',
  persona: 'Persona',
  name: 'Name',
  gold: 'Gold persona',
  custom: 'Custom',
};

export const PREFIX_HELP: Record<PrefixKind, string> = {
  none: 'The question alone.',
  tag: 'An opaque per-person tag before the question (G.8); only meaningful for a model trained with tags.',
  'few-shot': `${FEW_SHOT_DEFAULT_COUNT} of the person's train pairs (question and preferred answer) before the question (G.9).`,
  persona: 'The persona text above, then the catering request (G.10).',
  name: "The person's name in the catering request (G.7).",
  gold: "The pair set's gold description of the person (G.10 wrapper).",
  custom: 'Your own text; {x} marks where the question goes (else it follows after a blank line).',
};

export const DEFAULT_INFERENCE: InferenceSettings = { ...PERSONA_INFERENCE_DEFAULTS, seed: 0 };

export class PersonaController {
  readonly #repo: Repository;
  readonly #model: ModelController;
  readonly #getPerson: () => Person | undefined;
  readonly #onSettings: () => void;

  #pairSetId = $state<string | null>(null);
  #personKey = $state<string | null>(null);
  #versions = $state<PersonaVersion[]>([]);
  #versionId = $state<string | null>(null);
  #text = $state('');
  #drafts = $state<Record<string, string>>({});
  #options = $state<InferenceSettings>({ ...DEFAULT_INFERENCE });
  #inferring = $state(false);
  /** Tokens streamed by the running (or last) inference and their rate, for the live count. */
  #tokenRate = $state<TokenRate | null>(null);
  #error = $state<string | null>(null);
  #prefixKind = $state<PrefixKind>('persona');
  #customPrefix = $state('');

  readonly #version = $derived(this.#versions.find((version) => version.id === this.#versionId) ?? null);
  readonly #saveDraft = debounce(() => this.#onSettings(), 500);

  constructor(repo: Repository, model: ModelController, getPerson: () => Person | undefined, onSettings: () => void) {
    this.#repo = repo;
    this.#model = model;
    this.#getPerson = getPerson;
    this.#onSettings = onSettings;
  }

  init(settings: { drafts: Record<string, string>; options: InferenceSettings | undefined; prefixKind: PrefixKind; customPrefix: string }): void {
    this.#drafts = { ...settings.drafts };
    if (settings.options) this.#options = { ...settings.options };
    this.#prefixKind = settings.prefixKind;
    this.#customPrefix = settings.customPrefix;
  }

  /** Loads the versions of `person` in `pairSetId` and puts their draft or latest version in the editor. */
  async setContext(pairSetId: string | null, person: Person | undefined): Promise<void> {
    this.#pairSetId = pairSetId;
    this.#personKey = person?.key ?? null;
    this.#error = null;
    const versions = pairSetId && person ? await this.#repo.personaVersions(pairSetId, person.key) : [];
    if (this.#pairSetId !== pairSetId || this.#personKey !== (person?.key ?? null)) return;
    this.#versions = versions;
    const latest = versions.at(-1) ?? null;
    this.#versionId = latest?.id ?? null;
    const draft = this.#drafts[this.#draftKey()];
    this.#text = draft ?? latest?.text ?? '';
  }

  // Reads ---------------------------------------------------------------------------------------

  get versions(): readonly PersonaVersion[] {
    return this.#versions;
  }
  get version(): PersonaVersion | null {
    return this.#version;
  }
  get inferring(): boolean {
    return this.#inferring;
  }
  get tokenRate(): TokenRate | null {
    return this.#tokenRate;
  }
  get error(): string | null {
    return this.#error;
  }
  get options(): InferenceSettings {
    return this.#options;
  }
  set options(options: InferenceSettings) {
    this.#options = options;
    this.#onSettings();
  }
  get drafts(): Record<string, string> {
    return this.#drafts;
  }
  /** The editor differs from the selected version (or there is text and no version). */
  get dirty(): boolean {
    return this.#text !== (this.#version?.text ?? '');
  }

  get text(): string {
    return this.#text;
  }
  set text(value: string) {
    this.#text = value;
    const key = this.#draftKey();
    const next = { ...this.#drafts };
    if (value === (this.#version?.text ?? '')) delete next[key];
    else next[key] = value;
    this.#drafts = next;
    this.#saveDraft();
  }

  get versionId(): string | null {
    return this.#versionId;
  }
  set versionId(id: string | null) {
    const version = this.#versions.find((candidate) => candidate.id === id);
    if (!version) return;
    this.#versionId = version.id;
    this.text = version.text;
  }

  get prefixKind(): PrefixKind {
    return this.#prefixKind;
  }
  set prefixKind(kind: PrefixKind) {
    this.#prefixKind = kind;
    this.#onSettings();
  }
  get customPrefix(): string {
    return this.#customPrefix;
  }
  set customPrefix(text: string) {
    this.#customPrefix = text;
    this.#onSettings();
  }

  // Prefixes ------------------------------------------------------------------------------------

  /** The prefix of `kind` for the selected person, or why it cannot be built. */
  prefix(kind: PrefixKind, seed = 0): { ok: true; spec: PrefixSpec } | { ok: false; reason: string } {
    const person = this.#getPerson();
    if (!person) return { ok: false, reason: 'Add pairs first.' };
    const prefixes = { ...person.persona?.prefixes };
    delete prefixes.persona;
    delete prefixes.persona_xy_4s;
    if (this.#text.trim()) prefixes.persona = this.#text;
    if (this.#customPrefix.trim()) prefixes.custom = this.#customPrefix;
    try {
      const spec = resolvePrefix(kind, {
        name: person.name,
        persona: { ...(person.name !== undefined && { name: person.name }), prefixes },
        trainPairs: person.train,
        tagIndex: person.index,
        seed,
        shots: FEW_SHOT_DEFAULT_COUNT,
      });
      return { ok: true, spec };
    } catch (error) {
      const message = toSerializedError(error).message;
      const hint: Partial<Record<PrefixKind, string>> = {
        persona: 'Infer or write a persona first.',
        custom: 'Write a custom prefix first.',
        gold: 'The pair set has no gold description for this person (a "gold" text in its personas).',
        name: 'The pairs name no person.',
      };
      return { ok: false, reason: hint[kind] ?? message };
    }
  }

  // Inference -----------------------------------------------------------------------------------

  /** Infers a persona from the person's train pairs (G.5), streaming it into the editor, and saves it as a version. */
  async infer(): Promise<void> {
    const person = this.#getPerson();
    const pairSetId = this.#pairSetId;
    if (!person || !pairSetId) {
      this.#error = 'Add preference pairs first: the persona is inferred from a person\'s train pairs.';
      return;
    }
    if (person.train.length === 0) {
      this.#error = `${person.name ?? 'This person'} has no train pairs: mark some pairs "split": "train".`;
      return;
    }
    const { seed, ...settings } = this.#options;
    const plan = planPersonaInference({ person: person.key, train: person.train, seed, settings });
    this.#error = null;
    this.#inferring = true;
    const previousText = this.#text;
    let streamed = '';
    const meter = new TokenMeter(Date.now());
    this.#tokenRate = meter.read(Date.now());
    const batch = new FrameBatch<string>((deltas) => {
      streamed += deltas.join('');
      this.#text = streamed;
      this.#tokenRate = meter.read(Date.now());
    });
    const key = this.#draftKey();
    try {
      const onToken = (delta: string, tokensSoFar?: number) => {
        meter.push(tokensSoFar);
        batch.push(delta);
      };
      const { text, tokens } = await this.#model.run('infer', 'inferring a persona', (engine, signal) => inferPersona(engine, plan, onToken, signal));
      batch.flush();
      meter.finish(tokens);
      this.#tokenRate = meter.read(Date.now());
      const model = this.#model.stamp;
      if (!model) throw new AppError('not-loaded', 'The model was unloaded during inference.');
      if (text === '') {
        this.#text = previousText;
        this.#error = 'The model returned an empty persona. Try another seed, or allow more tokens.';
        return;
      }
      const version: PersonaVersion = {
        id: newId(),
        pairSetId,
        person: person.key,
        text,
        createdAt: Date.now(),
        provenance: { source: 'inferred', model, shots: plan.shots.length, ...plan.record },
      };
      await this.#repo.savePersonaVersion(version);
      if (this.#draftKey() !== key) return;
      this.#versions = [...this.#versions, version];
      this.#versionId = version.id;
      this.text = text;
    } catch (error) {
      batch.flush();
      const serialized = toSerializedError(error);
      if (serialized.code === 'aborted') {
        this.#error = streamed.trim() ? 'Inference cancelled: the partial text is in the editor, unsaved.' : 'Inference cancelled.';
        if (!streamed.trim()) this.#text = previousText;
        else this.text = streamed;
      } else {
        this.#text = previousText;
        this.#error = serialized.message;
      }
    } finally {
      this.#inferring = false;
    }
  }

  /** Keeps the editor text as a new version (provenance: edited from the selected version). */
  async saveVersion(): Promise<PersonaVersion | null> {
    const person = this.#getPerson();
    if (!person || !this.#pairSetId || this.#text.trim() === '') return null;
    const version: PersonaVersion = {
      id: newId(),
      pairSetId: this.#pairSetId,
      person: person.key,
      text: this.#text,
      createdAt: Date.now(),
      provenance: { source: 'edited', parentId: this.#versionId },
    };
    await this.#repo.savePersonaVersion(version);
    this.#versions = [...this.#versions, version];
    this.#versionId = version.id;
    this.text = version.text;
    return version;
  }

  /** The version the editor text is: the selected one, or a new edited version saved now. */
  async currentVersion(): Promise<PersonaVersion | null> {
    if (this.#text.trim() === '') return null;
    if (!this.dirty && this.#version) return this.#version;
    return this.saveVersion();
  }

  /** Records persona texts that came with an imported pair set as versions (provenance: imported). */
  async importVersions(pairSetId: string, texts: Readonly<Record<string, string>>, from: string): Promise<void> {
    for (const [person, text] of Object.entries(texts)) {
      const existing = await this.#repo.personaVersions(pairSetId, person);
      if (existing.some((version) => version.text === text)) continue;
      await this.#repo.savePersonaVersion({
        id: newId(),
        pairSetId,
        person,
        text,
        createdAt: Date.now(),
        provenance: { source: 'imported', from },
      });
    }
  }

  /** Latest text per person key of a pair set (drafts win), for export. */
  async textsFor(pairSetId: string, personKeys: readonly string[]): Promise<Record<string, string>> {
    const texts: Record<string, string> = {};
    for (const key of personKeys) {
      const draft = this.#drafts[`${pairSetId}\u0000${key}`];
      const latest = (await this.#repo.personaVersions(pairSetId, key)).at(-1)?.text;
      const text = draft ?? latest;
      if (text?.trim()) texts[key] = text;
    }
    return texts;
  }

  #draftKey(): string {
    return `${this.#pairSetId ?? ''}\u0000${this.#personKey ?? ''}`;
  }
}
