/**
 * Scoring runs: the reference-free reward verdict (the paper's eq. 3, core `scorePair`) on the
 * selected person's test pairs under one or more prefix kinds. A run records everything needed
 * to reproduce or resume it (model, convention, aggregation, the resolved prefixes, the pairs,
 * the persona version), and every pair's result is written to IndexedDB the moment it is known,
 * so a reload mid-run keeps what finished and offers to resume the rest.
 *
 * Results reach the page once per animation frame. A pair that fails (e.g. too long for the
 * model's context) is recorded as a failure and the run goes on; a dead worker or a cancel ends
 * the run, resumable.
 */
import type { Engine, ScoringCheck } from '../../core/engine.ts';
import { toSerializedError, type SerializedError } from '../../core/errors.ts';
import { applyPrefix, type PrefixKind, type PrefixSpec } from '../../core/prefixes.ts';
import { PROMPTS_VERSION } from '../../core/prompts.ts';
import type * as Scorer from '../../core/scorer.ts';
import type { ScoreSettings } from '../../core/scorer.ts';
import { runAccuracy, type KindAccuracy } from '../lib/accuracy.ts';
import { newId } from '../lib/debounce.ts';
import { FrameBatch } from '../lib/frameBatch.ts';
import { rateOf, type Rate } from '../lib/rate.ts';
import type { Person } from '../lib/people.ts';
import { runExportFile, type RunExportFormat } from '../lib/runExport.ts';
import type { PairResult, ScoringRun } from '../storage/records.ts';
import type { Repository } from '../storage/repository.ts';
import type { ModelController } from './model.svelte.ts';
import type { PersonaController } from './persona.svelte.ts';

/** Errors after which the rest of the run cannot succeed either: stop, keep it resumable. */
const RUN_ENDING = new Set<SerializedError['code']>(['worker-crashed', 'not-loaded', 'device-lost', 'out-of-memory', 'aborted']);

export type Aggregation = ScoringRun['aggregation'];
export type Convention = ScoringRun['convention'];

export interface ScoringSettings {
  kinds: PrefixKind[];
  aggregation: Aggregation;
  convention: Convention;
}

export class ScoringController {
  readonly #repo: Repository;
  readonly #model: ModelController;
  readonly #persona: PersonaController;
  readonly #getPerson: () => Person | undefined;
  readonly #onSettings: () => void;

  #pairSetId = $state<string | null>(null);
  #personKey = $state<string | null>(null);
  #runs = $state<ScoringRun[]>([]);
  /** Results by run id, for the runs on show; replaced (never mutated) on every change. */
  #results = $state.raw<Readonly<Record<string, readonly PairResult[]>>>({});
  #selectedId = $state<string | null>(null);
  #activeId = $state<string | null>(null);
  #settings = $state<ScoringSettings>({ kinds: ['none', 'persona'], aggregation: 'mean', convention: 'authors' });
  #error = $state<string | null>(null);
  #counts = $state<Record<string, number>>({});
  /** The running run's progress in this session: its rate and time left. */
  #live = $state<{ runId: string; startedAt: number; scored: number; remaining: number; now: number } | null>(null);

  readonly #selected = $derived(this.#runs.find((run) => run.id === this.#selectedId) ?? null);
  /** The run before the selected one, for the "previous run" comparison. */
  readonly #previous = $derived.by(() => {
    const index = this.#runs.findIndex((run) => run.id === this.#selectedId);
    return index > 0 ? (this.#runs[index - 1] ?? null) : null;
  });

  constructor(repo: Repository, model: ModelController, persona: PersonaController, getPerson: () => Person | undefined, onSettings: () => void) {
    this.#repo = repo;
    this.#model = model;
    this.#persona = persona;
    this.#getPerson = getPerson;
    this.#onSettings = onSettings;
  }

  init(settings: ScoringSettings): void {
    this.#settings = { ...settings, kinds: [...settings.kinds] };
  }

  async setContext(pairSetId: string | null, person: Person | undefined): Promise<void> {
    this.#pairSetId = pairSetId;
    this.#personKey = person?.key ?? null;
    const runs = (await this.#repo.runs()).filter((run) => run.pairSetId === pairSetId && run.person === person?.key);
    if (this.#pairSetId !== pairSetId || this.#personKey !== (person?.key ?? null)) return;
    // Result counts of incomplete runs, for the resume banner.
    const counts: Record<string, number> = {};
    for (const run of runs.filter((candidate) => candidate.status !== 'done')) counts[run.id] = (await this.#repo.results(run.id)).length;
    this.#counts = counts;
    this.#runs = runs;
    this.#error = null;
    await this.select(runs.at(-1)?.id ?? null);
  }

  // Reads ---------------------------------------------------------------------------------------

  get runs(): readonly ScoringRun[] {
    return this.#runs;
  }
  get selected(): ScoringRun | null {
    return this.#selected;
  }
  get previous(): ScoringRun | null {
    return this.#previous;
  }
  get active(): boolean {
    return this.#activeId !== null;
  }
  get error(): string | null {
    return this.#error;
  }
  get settings(): ScoringSettings {
    return this.#settings;
  }
  set settings(value: ScoringSettings) {
    this.#settings = value;
    this.#onSettings();
  }

  /** Pairs/s and time left of the run in progress, once its first result is in. */
  get liveRate(): (Rate & { runId: string }) | null {
    const live = this.#live;
    return live ? { runId: live.runId, ...rateOf(live.scored, live.now - live.startedAt, live.remaining) } : null;
  }

  /**
   * How long a run with the current settings should take, from the rate measured in the latest
   * run on the loaded model; null before any run on it was timed.
   */
  get estimate(): { seconds: number; perSecond: number; results: number } | null {
    const person = this.#getPerson();
    const modelId = this.#model.stamp?.id;
    if (!person || !modelId) return null;
    const measured = this.#runs.findLast((run) => run.model.id === modelId && (run.timing?.scored ?? 0) > 0 && (run.timing?.seconds ?? 0) > 0);
    if (!measured?.timing) return null;
    const perSecond = measured.timing.scored / measured.timing.seconds;
    const results = person.test.length * this.#settings.kinds.length;
    return { seconds: results / perSecond, perSecond, results };
  }

  resultsOf(run: ScoringRun | null): readonly PairResult[] {
    return run ? (this.#results[run.id] ?? []) : [];
  }

  accuracyOf(run: ScoringRun | null): KindAccuracy[] {
    return run ? runAccuracy(run.prefixes.map((prefix) => prefix.kind), run.pairs, this.resultsOf(run)) : [];
  }

  /** Results saved for `run` so far. */
  savedCount(run: ScoringRun): number {
    return this.#results[run.id]?.length ?? this.#counts[run.id] ?? 0;
  }

  /** Results expected in a complete run. */
  expected(run: ScoringRun): number {
    return run.pairs.length * run.prefixes.length;
  }

  /** Incomplete runs not running in this page: interrupted by a reload or crash, or cancelled. */
  get resumable(): ScoringRun[] {
    return this.#runs.filter((run) => run.id !== this.#activeId && run.status !== 'done');
  }

  /** Why `run` cannot be resumed now, or null. */
  resumeBlocker(run: ScoringRun): string | null {
    if (this.#activeId) return 'Another run is in progress.';
    const stamp = this.#model.stamp;
    if (!stamp) return `Load ${run.model.label} to resume.`;
    if (stamp.id !== run.model.id) return `This run used ${run.model.label}; load it to resume (scores from another model would not be comparable).`;
    if (this.#model.busy) return 'The model is busy.';
    return null;
  }

  // Actions -------------------------------------------------------------------------------------

  async select(id: string | null): Promise<void> {
    this.#selectedId = id;
    const run = this.#runs.find((candidate) => candidate.id === id);
    if (!run) return;
    const index = this.#runs.indexOf(run);
    const wanted = [run, this.#runs[index - 1]].filter((candidate): candidate is ScoringRun => candidate !== undefined);
    const loaded = { ...this.#results };
    for (const candidate of wanted) {
      if (candidate.id !== this.#activeId || !loaded[candidate.id]) loaded[candidate.id] = await this.#repo.results(candidate.id);
    }
    this.#results = loaded;
  }

  /** Starts a run on the selected person's test pairs with the chosen prefix kinds. */
  async start(): Promise<void> {
    this.#error = null;
    const person = this.#getPerson();
    const model = this.#model.stamp;
    const { kinds, aggregation, convention } = this.#settings;
    if (!person || !this.#pairSetId) return this.#fail('Add preference pairs first.');
    if (person.test.length === 0) return this.#fail(`${person.name ?? 'This person'} has no test pairs to score: mark some pairs "split": "test".`);
    if (kinds.length === 0) return this.#fail('Choose at least one prefix to score with.');
    if (!model) return this.#fail('Load a model first (Model → Load model).');
    const seed = 0;
    const prefixes: ScoringRun['prefixes'] = [];
    for (const kind of kinds) {
      const prefix = this.#persona.prefix(kind, seed);
      if (!prefix.ok) return this.#fail(`The ${kind} prefix cannot be built: ${prefix.reason}`);
      prefixes.push({ kind, spec: prefix.spec });
    }
    const personaVersion = kinds.includes('persona') ? await this.#persona.currentVersion() : null;
    const run: ScoringRun = {
      id: newId(),
      pairSetId: this.#pairSetId,
      person: person.key,
      createdAt: Date.now(),
      status: 'running',
      model,
      convention,
      aggregation,
      seed,
      promptsVersion: PROMPTS_VERSION,
      ...(personaVersion && { personaVersionId: personaVersion.id }),
      prefixes,
      pairs: person.test.map(({ id, prompt, chosen, rejected, type }) => ({ id, prompt, chosen, rejected, ...(type !== undefined && { type }) })),
    };
    await this.#repo.saveRun(run);
    this.#runs = [...this.#runs, run];
    this.#results = { ...this.#results, [run.id]: [] };
    this.#selectedId = run.id;
    await this.#execute(run);
  }

  async resume(id: string): Promise<void> {
    const run = this.#runs.find((candidate) => candidate.id === id);
    if (!run) return;
    const blocker = this.resumeBlocker(run);
    if (blocker) return this.#fail(blocker);
    this.#error = null;
    const results = await this.#repo.results(run.id);
    this.#results = { ...this.#results, [run.id]: results };
    this.#selectedId = run.id;
    await this.#execute(run);
  }

  cancel(): void {
    if (this.#activeId) this.#model.cancelTask();
  }

  async deleteRun(id: string): Promise<void> {
    if (id === this.#activeId) return;
    await this.#repo.deleteRun(id);
    this.#runs = this.#runs.filter((run) => run.id !== id);
    if (this.#selectedId === id) await this.select(this.#runs.at(-1)?.id ?? null);
  }

  /** `run` with its results as a file: the whole JSON document, or one row per result (CSV, JSON Lines). */
  exportRun(run: ScoringRun, format: RunExportFormat = 'json'): { text: string; fileName: string; mime: string } {
    return runExportFile(run, this.resultsOf(run), this.accuracyOf(run), format);
  }

  // Internals -----------------------------------------------------------------------------------

  async #execute(started: ScoringRun): Promise<void> {
    let run = started;
    const done = Object.fromEntries(this.resultsOf(run).map((result) => [`${result.kind}\u0000${result.pairId}`, true]));
    const batch = new FrameBatch<PairResult>((items) => {
      this.#results = { ...this.#results, [run.id]: [...(this.#results[run.id] ?? []), ...items] };
    });
    // Loaded with the first run: the scorer pulls in the Jinja chat-template engine, which the page
    // needs only once a model is loaded.
    const { ScoreSettings, scorePair } = await import('../../core/scorer.ts');
    const settings = ScoreSettings.parse({ convention: run.convention, aggregation: run.aggregation });
    let ending: SerializedError | null = null;
    this.#activeId = run.id;
    await this.#saveStatus(run, 'running');
    const startedAt = Date.now();
    let scored = 0;
    const before = this.resultsOf(run).length;
    const remaining = () => this.expected(run) - before - scored;
    this.#live = { runId: run.id, startedAt, scored, remaining: remaining(), now: startedAt };
    try {
      await this.#model.run('score', 'scoring pairs', async (engine, signal) => {
        for (const pair of run.pairs) {
          for (const { kind, spec } of run.prefixes) {
            if (done[`${kind}\u0000${pair.id}`]) continue;
            if (signal.aborted) {
              ending = { code: 'aborted', message: 'Cancelled.' };
              return;
            }
            const outcome = await this.#scoreOne(scorePair, engine, run, pair, kind, spec as PrefixSpec, settings, signal);
            if ('ending' in outcome) {
              ending = outcome.ending;
              return;
            }
            if (outcome.check) run = await this.#keepCheck(run, outcome.check);
            await this.#repo.saveResult(outcome.result);
            batch.push(outcome.result);
            scored += 1;
            this.#live = { runId: run.id, startedAt, scored, remaining: remaining(), now: Date.now() };
          }
        }
      });
    } catch (error) {
      ending = toSerializedError(error);
    } finally {
      batch.flush();
      this.#activeId = null;
      this.#live = null;
    }
    const finished = ending === null;
    const timing = { scored: (run.timing?.scored ?? 0) + scored, seconds: (run.timing?.seconds ?? 0) + (Date.now() - startedAt) / 1000 };
    await this.#saveStatus({ ...run, ...(scored > 0 && { timing }) }, finished ? 'done' : 'cancelled');
    if (ending !== null) {
      const { code, message } = ending as SerializedError;
      this.#error = code === 'aborted' ? 'Scoring cancelled: finished pairs are kept; resume the run to score the rest.' : `Scoring stopped: ${message}`;
    }
  }

  async #scoreOne(
    scorePair: typeof Scorer.scorePair,
    engine: Engine,
    run: ScoringRun,
    pair: ScoringRun['pairs'][number],
    kind: PrefixKind,
    spec: PrefixSpec,
    settings: ScoreSettings,
    signal: AbortSignal,
  ): Promise<{ result: PairResult; check?: ScoringCheck } | { ending: SerializedError }> {
    const key = { runId: run.id, kind, pairId: pair.id };
    try {
      const score = await scorePair(engine, { id: pair.id, userContent: applyPrefix(spec, pair.prompt), chosen: pair.chosen, rejected: pair.rejected }, settings, signal);
      return {
        result: {
          ...key,
          finishedAt: Date.now(),
          ok: true,
          chosen: score.chosen,
          rejected: score.rejected,
          correct: score.correct,
          tie: score.tie,
          margin: score.margin,
          promptTokens: score.promptIds.length,
          method: score.method,
        },
        ...(score.check && { check: score.check }),
      };
    } catch (error) {
      const serialized = toSerializedError(error);
      if (RUN_ENDING.has(serialized.code) || signal.aborted) return { ending: signal.aborted ? { code: 'aborted', message: 'Cancelled.' } : serialized };
      return { result: { ...key, finishedAt: Date.now(), ok: false, error: serialized } };
    }
  }

  /** Stores the engine's scoring check with the run when it is new (the first score, or a fallback after a failure). */
  async #keepCheck(run: ScoringRun, check: ScoringCheck): Promise<ScoringRun> {
    const current = run.scoringCheck;
    if (current && current.method === check.method && current.reason === check.reason && current.subject === check.subject) return run;
    return this.#saveRun({ ...run, scoringCheck: check });
  }

  async #saveStatus(run: ScoringRun, status: ScoringRun['status']): Promise<void> {
    await this.#saveRun({ ...run, status, ...(status !== 'running' && { finishedAt: Date.now() }) });
  }

  /** Stores `run` and shows it in place of its older self. */
  async #saveRun(run: ScoringRun): Promise<ScoringRun> {
    await this.#repo.saveRun(run);
    this.#runs = this.#runs.map((candidate) => (candidate.id === run.id ? run : candidate));
    return run;
  }

  #fail(message: string): void {
    this.#error = message;
  }
}
