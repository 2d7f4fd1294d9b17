/**
 * The page's root state: opens storage, builds the controllers and wires them together (the
 * selected pair set and person drive the persona and the scoring runs), and keeps the page's
 * settings saved. Components receive the controllers they show; none reaches past them.
 */
import type { PairFormat } from '../../core/schema.ts';
import { debounce } from '../lib/debounce.ts';
import { downloadText } from '../lib/download.ts';
import { scorableKinds } from '../lib/prefixChoice.ts';
import { UiSettings } from '../storage/records.ts';
import { Repository } from '../storage/repository.ts';
import { CompareController } from './compare.svelte.ts';
import { ElicitationController } from './elicitation.svelte.ts';
import { ModelController, type ModelWorkerOptions } from './model.svelte.ts';
import { PairsController, type PairsContext } from './pairs.svelte.ts';
import { PersonaController } from './persona.svelte.ts';
import { ScoringController } from './scoring.svelte.ts';
import { TokenViewController } from './tokens.svelte.ts';

export interface PlaygroundOptions {
  /** The IndexedDB database (default: the page's own). */
  dbName?: string;
  /** How the model worker starts (default: the real module worker). */
  worker?: ModelWorkerOptions;
}

export class Playground {
  readonly repo: Repository;
  readonly model: ModelController;
  readonly pairs: PairsController;
  readonly persona: PersonaController;
  readonly compare: CompareController;
  readonly scoring: ScoringController;
  readonly tokens: TokenViewController;
  readonly elicitation: ElicitationController;
  #ready = $state(false);
  #skipped = $state(0);
  #initialized = false;
  readonly #saveSettings = debounce(() => void this.#writeSettings(), 300);

  private constructor(repo: Repository, worker: ModelWorkerOptions) {
    this.repo = repo;
    const onSettings = () => this.#saveSettings();
    this.model = new ModelController(onSettings, worker);
    this.pairs = new PairsController(repo, (context) => this.#onContext(context));
    const getPerson = () => this.pairs.person;
    this.persona = new PersonaController(repo, this.model, getPerson, onSettings);
    this.compare = new CompareController(repo, this.model, this.persona, () => this.pairs.person?.key, onSettings);
    this.scoring = new ScoringController(repo, this.model, this.persona, getPerson, onSettings);
    this.tokens = new TokenViewController(this.model);
    this.elicitation = new ElicitationController(repo, this.model, this.persona, () => {
      const { convention, aggregation } = this.scoring.settings;
      return { convention, aggregation };
    });
  }

  static async create(options: PlaygroundOptions = {}): Promise<Playground> {
    const playground = new Playground(await Repository.open(options.dbName), options.worker ?? {});
    await playground.#init();
    return playground;
  }

  get ready(): boolean {
    return this.#ready;
  }
  /** Stored records that could not be read (damaged or from an incompatible page). */
  get skipped(): number {
    return this.#skipped;
  }

  async #init(): Promise<void> {
    const settings = await this.repo.loadSettings();
    this.persona.init({
      drafts: settings.personaDrafts,
      options: settings.inference,
      prefixKind: settings.prefixKind,
      customPrefix: settings.customPrefix,
    });
    this.scoring.init({ kinds: settings.scoreKinds, aggregation: settings.aggregation, convention: settings.convention });
    await Promise.all([
      this.model.init({ modelId: settings.modelId, device: settings.device, customModels: settings.customModels }),
      this.compare.init(settings.sampling),
      this.elicitation.init(),
      this.pairs.init(settings.activePairSetId, settings.person),
    ]);
    this.#initialized = true;
    await this.#contextLoaded;
    this.#skipped = this.repo.skipped;
    this.#ready = true;
    if (typeof document !== 'undefined') {
      document.addEventListener('visibilitychange', () => {
        if (document.visibilityState === 'hidden') this.flush();
      });
    }
  }

  #contextLoaded: Promise<void> = Promise.resolve();

  #onContext({ pairSetId, person }: PairsContext): void {
    this.tokens.close();
    this.#contextLoaded = Promise.all([
      this.persona.setContext(pairSetId, person),
      this.scoring.setContext(pairSetId, person),
      this.elicitation.setContext(pairSetId, person),
    ]).then(() => {
      this.#skipped = this.repo.skipped;
    });
    if (this.#initialized) this.#saveSettings();
  }

  /** Imports a file as a new pair set; persona texts it carries become imported persona versions. */
  async importFile(file: File): Promise<void> {
    const result = await this.pairs.importFile(file);
    const setId = this.pairs.activeId;
    if (!result || !setId) return;
    const texts: Record<string, string> = {};
    for (const person of this.pairs.people) {
      const text = person.persona?.prefixes.persona ?? person.persona?.prefixes.persona_xy_4s;
      if (text?.trim()) texts[person.key] = text;
    }
    if (Object.keys(texts).length > 0) {
      await this.persona.importVersions(setId, texts, file.name);
      await this.persona.setContext(setId, this.pairs.person);
    }
    await this.#preselectKinds();
  }

  /** Loads the demo set, ready to score: its gold descriptions are preselected. */
  async loadDemo(): Promise<void> {
    await this.pairs.loadDemo();
    await this.#preselectKinds();
  }

  /** After a new set lands: score with the prefix kinds that can be scored at once. */
  async #preselectKinds(): Promise<void> {
    await this.#contextLoaded;
    if (!this.pairs.person) return;
    this.scoring.settings = { ...this.scoring.settings, kinds: scorableKinds((kind) => this.persona.prefix(kind).ok) };
  }

  async exportPairs(format: PairFormat): Promise<void> {
    const setId = this.pairs.activeId;
    const texts = setId ? await this.persona.textsFor(setId, this.pairs.people.map((person) => person.key)) : {};
    const file = this.pairs.exportText(format, texts);
    downloadText(file.fileName, file.text, file.mime);
  }

  /** Writes pending edits and settings now. */
  flush(): void {
    this.pairs.flush();
    this.elicitation.flush();
    this.#saveSettings.flush();
  }

  async #writeSettings(): Promise<void> {
    const settings = UiSettings.parse($state.snapshot({
      modelId: this.model.selectedId,
      device: this.model.device,
      customModels: [...this.model.customModels],
      activePairSetId: this.pairs.activeId ?? undefined,
      person: this.pairs.personKey,
      inference: this.persona.options,
      prefixKind: this.persona.prefixKind,
      customPrefix: this.persona.customPrefix,
      sampling: this.compare.sampling,
      scoreKinds: this.scoring.settings.kinds,
      aggregation: this.scoring.settings.aggregation,
      convention: this.scoring.settings.convention,
      personaDrafts: this.persona.drafts,
    }));
    await this.repo.saveSettings(settings);
  }
}
