/**
 * The personas the Elicitation section infers from a track's answers, each with its accuracy on
 * the person's held-out test pairs: the versions the section lists and the points of its curve.
 * Inference is the core's one G.5 rule (`planPersonaInference`, the Persona panel's options and
 * seed), run through the worker; scoring is the scorer's eq. 3 verdict with the Score panel's
 * convention and aggregation. The first time a track is measured, the test pairs are also scored
 * without a prefix: the curve's start (0 answers, no persona).
 */
import type { ElicitationStrategy } from '../../core/elicitation/strategy.ts';
import { toSerializedError } from '../../core/errors.ts';
import { inferPersona, planPersonaInference } from '../../core/personaInference.ts';
import type { PreferencePair } from '../../core/schema.ts';
import { newId } from '../lib/debounce.ts';
import { scoreTestPairs, type ScoringChoice } from '../lib/elicitationWork.ts';
import type { Person } from '../lib/people.ts';
import type { ElicitationCheckpoint } from '../storage/elicitationRecords.ts';
import type { Repository } from '../storage/repository.ts';
import type { ModelController } from './model.svelte.ts';
import type { PersonaController } from './persona.svelte.ts';

export class ElicitationCheckpoints {
  readonly #repo: Repository;
  readonly #model: ModelController;
  readonly #persona: PersonaController;
  readonly #scoring: () => ScoringChoice;

  #context = '';
  #pairSetId = '';
  #all = $state.raw<ElicitationCheckpoint[]>([]);
  #working = $state<string | null>(null);
  #error = $state<string | null>(null);

  constructor(repo: Repository, model: ModelController, persona: PersonaController, scoring: () => ScoringChoice) {
    this.#repo = repo;
    this.#model = model;
    this.#persona = persona;
    this.#scoring = scoring;
  }

  async setContext(pairSetId: string | null, person: Person | undefined): Promise<void> {
    const context = `${pairSetId ?? ''}\u0000${person?.key ?? ''}`;
    this.#context = context;
    this.#pairSetId = pairSetId ?? '';
    this.#error = null;
    const all = pairSetId !== null && person ? await this.#repo.checkpoints(pairSetId, person.key) : [];
    if (this.#context === context) this.#all = all;
  }

  /** Every measurement of the person, both tracks, oldest first. */
  get all(): readonly ElicitationCheckpoint[] {
    return this.#all;
  }
  get working(): string | null {
    return this.#working;
  }
  get error(): string | null {
    return this.#error;
  }

  /** A track's inferred personas, oldest first (the start, with no persona, is not one). */
  versionsOf(strategy: ElicitationStrategy): ElicitationCheckpoint[] {
    return this.#all.filter((checkpoint) => checkpoint.strategy === strategy && checkpoint.inference !== undefined);
  }

  /** Infers the track's persona from `pairs` (its annotated pairs) and scores it on the person's test pairs. */
  async infer(strategy: ElicitationStrategy, pairs: readonly PreferencePair[], person: Person): Promise<void> {
    const pairSetId = this.#pairSetId;
    const context = this.#context;
    const model = this.#model.stamp;
    if (!model) {
      this.#error = 'Load a model first (Model → Load model).';
      return;
    }
    const { seed, ...settings } = this.#persona.options;
    const plan = planPersonaInference({ person: person.key, train: pairs, seed, settings });
    const scoring = this.#scoring();
    const base = { pairSetId, person: person.key, strategy, model };
    const hasStart = this.#all.some((checkpoint) => checkpoint.strategy === strategy && checkpoint.answered === 0);
    this.#error = null;
    try {
      await this.#model.run('infer', 'inferring the persona from your answers', async (engine, signal) => {
        if (!hasStart && person.test.length > 0) {
          this.#working = `Scoring ${person.test.length} test pairs without a persona (the curve's start)…`;
          const tally = await scoreTestPairs(engine, person.test, null, scoring, signal);
          await this.#save(context, { ...base, id: newId(), createdAt: Date.now(), answered: 0, annotationIds: [], text: '', ...tally });
        }
        this.#working = `Inferring the persona from ${pairs.length} answer${pairs.length === 1 ? '' : 's'} (G.5)…`;
        const { text } = await inferPersona(engine, plan, undefined, signal);
        if (text === '') {
          this.#error = 'The model returned an empty persona: answer more questions, or change the seed under Persona.';
          return;
        }
        this.#working = `Scoring ${person.test.length} test pairs with the new persona…`;
        const tally = await scoreTestPairs(engine, person.test, text, scoring, signal);
        await this.#save(context, { ...base, id: newId(), createdAt: Date.now(), answered: pairs.length, annotationIds: pairs.map((pair) => pair.id), text, inference: plan.record, ...tally });
      });
      if (person.test.length === 0) this.#error = `${person.name ?? 'This person'} has no test pairs, so the persona could not be measured: mark some pairs "split": "test".`;
    } catch (error) {
      const { code, message } = toSerializedError(error);
      this.#error = code === 'aborted' ? 'Persona inference cancelled: your answers are kept; it runs again after the next answers.' : message;
    } finally {
      this.#working = null;
    }
  }

  async #save(context: string, checkpoint: ElicitationCheckpoint): Promise<void> {
    await this.#repo.saveCheckpoint(checkpoint);
    if (this.#context === context) this.#all = [...this.#all, checkpoint];
  }
}
