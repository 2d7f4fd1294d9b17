/**
 * The Elicitation section's state (src/app/state/elicitation.svelte.ts, elicitationCheckpoints)
 * over the real worker client and host with the fake engine: picks by key are saved at once with
 * their provenance and survive a reload; the persona is inferred again (the core's G.5 plan) every
 * k answers and scored on the test pairs; "Active" asks the question with the smallest |margin|
 * scored through the worker, "Random" is seeded; labels export in the format `eval agreement`
 * reads; and the IndexedDB records round-trip and migrate.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeEvalFixture } from '../../../scripts/fixtures/makeEvalFixture.ts';
import { annotatedPair } from '../../../src/app/lib/elicitationWork.ts';
import { selfDescriptionMessages } from '../../../src/app/lib/elicitationQuestions.ts';
import type { Playground } from '../../../src/app/state/playground.svelte.ts';
import { openPlaygroundDb } from '../../../src/app/storage/db.ts';
import type { AnnotatedChoice, ElicitationCheckpoint } from '../../../src/app/storage/elicitationRecords.ts';
import { Repository } from '../../../src/app/storage/repository.ts';
import { chosenSecond } from '../../../src/core/eval/agreementSummary.ts';
import { importLabels } from '../../../src/core/eval/labels.ts';
import { PERSONA_INFERENCE_DEFAULTS, planPersonaInference } from '../../../src/core/personaInference.ts';
import { applyPrefix } from '../../../src/core/prefixes.ts';
import { ScoreSettings, scorePair } from '../../../src/core/scorer.ts';
import { drive } from '../../support/fakeClock.ts';
import { FakeEngine } from '../../support/fakeEngine.ts';
import { installPageEnvironment, loadModel, openPlayground, paste, restorePageEnvironment, settle, type PageRig } from '../../support/pageRig.ts';

beforeEach(installPageEnvironment);
afterEach(restorePageEnvironment);

const PAIRS = JSON.stringify(makeEvalFixture({ personaTexts: false, trainPerType: 3, testPerType: 2 }));
const key = (k: string, inField = false) => ({ key: k, inField, modified: false });

async function ready(dbName: string): Promise<Playground> {
  return (await readyRig(dbName)).playground;
}

async function readyRig(dbName: string): Promise<PageRig> {
  const rig = await openPlayground(dbName);
  await loadModel(rig.playground);
  await paste(rig.playground, PAIRS);
  rig.playground.persona.options = { ...rig.playground.persona.options, maxNewTokens: 6, seed: 3 };
  return rig;
}

const sent = (rig: PageRig, kind: string) => rig.workers.flatMap((worker) => worker.sent).filter((request) => request.kind === kind);

function configure(playground: Playground, patch: Partial<Playground['elicitation']['settings']>): void {
  const { elicitation } = playground;
  elicitation.settings = { ...elicitation.settings, sampling: { ...elicitation.settings.sampling, maxNewTokens: 4 }, ...patch };
}

describe('annotating by keyboard', () => {
  it('1, 2 and s pick or skip the question on show; each pick is saved at once as an annotated train pair and survives a reload', async () => {
    const playground = await ready('elicit-keys');
    const { elicitation, pairs } = playground;
    configure(playground, { source: 'pair-set', mode: 'samples', strategy: 'random', every: 10 });
    expect(elicitation.handleKey(key('1'))).toBe(false);

    await drive(elicitation.next());
    const shown = elicitation.current;
    expect(elicitation.error).toBeNull();
    expect(shown?.ready).toBe(true);
    expect(shown?.reason).toMatch(/^Drawn at random from 6 questions\.$/);
    expect(pairs.person?.train.map((pair) => pair.id)).toContain(shown?.question.id);
    expect(shown?.answers.map((answer) => answer.text)).toEqual([' w0 w1 w2 w3', ' w0 w1 w2 w3']);
    // Typed into a field, or with a modifier: not the section's.
    expect(elicitation.handleKey(key('1', true))).toBe(false);
    expect(elicitation.handleKey({ key: '1', inField: false, modified: true })).toBe(false);
    expect(elicitation.handleKey(key('1'))).toBe(true);
    await settle();
    expect(elicitation.current?.pick).toBe('A');
    // A second key on the same question changes nothing.
    expect(elicitation.handleKey(key('2'))).toBe(false);

    expect(elicitation.handleKey(key('n'))).toBe(true);
    await drive(new Promise<void>((resolve) => setTimeout(resolve, 200)));
    expect(elicitation.current?.ready).toBe(true);
    elicitation.handleKey(key('s'));
    await settle();
    await drive(elicitation.next());
    elicitation.handleKey(key('2'));
    await settle();

    expect(elicitation.annotations.map((choice) => choice.pick)).toEqual(['A', 'skip', 'B']);
    const [first, , third] = elicitation.annotations;
    if (!first || !third) throw new Error('no annotations');
    // Provenance: the question's source, both answers' prompts and seeds, the model.
    expect(first).toMatchObject({ strategy: 'random', mode: 'samples', question: { source: 'pair-set' }, model: playground.model.stamp, sampling: { maxNewTokens: 4 } });
    expect(first.answers.map((answer) => answer.prompt)).toEqual([first.question.text, first.question.text]);
    const [seedA, seedB] = first.answers.map((answer) => answer.seed);
    expect(seedA).not.toBe(seedB);
    const pair = annotatedPair(third);
    expect(pair).toMatchObject({ id: third.id, persona: pairs.person?.key, split: 'train', prompt: third.question.text, chosen: third.answers[1].text, rejected: third.answers[0].text });
    expect(pair?.meta).toMatchObject({ provenance: 'annotated', questionSource: 'pair-set', pick: 'B', model: playground.model.stamp, answers: third.answers.map(({ kind, prompt, seed }) => ({ kind, prompt, seed })) });
    expect(elicitation.pairsOf('random')).toHaveLength(2);
    expect(elicitation.remaining('random')).toHaveLength(3);

    playground.flush();
    await settle();
    const reloaded = (await openPlayground('elicit-keys')).playground.elicitation;
    expect(reloaded.annotations).toEqual(elicitation.annotations);
    expect(reloaded.settings).toEqual(elicitation.settings);
    expect(reloaded.pairsOf('random')).toEqual(elicitation.pairsOf('random'));
  });

  it('says what to do when a mode cannot run: plain vs persona without a persona, the pair set’s answers for pasted questions', async () => {
    const playground = await ready('elicit-errors');
    const { elicitation } = playground;
    configure(playground, { source: 'pasted', pastedQuestions: '1. Tea or coffee?\n2. Cats or dogs?\n', mode: 'plain-vs-persona', strategy: 'random' });
    expect(elicitation.questions.map((question) => question.text)).toEqual(['Tea or coffee?', 'Cats or dogs?']);
    await drive(elicitation.next());
    expect(elicitation.error).toMatch(/^Plain vs persona needs a persona/);
    expect(elicitation.current).toBeNull();

    configure(playground, { mode: 'pair-set' });
    await drive(elicitation.next());
    expect(elicitation.error).toMatch(/needs questions from the pair set/);

    // With a persona in the Persona panel, plain vs persona runs: the second side is prefixed (G.10).
    playground.persona.text = 'Drinks tea.';
    configure(playground, { mode: 'plain-vs-persona' });
    await drive(elicitation.next());
    const answers = elicitation.current?.answers;
    expect(answers?.map((answer) => answer.kind)).toEqual(['plain', 'persona']);
    expect(answers?.[1].userContent).toBe(applyPrefix({ kind: 'persona', text: 'Drinks tea.' }, answers?.[0].userContent ?? ''));
    expect(answers?.[0].seed).toBe(answers?.[1].seed);
  });

  it('writes questions with G.2 from a one-line self-description, through the worker, and keeps them', async () => {
    const rig = await readyRig('elicit-g2');
    const { playground } = rig;
    const { elicitation } = playground;
    configure(playground, { selfDescription: '  a retired teacher   who cycles ' });
    await drive(elicitation.writeQuestions());
    expect(elicitation.error).toBeNull();
    expect(sent(rig, 'generate')[0]?.payload).toMatchObject({ messages: selfDescriptionMessages('a retired teacher who cycles') });
    expect(elicitation.settings.source).toBe('generated');
    // The fake engine writes one line of words: one question.
    expect(elicitation.questions).toEqual([{ id: expect.stringMatching(/^q-/), text: expect.stringMatching(/^w0 w1/), source: 'generated', selfDescription: 'a retired teacher who cycles' }]);
  });
});

/** Answers `count` questions of the current strategy, picking A. */
async function answer(playground: Playground, count: number): Promise<void> {
  for (let index = 0; index < count; index++) {
    await drive(playground.elicitation.next());
    await drive(playground.elicitation.pick('A'));
  }
}

describe('the persona again every k answers', () => {
  it('after every k answers (skips do not count) infers the persona with the core’s G.5 plan on the annotated pairs and scores the test pairs', async () => {
    const rig = await readyRig('elicit-every');
    const { playground } = rig;
    const { elicitation, pairs } = playground;
    const person = pairs.person;
    if (!person) throw new Error('no person');
    configure(playground, { source: 'pair-set', mode: 'samples', strategy: 'random', every: 2 });

    await answer(playground, 1);
    await drive(elicitation.next());
    await drive(elicitation.pick('skip'));
    expect(elicitation.checkpoints.all).toEqual([]);
    expect(sent(rig, 'score')).toHaveLength(0);

    await answer(playground, 1);
    expect(elicitation.error).toBeNull();
    const [start, first] = elicitation.checkpoints.all;
    // The curve's start: the test pairs without a persona, then the persona inferred from 2 answers.
    expect(start).toMatchObject({ strategy: 'random', answered: 0, text: '', scored: person.test.length, failed: 0 });
    expect(start?.inference).toBeUndefined();
    const annotated = elicitation.pairsOf('random');
    expect(annotated).toHaveLength(2);
    const { seed, ...settings } = playground.persona.options;
    const plan = planPersonaInference({ person: person.key, train: annotated, seed, settings });
    expect(first).toMatchObject({ strategy: 'random', answered: 2, annotationIds: annotated.map((pair) => pair.id), text: 'w0 w1 w2 w3 w4 w5', inference: plan.record, scored: person.test.length, model: playground.model.stamp });
    expect(plan.record).toMatchObject({ shotIds: expect.arrayContaining(annotated.map((pair) => pair.id)), maxNewTokens: 6 });
    expect(sent(rig, 'generate').at(-1)?.payload).toEqual({ messages: plan.messages, options: plan.options });
    // Two scoring passes over the test pairs: without and with the persona prefix.
    expect(sent(rig, 'score')).toHaveLength(2 * person.test.length);
    expect(elicitation.checkpoints.versionsOf('random')).toEqual([first]);
    expect(elicitation.currentPersona('random')).toEqual({ text: 'w0 w1 w2 w3 w4 w5', from: 'inferred from 2 answers' });

    await answer(playground, 2);
    expect(elicitation.checkpoints.all.map((checkpoint) => checkpoint.answered)).toEqual([0, 2, 4]);
    const [curve] = elicitation.curve;
    expect(curve?.strategy).toBe('random');
    expect(curve?.points.map((point) => [point.shots, point.pooled.n, point.pooled.correct])).toEqual(elicitation.checkpoints.all.map((checkpoint) => [checkpoint.answered, checkpoint.scored, checkpoint.correct]));

    // Kept across a reload, with the curve.
    const reloaded = (await openPlayground('elicit-every')).playground.elicitation;
    expect(reloaded.checkpoints.all).toEqual(elicitation.checkpoints.all);
    expect(reloaded.curve).toEqual(elicitation.curve);
  });
});

describe('choosing the next question', () => {
  it('"Active" scores the candidates’ margins through the worker and asks the one with the smallest |margin|, saying why', async () => {
    const rig = await readyRig('elicit-active');
    const { playground } = rig;
    const { elicitation, pairs } = playground;
    configure(playground, { source: 'pair-set', mode: 'pair-set', strategy: 'active', candidates: 12 });
    await drive(elicitation.next());
    expect(elicitation.error).toBeNull();

    // The same margins, computed outside the page: each train pair's answers in their shown order.
    const settings = ScoreSettings.parse({ convention: 'authors', aggregation: 'mean' });
    const engine = new FakeEngine();
    const margins: { id: string; margin: number }[] = [];
    for (const pair of pairs.person?.train ?? []) {
      const [a, b] = chosenSecond(pair.id) ? [pair.rejected, pair.chosen] : [pair.chosen, pair.rejected];
      const { margin } = await drive(scorePair(engine, { id: pair.id, userContent: pair.prompt, chosen: a, rejected: b }, settings));
      margins.push({ id: pair.id, margin });
    }
    expect(new Set(margins.map((entry) => Math.abs(entry.margin))).size).toBeGreaterThan(1);
    const least = margins.reduce((best, entry) => (Math.abs(entry.margin) < Math.abs(best.margin) || (Math.abs(entry.margin) === Math.abs(best.margin) && entry.id < best.id) ? entry : best));
    expect(sent(rig, 'score')).toHaveLength(margins.length);
    expect(elicitation.current?.question.id).toBe(least.id);
    expect(elicitation.current?.reason).toMatch(/^The model can't tell which answer you'd prefer: margin -?\d+\.\d+\.$/);
    expect(elicitation.current?.score).toBeCloseTo(Math.abs(least.margin), 10);
    // The pair set's own answers, in the order that hides the judge's pick.
    expect(elicitation.current?.answers.map((answer) => answer.kind)).toEqual(chosenSecond(least.id) ? ['rejected', 'chosen'] : ['chosen', 'rejected']);
  });

  it('"Active" writes each candidate’s answers once: a candidate scored before is not written again', async () => {
    const rig = await readyRig('elicit-active-written');
    const { playground } = rig;
    configure(playground, { source: 'pasted', pastedQuestions: 'Tea or coffee?\nCats or dogs?\nSea or mountains?\nBooks or films?\n', mode: 'samples', strategy: 'active', candidates: 3, every: 10 });
    await answer(playground, 3);
    expect(playground.elicitation.error).toBeNull();
    const written = sent(rig, 'generate').map((request) => JSON.stringify(request.payload));
    // 3 questions scored in the first round, then 2 of 3 left, then the 1 left: at most 4 questions, 2 answers each.
    expect(new Set(written).size).toBe(written.length);
    expect(written.length).toBeLessThanOrEqual(8);
    // Each step still scored every candidate it had.
    expect(sent(rig, 'score')).toHaveLength(3 + 3 + 2);
  });

  it('"Active" with fewer candidates than questions says how many it scored', async () => {
    const playground = await ready('elicit-active-pool');
    configure(playground, { source: 'pair-set', mode: 'pair-set', strategy: 'active', candidates: 3 });
    await drive(playground.elicitation.next());
    expect(playground.elicitation.current?.reason).toMatch(/ \(3 of 6 questions scored\)$/);
  });

  it('"Random" is seeded: the same seed asks the same questions in the same order', async () => {
    const order = async (dbName: string, seed: number) => {
      const playground = await ready(dbName);
      configure(playground, { source: 'pair-set', mode: 'pair-set', strategy: 'random' });
      playground.elicitation.settings = { ...playground.elicitation.settings, sampling: { ...playground.elicitation.settings.sampling, seed } };
      await answer(playground, 4);
      return playground.elicitation.annotations.map((choice) => choice.question.id);
    };
    const first = await order('elicit-random-1', 7);
    expect(await order('elicit-random-2', 7)).toEqual(first);
    expect(new Set(first).size).toBe(4);
    expect([await order('elicit-random-3', 8), await order('elicit-random-4', 9)]).not.toEqual([first, first]);
  });
});

describe('export', () => {
  it('picks between the pair set’s answers export as labels `eval agreement` reads: the preferred answer by its role, skips as null', async () => {
    const playground = await ready('elicit-export');
    const { elicitation } = playground;
    configure(playground, { source: 'pair-set', mode: 'pair-set', strategy: 'random' });
    expect(elicitation.exportLabels('Ada')).toBeNull();
    for (const pick of ['A', 'B', 'skip'] as const) {
      await drive(elicitation.next());
      await drive(elicitation.pick(pick));
    }
    const exported = elicitation.exportLabels('Ada');
    expect(exported?.count).toBe(3);
    const { labels, issues } = importLabels(exported?.text ?? '');
    expect(issues).toEqual([]);
    expect(labels).toEqual(
      elicitation.annotations.map((choice) => ({
        pairId: choice.question.id,
        annotator: 'Ada',
        preferred: choice.pick === 'skip' ? null : choice.answers[choice.pick === 'A' ? 0 : 1].kind,
      })),
    );
    // The annotated pairs, provenance included, as JSON Lines.
    const pairsFile = elicitation.exportPairs();
    expect(pairsFile?.text.trim().split('\n').map((line) => JSON.parse(line).meta.provenance)).toEqual(['annotated', 'annotated']);
  });
});

describe('storage', () => {
  const model = { id: 'tiny-llama-random', label: 'Tiny test Llama', backend: 'transformers', device: 'wasm' };
  const shown = { kind: 'sample', userContent: 'Tea?', prompt: '<|user|>\nTea?</s>\n<|assistant|>\n', text: 'Yes.', seed: 4 } as const;
  const choice: AnnotatedChoice = {
    id: 'c1',
    pairSetId: 'set',
    person: 'Mara Quill',
    strategy: 'active',
    createdAt: 5,
    question: { id: 'q-1', text: 'Tea?', source: 'pasted' },
    reason: "The model can't tell which answer you'd prefer: margin 0.02.",
    selectionScore: 0.02,
    mode: 'samples',
    answers: [shown, { ...shown, text: 'No.', seed: 5 }],
    sampling: { maxNewTokens: 8, temperature: 1, topP: 0.9, topK: 0, seed: 1 },
    model,
    pick: 'B',
  };
  const checkpoint: ElicitationCheckpoint = {
    id: 'k1',
    pairSetId: 'set',
    person: 'Mara Quill',
    strategy: 'active',
    createdAt: 6,
    answered: 1,
    annotationIds: ['c1'],
    text: 'Prefers short answers.',
    inference: planPersonaInference({ person: 'Mara Quill', train: [{ id: 'c1', prompt: 'Tea?', chosen: 'No.', rejected: 'Yes.' }], seed: 0, settings: PERSONA_INFERENCE_DEFAULTS }).record,
    model,
    scored: 4,
    correct: 3,
    ties: 0,
    failed: 0,
  };

  it('v2 → v3 adds the elicitation stores and keeps what was there; annotations and personas round-trip, damaged ones are skipped and counted', async () => {
    const v2 = await openPlaygroundDb('elicit-db', 2);
    await v2.put('personaVersions', { id: 'p', pairSetId: 'set', person: 'Mara Quill', text: 'kept', createdAt: 1, provenance: { source: 'edited', parentId: null } });
    v2.close();
    const repo = await Repository.open('elicit-db');
    expect((await repo.personaVersions('set', 'Mara Quill')).map((version) => version.text)).toEqual(['kept']);
    await repo.saveAnnotation(choice);
    await repo.saveCheckpoint(checkpoint);
    expect(await repo.annotations('set', 'Mara Quill')).toEqual([choice]);
    expect(await repo.checkpoints('set', 'Mara Quill')).toEqual([checkpoint]);
    expect(await repo.annotations('set', 'Someone Else')).toEqual([]);

    const db = await openPlaygroundDb('elicit-db');
    await db.put('annotations', { ...choice, id: 'broken', pick: 'maybe' });
    await db.put('elicitationCheckpoints', { ...checkpoint, id: 'broken', correct: 'three' });
    db.close();
    const reopened = await Repository.open('elicit-db');
    expect(await reopened.annotations('set', 'Mara Quill')).toEqual([choice]);
    expect(await reopened.checkpoints('set', 'Mara Quill')).toEqual([checkpoint]);
    expect(reopened.skipped).toBe(2);

    // Deleting the pair set deletes what was elicited for it.
    await reopened.deletePairSet('set');
    const db2 = await openPlaygroundDb('elicit-db');
    expect(await db2.count('annotations')).toBe(0);
    expect(await db2.count('elicitationCheckpoints')).toBe(0);
    db2.close();
  });
});
