/**
 * Active persona elicitation (issue 13): the page asks the selected person (the user, or someone
 * role-playing them) questions, shows two answers to each, and keeps every pick as an annotated
 * train pair in IndexedDB the moment it is made. "Active" asks the question the current persona
 * is least sure about (the core's `chooseNextQuestion` on margins scored through the worker);
 * "Random" draws one, for comparison. Every `every` answers the persona is inferred again (the
 * core's one G.5 rule, as the Persona panel) from the annotated pairs and scored on the person's
 * held-out test pairs: one point of the accuracy curve.
 *
 * Each strategy is a track of its own: its answers, personas and curve points never mix with the
 * other's. The current persona of a track is the latest one inferred from its answers; before
 * the first, the Persona panel's text; without either, none (the plain question).
 */
import { exportElicitationLabels, type ElicitationAnswer, type ElicitationPick } from '../../core/elicitation/annotations.ts';
import { summarizeElicitationCurve, type ElicitationCurve, type ElicitationStepOutcome } from '../../core/elicitation/curve.ts';
import { chooseNextQuestion, type ElicitationCandidate, type ElicitationStrategy } from '../../core/elicitation/strategy.ts';
import { rngFor } from '../../core/dataset/seeds.ts';
import type { Engine } from '../../core/engine.ts';
import { AppError, toSerializedError } from '../../core/errors.ts';
import { exportPairs } from '../../core/exportPairs.ts';
import { sampleWithoutReplacement } from '../../core/random.ts';
import type { PreferencePair } from '../../core/schema.ts';
import { debounce, fileStamp, newId } from '../lib/debounce.ts';
import { chosenSecond } from '../../core/eval/agreementSummary.ts';
import { G2_MAX_NEW_TOKENS, generatedQuestions, oneLine, pairSetQuestions, pastedQuestions, questionsFromReply, selfDescriptionMessages } from '../lib/elicitationQuestions.ts';
import { annotatedPair, answerMargin, generateAnswers, plannedAnswers, type ScoringChoice } from '../lib/elicitationWork.ts';
import { FrameBatch } from '../lib/frameBatch.ts';
import type { Person } from '../lib/people.ts';
import { ElicitationSettings, type AnnotatedChoice, type ElicitationQuestion, type ShownAnswer } from '../storage/elicitationRecords.ts';
import type { Repository } from '../storage/repository.ts';
import { ElicitationCheckpoints } from './elicitationCheckpoints.svelte.ts';
import type { ModelController } from './model.svelte.ts';
import type { PersonaController } from './persona.svelte.ts';

/** How many of a track's latest personas "Active" compares when it looks for disagreement. */
const VERSIONS_COMPARED = 3;

export interface CurrentQuestion {
  question: ElicitationQuestion;
  strategy: ElicitationStrategy;
  reason: string;
  score?: number;
  /** Streaming until `ready`. */
  answers: [ShownAnswer, ShownAnswer];
  ready: boolean;
  /** Set once the user has picked (the choice is saved then). */
  pick?: ElicitationPick;
}

/** A key press as the section sees it: the key and whether it was typed into a field. */
export interface KeyPress {
  key: string;
  inField: boolean;
  modified: boolean;
}

export class ElicitationController {
  readonly #repo: Repository;
  readonly #model: ModelController;
  readonly #persona: PersonaController;
  readonly #scoring: () => ScoringChoice;
  readonly checkpoints: ElicitationCheckpoints;

  #settings = $state<ElicitationSettings>(ElicitationSettings.parse({}));
  #pairSetId = $state<string | null>(null);
  #person = $state.raw<Person | undefined>(undefined);
  #annotations = $state.raw<AnnotatedChoice[]>([]);
  #current = $state<CurrentQuestion | null>(null);
  #working = $state<string | null>(null);
  #error = $state<string | null>(null);
  #generating = $state(false);
  /** Answers written in this page, by what made them (see #answers); not reactive, never shown as such. */
  #written: Record<string, [ShownAnswer, ShownAnswer]> = {};
  readonly #saveSettings = debounce(() => void this.#repo.saveElicitationSettings(this.#settings), 300);

  readonly #questions = $derived.by((): ElicitationQuestion[] => {
    const { source, pastedQuestions: pasted, generatedQuestions: generated, generatedFrom } = this.#settings;
    if (source === 'pair-set') return pairSetQuestions(this.#person);
    if (source === 'pasted') return pastedQuestions(pasted);
    return generatedQuestions(generated, generatedFrom);
  });

  constructor(repo: Repository, model: ModelController, persona: PersonaController, scoring: () => ScoringChoice) {
    this.#repo = repo;
    this.#model = model;
    this.#persona = persona;
    this.#scoring = scoring;
    this.checkpoints = new ElicitationCheckpoints(repo, model, persona, scoring);
  }

  async init(): Promise<void> {
    this.#settings = await this.#repo.loadElicitationSettings();
  }

  async setContext(pairSetId: string | null, person: Person | undefined): Promise<void> {
    this.#pairSetId = pairSetId;
    this.#person = person;
    this.#current = null;
    this.#error = null;
    const annotations = pairSetId && person ? await this.#repo.annotations(pairSetId, person.key) : [];
    await this.checkpoints.setContext(pairSetId, person);
    if (this.#pairSetId !== pairSetId || this.#person?.key !== person?.key) return;
    this.#annotations = annotations;
  }

  // Reads ---------------------------------------------------------------------------------------

  get settings(): ElicitationSettings {
    return this.#settings;
  }
  set settings(value: ElicitationSettings) {
    this.#settings = ElicitationSettings.parse($state.snapshot(value));
    this.#saveSettings();
  }
  get person(): Person | undefined {
    return this.#person;
  }
  get questions(): readonly ElicitationQuestion[] {
    return this.#questions;
  }
  get annotations(): readonly AnnotatedChoice[] {
    return this.#annotations;
  }
  get current(): CurrentQuestion | null {
    return this.#current;
  }
  /** What the model is doing for this section, in words. */
  get working(): string | null {
    return this.#working ?? this.checkpoints.working;
  }
  get error(): string | null {
    return this.#error ?? this.checkpoints.error;
  }
  get generatingQuestions(): boolean {
    return this.#generating;
  }

  trackOf(strategy: ElicitationStrategy): AnnotatedChoice[] {
    return this.#annotations.filter((choice) => choice.strategy === strategy);
  }

  /** The train pairs a track's picks made (skips make none). */
  pairsOf(strategy: ElicitationStrategy): PreferencePair[] {
    return this.trackOf(strategy).flatMap((choice) => annotatedPair(choice) ?? []);
  }

  /** Questions of the current source the track has not asked yet (answered or skipped). */
  remaining(strategy: ElicitationStrategy): ElicitationQuestion[] {
    const asked: Record<string, true> = Object.fromEntries(this.trackOf(strategy).map((choice) => [choice.question.id, true]));
    return this.#questions.filter((question) => !asked[question.id]);
  }

  /** The persona a track's margins and "plain vs persona" answers use, with where it came from. */
  currentPersona(strategy: ElicitationStrategy): { text: string; from: string } | null {
    const latest = this.checkpoints.versionsOf(strategy).at(-1);
    if (latest) return { text: latest.text, from: `inferred from ${latest.answered} answer${latest.answered === 1 ? '' : 's'}` };
    const panel = this.#persona.text.trim();
    return panel ? { text: panel, from: 'the Persona panel' } : null;
  }

  /** Infers the persona of the selected strategy's track from its answers now, without waiting for `every`. */
  async inferNow(): Promise<void> {
    const { strategy } = this.#settings;
    const person = this.#person;
    const pairs = this.pairsOf(strategy);
    if (!person) return this.#fail('Load preference pairs first.');
    if (pairs.length === 0) return this.#fail(`Answer a question in the ${strategy} track first: the persona is inferred from your answers.`);
    this.#error = null;
    await this.checkpoints.infer(strategy, pairs, person);
  }

  get curve(): ElicitationCurve[] {
    const person = this.#person?.key;
    if (!person) return [];
    const outcomes: ElicitationStepOutcome[] = this.checkpoints.all.map(({ strategy, answered, scored, correct, ties }) => ({ strategy, repeat: 0, persona: person, shots: answered, scored, correct, ties }));
    return summarizeElicitationCurve(outcomes, { seed: 0, resamples: 1 });
  }

  // Actions -------------------------------------------------------------------------------------

  /** Asks the loaded model for questions (G.2) that someone of the self-description would ask. */
  async writeQuestions(): Promise<void> {
    const description = oneLine(this.#settings.selfDescription);
    this.#error = null;
    if (!description) return this.#fail('Describe yourself in one line first (e.g. "a retired teacher who cycles and cooks vegetarian").');
    this.#generating = true;
    try {
      const { maxNewTokens, temperature, topP, topK, seed } = this.#settings.sampling;
      // The section's answer length is for answers; a list of questions needs room.
      const reply = await this.#model.run('generate', 'writing questions (G.2)', (engine, signal) =>
        engine.generate(selfDescriptionMessages(description), { maxNewTokens: Math.max(maxNewTokens, G2_MAX_NEW_TOKENS), temperature, topP, topK, seed }, undefined, signal),
      );
      const questions = questionsFromReply(reply.text);
      if (questions.length === 0) return this.#fail('The model wrote no readable questions. Try again with another seed, or paste your own list.');
      this.settings = { ...this.#settings, source: 'generated', generatedQuestions: questions, generatedFrom: description };
    } catch (error) {
      this.#fail(toSerializedError(error).message);
    } finally {
      this.#generating = false;
    }
  }

  /** Chooses the next question with the selected strategy and writes (or takes) its two answers. */
  async next(): Promise<void> {
    this.#error = null;
    const person = this.#person;
    const { strategy, mode, source } = this.#settings;
    if (!person || this.#pairSetId === null) return this.#fail('Load preference pairs first: the section asks on behalf of the selected person and measures on their test pairs.');
    if (mode === 'pair-set' && source !== 'pair-set') return this.#fail('"The pair set’s answers" needs questions from the pair set: choose that source, or another way to make answers.');
    const remaining = this.remaining(strategy);
    if (remaining.length === 0) return this.#fail(`Every question from this source was asked in the ${strategy} track: add questions, or choose another source.`);
    const persona = this.currentPersona(strategy)?.text ?? null;
    const versions = this.checkpoints.versionsOf(strategy).slice(-VERSIONS_COMPARED);
    const asked = this.trackOf(strategy).length;
    const sampling = { ...this.#settings.sampling };
    const scoring = this.#scoring();
    this.#current = null;
    try {
      await this.#model.run('generate', 'choosing the next question', async (engine, signal) => {
        const pool = strategy === 'active' ? sampleWithoutReplacement(remaining, this.#settings.candidates, rngFor(sampling.seed, 'elicitation-pool', strategy, asked)) : remaining;
        const answered: Record<string, [ShownAnswer, ShownAnswer]> = {};
        const candidates: ElicitationCandidate[] = [];
        for (const [index, question] of pool.entries()) {
          if (strategy === 'random') {
            candidates.push({ id: question.id, prompt: question.text });
            continue;
          }
          this.#working = `${mode === 'pair-set' ? 'Scoring' : 'Answering and scoring'} candidate ${index + 1} of ${pool.length}: ${question.text}`;
          const answers = await this.#answers(engine, question, persona, sampling, signal);
          answered[question.id] = answers;
          const margin = await this.#margin(engine, question, answers, persona, scoring, signal);
          const versionMargins: number[] = [];
          for (const version of versions.length >= 2 ? versions : []) {
            const value = await this.#margin(engine, question, answers, version.text, scoring, signal);
            if (value !== undefined) versionMargins.push(value);
          }
          candidates.push({ id: question.id, prompt: question.text, ...(margin !== undefined && { margin }), ...(versionMargins.length >= 2 && { versionMargins }) });
        }
        const choice = chooseNextQuestion(candidates, strategy, rngFor(sampling.seed, 'elicitation-random', strategy, asked));
        const question = pool.find((candidate) => candidate.id === choice.id) as ElicitationQuestion;
        const reason = strategy === 'active' && pool.length < remaining.length ? `${choice.reason} (${pool.length} of ${remaining.length} questions scored)` : choice.reason;
        const known = answered[question.id];
        this.#current = { question, strategy, reason, ...(choice.score !== undefined && { score: choice.score }), answers: known ?? this.#blankAnswers(question, persona, sampling), ready: known !== undefined };
        if (known) return;
        this.#working = 'Writing the two answers…';
        const answers = await this.#answers(engine, question, persona, sampling, signal, (side, text) => this.#streamBatch.push({ side, text }));
        this.#streamBatch.flush();
        if (this.#current?.question.id === question.id) this.#current = { ...this.#current, answers, ready: true };
      });
    } catch (error) {
      this.#current = null;
      const { code, message } = toSerializedError(error);
      this.#fail(code === 'aborted' ? 'Cancelled: press "Next question" to start again.' : message);
    } finally {
      this.#working = null;
    }
  }

  /** Records the pick (A, B or skip) of the question on show, then re-infers the persona when `every` answers are in. */
  async pick(pick: ElicitationPick): Promise<void> {
    const current = this.#current;
    const model = this.#model.stamp;
    const person = this.#person;
    if (!current || !current.ready || current.pick || !person || this.#pairSetId === null) return;
    if (!model) return this.#fail('The model was unloaded: load it again to go on.');
    if (pick !== 'skip' && current.answers.some((answer) => answer.text.trim() === '')) return this.#fail('One answer is empty: skip this question (s).');
    this.#error = null;
    const choice: AnnotatedChoice = {
      id: newId(),
      pairSetId: this.#pairSetId,
      person: person.key,
      strategy: current.strategy,
      createdAt: Date.now(),
      question: current.question,
      reason: current.reason,
      ...(current.score !== undefined && { selectionScore: current.score }),
      mode: this.#settings.mode,
      answers: current.answers,
      sampling: { ...this.#settings.sampling },
      model,
      pick,
    };
    await this.#repo.saveAnnotation(choice);
    this.#annotations = [...this.#annotations, choice];
    this.#current = { ...current, pick };
    const answered = this.pairsOf(current.strategy);
    if (pick !== 'skip' && answered.length % this.#settings.every === 0) await this.checkpoints.infer(current.strategy, answered, person);
  }

  /** Keys 1, 2 and s pick A, B or skip; n asks the next question. Returns whether the key was the section's. */
  handleKey({ key, inField, modified }: KeyPress): boolean {
    if (inField || modified) return false;
    const picks: Record<string, ElicitationPick> = { '1': 'A', '2': 'B', s: 'skip', S: 'skip' };
    const pick = picks[key];
    if (pick) {
      if (!this.#current?.ready || this.#current.pick || this.#model.busy) return false;
      void this.pick(pick);
      return true;
    }
    if ((key === 'n' || key === 'N') && !this.#model.busy && this.#model.status === 'ready') {
      void this.next();
      return true;
    }
    return false;
  }

  /**
   * Labels in the format `eval agreement` reads, for picks between a pair set's own answers (the
   * only ones a judge has labelled); null when there are none.
   */
  exportLabels(annotator: string): { text: string; fileName: string; count: number } | null {
    const answers: ElicitationAnswer[] = this.#annotations.flatMap((choice) => {
      const [a, b] = choice.answers;
      if (choice.mode !== 'pair-set' || (a.kind !== 'chosen' && a.kind !== 'rejected') || (b.kind !== 'chosen' && b.kind !== 'rejected')) return [];
      return [{ pairId: choice.question.id, annotator, shown: [a.kind, b.kind], pick: choice.pick }];
    });
    if (answers.length === 0) return null;
    return { text: exportElicitationLabels(answers), fileName: `labels-${fileStamp(Date.now())}.jsonl`, count: answers.length };
  }

  /** Both tracks' annotated train pairs as JSON Lines (provenance in `meta`), for import elsewhere. */
  exportPairs(): { text: string; fileName: string } | null {
    const pairs = this.#annotations.flatMap((choice) => annotatedPair(choice) ?? []);
    return pairs.length === 0 ? null : { text: exportPairs(pairs, 'jsonl'), fileName: `annotated-pairs-${fileStamp(Date.now())}.jsonl` };
  }

  /** Saves pending settings now (before the page is hidden). */
  flush(): void {
    this.#saveSettings.flush();
  }

  // Internals -----------------------------------------------------------------------------------

  /** A question's two answers: the pair set's own (in the order that hides the judge's pick), or written by the model. */
  async #answers(
    engine: Engine,
    question: ElicitationQuestion,
    persona: string | null,
    sampling: ElicitationSettings['sampling'],
    signal: AbortSignal,
    onText: (side: 0 | 1, text: string) => void = () => {},
  ): Promise<[ShownAnswer, ShownAnswer]> {
    const { mode } = this.#settings;
    if (mode === 'pair-set') return this.#pairSetAnswers(question);
    const planned = plannedAnswers(question, mode, sampling, persona);
    // The same prompts, seeds, sampling and model write the same answers: "Active" scores a few
    // candidates per question and most come round again, so they are written once.
    const key = JSON.stringify([engine.info.model, engine.info.device, sampling, planned.map(({ kind, userContent, seed }) => [kind, userContent, seed])]);
    const known = this.#written[key];
    if (known) return known;
    const answers = await generateAnswers(engine, planned, sampling, onText, signal);
    this.#written[key] = answers;
    return answers;
  }

  #pairSetAnswers(question: ElicitationQuestion): [ShownAnswer, ShownAnswer] {
    const pair = this.#person?.train.find((candidate) => candidate.id === question.id);
    if (!pair) throw new AppError('invalid-input', `The pair "${question.id}" is no longer in the pair set.`);
    const chosen: ShownAnswer = { kind: 'chosen', userContent: pair.prompt, prompt: '', text: pair.chosen };
    const rejected: ShownAnswer = { kind: 'rejected', userContent: pair.prompt, prompt: '', text: pair.rejected };
    return chosenSecond(pair.id) ? [rejected, chosen] : [chosen, rejected];
  }

  #blankAnswers(question: ElicitationQuestion, persona: string | null, sampling: ElicitationSettings['sampling']): [ShownAnswer, ShownAnswer] {
    const { mode } = this.#settings;
    return mode === 'pair-set' ? this.#pairSetAnswers(question) : plannedAnswers(question, mode, sampling, persona);
  }

  readonly #streamBatch = new FrameBatch<{ side: 0 | 1; text: string }>((items) => {
    const current = this.#current;
    if (!current) return;
    const answers: [ShownAnswer, ShownAnswer] = [...current.answers];
    for (const { side, text } of items) answers[side] = { ...answers[side], text };
    this.#current = { ...current, answers };
  });

  /** The margin, or undefined when the pair cannot be scored (the candidate is then passed over). */
  async #margin(engine: Engine, question: ElicitationQuestion, answers: [ShownAnswer, ShownAnswer], persona: string | null, scoring: ScoringChoice, signal: AbortSignal): Promise<number | undefined> {
    try {
      return await answerMargin(engine, question, answers, persona, scoring, signal);
    } catch (error) {
      if (signal.aborted || toSerializedError(error).code === 'aborted') throw error;
      return undefined;
    }
  }

  #fail(message: string): void {
    this.#error = message;
  }
}
