/**
 * The page's scoring runs (src/app/state/scoring.svelte.ts) over the real worker client and host
 * with the fake engine: a run stores every result as it finishes; an interrupted run, built as the
 * stored records a reload mid-run leaves behind, is offered for resuming and resumes with only the
 * missing pairs; a cancelled run too.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeEvalFixture } from '../../../scripts/fixtures/makeEvalFixture.ts';
import type { ScoringCheck } from '../../../src/core/engine.ts';
import type { Playground } from '../../../src/app/state/playground.svelte.ts';
import type { PairResult, ScoringRun } from '../../../src/app/storage/records.ts';
import { drive } from '../../support/fakeClock.ts';
import { installPageEnvironment, loadModel, openPlayground, paste, restorePageEnvironment, settle } from '../../support/pageRig.ts';

beforeEach(installPageEnvironment);
afterEach(restorePageEnvironment);

const PAIRS = JSON.stringify(makeEvalFixture({ personaTexts: true, testPerType: 3 }));
const KINDS = ['none', 'name', 'gold'] as const;

async function scoredPlayground(dbName: string): Promise<{ playground: Playground; run: ScoringRun; results: readonly PairResult[] }> {
  const { playground } = await openPlayground(dbName);
  await loadModel(playground);
  await paste(playground, PAIRS);
  playground.scoring.settings = { ...playground.scoring.settings, kinds: [...KINDS] };
  await drive(playground.scoring.start());
  const run = playground.scoring.selected;
  if (!run) throw new Error('no run');
  return { playground, run, results: playground.scoring.resultsOf(run) };
}

const byKey = (results: readonly PairResult[]) => new Map(results.map((result) => [`${result.kind}/${result.pairId}`, result]));

describe('scoring runs', () => {
  it('scores every test pair under every prefix kind, stores each result, and reports accuracy per kind', async () => {
    const { playground, run, results } = await scoredPlayground('scoring');
    const person = playground.pairs.person;
    expect(playground.scoring.error).toBeNull();
    expect(run).toMatchObject({ status: 'done', person: person?.key, convention: 'authors', aggregation: 'mean', model: playground.model.stamp });
    expect(run.prefixes.map((prefix) => prefix.kind)).toEqual(KINDS);
    expect(run.pairs.map((pair) => pair.id)).toEqual(person?.test.map((pair) => pair.id));
    expect(results).toHaveLength(run.pairs.length * KINDS.length);
    expect(results.every((result) => result.ok)).toBe(true);
    const stored = await drive(playground.repo.results(run.id));
    expect(byKey(stored)).toEqual(byKey(results));
    const accuracy = playground.scoring.accuracyOf(run);
    expect(accuracy.map((entry) => entry.kind)).toEqual(KINDS);
    for (const entry of accuracy) {
      const correct = results.filter((result) => result.kind === entry.kind && result.ok && result.correct).length;
      expect(entry.cells.all).toMatchObject({ correct, n: run.pairs.length });
      expect(entry.scored).toBe(run.pairs.length);
    }
  });

  it('a run interrupted by a reload (its stored records) is offered for resuming once its model is loaded, and resuming scores only what is missing', async () => {
    const reference = await scoredPlayground('reference');
    // The records a reload mid-run leaves: the run still "running", the first results saved.
    const { playground } = await openPlayground('interrupted');
    await paste(playground, PAIRS);
    const saved = reference.results.slice(0, 4);
    const interrupted: ScoringRun = { ...reference.run, id: 'interrupted-run', status: 'running', pairSetId: playground.pairs.activeId ?? '' };
    delete interrupted.finishedAt;
    await drive(playground.repo.saveRun(interrupted));
    for (const result of saved) await drive(playground.repo.saveResult({ ...result, runId: interrupted.id }));

    const { playground: reloaded, workers } = await openPlayground('interrupted');
    const { scoring } = reloaded;
    expect(scoring.resumable.map((run) => run.id)).toEqual([interrupted.id]);
    expect(scoring.savedCount(interrupted)).toBe(4);
    expect(scoring.resumeBlocker(interrupted)).toBe(`Load ${interrupted.model.label} to resume.`);

    await loadModel(reloaded);
    expect(scoring.resumeBlocker(interrupted)).toBeNull();
    await drive(scoring.resume(interrupted.id));
    expect(scoring.error).toBeNull();
    expect(scoring.resumable).toEqual([]);
    expect(scoring.selected?.status).toBe('done');
    const resumed = scoring.resultsOf(scoring.selected);
    expect(resumed).toHaveLength(reference.results.length);
    // Each missing pair scored once (a score request per pair), the saved ones kept as they were.
    const scoreRequests = workers[0]?.sent.filter((request) => request.kind === 'score') ?? [];
    expect(scoreRequests).toHaveLength(reference.results.length - saved.length);
    const expected = byKey(reference.results);
    for (const [key, result] of byKey(resumed)) {
      const { runId: _resumedRun, finishedAt: _resumedAt, ...scored } = result;
      const { runId: _referenceRun, finishedAt: _referenceAt, ...reference } = expected.get(key) as PairResult;
      expect(scored).toEqual(reference);
    }
    await settle();
    expect((await drive(reloaded.repo.run(interrupted.id)))?.status).toBe('done');
  });

  it('shows pairs/s and the time left while scoring, stores the measured rate with the run, and estimates the next run from it', async () => {
    const { playground } = await openPlayground('rate');
    await loadModel(playground);
    await paste(playground, PAIRS);
    const { scoring } = playground;
    scoring.settings = { ...scoring.settings, kinds: [...KINDS] };
    expect(scoring.estimate).toBeNull();
    const running = scoring.start();
    await drive(new Promise<void>((resolve) => setTimeout(resolve, 12)));
    const live = scoring.liveRate;
    const run = scoring.selected as ScoringRun;
    expect(live?.runId).toBe(run.id);
    expect(live?.done).toBeGreaterThan(0);
    expect(live?.perSecond).toBeCloseTo((live?.done ?? 0) / (live?.seconds ?? 1), 9);
    const left = scoring.expected(run) - (live?.done ?? 0);
    expect(live?.etaSeconds).toBeCloseTo(left / (live?.perSecond ?? 1), 9);
    await drive(running);
    expect(scoring.liveRate).toBeNull();
    const done = scoring.selected as ScoringRun;
    expect(done.timing?.scored).toBe(scoring.expected(done));
    expect(done.timing?.seconds).toBeGreaterThan(0);
    expect((await drive(playground.repo.run(done.id)))?.timing).toEqual(done.timing);
    const perSecond = (done.timing?.scored ?? 0) / (done.timing?.seconds ?? 1);
    scoring.settings = { ...scoring.settings, kinds: ['none'] };
    expect(scoring.estimate).toEqual({ perSecond, results: done.pairs.length, seconds: done.pairs.length / perSecond });
  });

  it('keeps the engine\'s scoring check with the run and writes its method and agreement at the top of the export', async () => {
    const check: ScoringCheck = {
      method: 'forced-decode',
      maxAbsDiff: 0.7,
      meanAbsDiff: 0.2,
      repeatMaxAbsDiff: 0,
      tokens: 12,
      tolerance: { precision: 'f32', maxAbsDiff: 0.01, meanAbsDiff: 0.002 },
      reason: 'One-pass scoring disagreed with forced decoding on this GPU, so scoring uses forced decoding.',
      subject: 'fake-model',
    };
    const rig = await openPlayground('check');
    const { playground } = rig;
    await loadModel(playground);
    const engine = rig.engines[0];
    if (!engine) throw new Error('no engine');
    engine.scoringCheck = check;
    await paste(playground, PAIRS);
    playground.scoring.settings = { ...playground.scoring.settings, kinds: ['none'] };
    await drive(playground.scoring.start());
    const run = playground.scoring.selected as ScoringRun;
    expect(run.scoringCheck).toEqual(check);
    expect((await drive(playground.repo.run(run.id)))?.scoringCheck).toEqual(check);
    const exported = JSON.parse(playground.scoring.exportRun(run).text) as { method: string; maxAbsDiff: number | null; run: ScoringRun };
    expect(exported).toMatchObject({ method: 'forced-decode', maxAbsDiff: 0.7 });
    expect(exported.run.scoringCheck).toEqual(check);
  });

  it('a cancelled run keeps what finished, says how to go on, and resumes to the end', async () => {
    const { playground } = await openPlayground('cancelled');
    await loadModel(playground);
    await paste(playground, PAIRS);
    const { scoring } = playground;
    scoring.settings = { ...scoring.settings, kinds: [...KINDS] };
    const running = scoring.start();
    await drive(new Promise<void>((resolve) => setTimeout(resolve, 12)));
    scoring.cancel();
    await drive(running);
    const run = scoring.selected as ScoringRun;
    expect(run.status).toBe('cancelled');
    expect(scoring.error).toBe('Scoring cancelled: finished pairs are kept; resume the run to score the rest.');
    const kept = scoring.resultsOf(run).length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(scoring.expected(run));
    expect(scoring.resumable.map((candidate) => candidate.id)).toEqual([run.id]);
    await drive(scoring.resume(run.id));
    expect(scoring.selected?.status).toBe('done');
    expect(scoring.resultsOf(scoring.selected)).toHaveLength(scoring.expected(run));
  });
});
