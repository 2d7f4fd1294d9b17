/**
 * The demo set lands ready to score (src/app/state/playground.svelte.ts `loadDemo`): its people
 * have gold descriptions, so "None" and "Gold persona" are preselected, and a run starts at once
 * without inferring or writing anything first. A pasted set keeps the user's own choice.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scorableKinds } from '../../../src/app/lib/prefixChoice.ts';
import type { PrefixKind } from '../../../src/core/prefixes.ts';
import { drive } from '../../support/fakeClock.ts';
import { installPageEnvironment, loadModel, openPlayground, paste, restorePageEnvironment, settle } from '../../support/pageRig.ts';

beforeEach(installPageEnvironment);
afterEach(restorePageEnvironment);

describe('the demo set', () => {
  it('preselects the prefix kinds it can score at once, and scores with them', async () => {
    const { playground } = await openPlayground('demo');
    expect(playground.scoring.settings.kinds).toEqual(['none', 'persona']);
    await loadModel(playground);
    await drive(playground.loadDemo());
    await settle(1000);
    expect(playground.pairs.people).toHaveLength(4);
    expect(playground.scoring.settings.kinds).toEqual(['none', 'gold']);
    await drive(playground.scoring.start());
    const run = playground.scoring.selected;
    expect(playground.scoring.error).toBeNull();
    expect(run?.status).toBe('done');
    expect(run?.prefixes.map((prefix) => prefix.kind)).toEqual(['none', 'gold']);
    expect(playground.scoring.resultsOf(run)).toHaveLength((run?.pairs.length ?? 0) * 2);
  });

  it('leaves a pasted set’s prefix choice alone', async () => {
    const { playground } = await openPlayground('pasted');
    playground.scoring.settings = { ...playground.scoring.settings, kinds: ['none', 'name'] };
    await paste(playground, JSON.stringify({ persona: 'Ada', prompt: 'Tea?', chosen: 'Yes', rejected: 'No' }));
    expect(playground.scoring.settings.kinds).toEqual(['none', 'name']);
  });
});

describe('scorable prefix kinds', () => {
  const only = (available: PrefixKind[]) => (kind: PrefixKind) => available.includes(kind);
  it('takes no prefix, the persona and the gold description when they can be built, else few-shot', () => {
    expect(scorableKinds(only(['none', 'gold', 'few-shot', 'name']))).toEqual(['none', 'gold']);
    expect(scorableKinds(only(['none', 'persona', 'gold', 'few-shot']))).toEqual(['none', 'persona', 'gold']);
    expect(scorableKinds(only(['none', 'few-shot', 'name']))).toEqual(['none', 'few-shot']);
    expect(scorableKinds(only(['none']))).toEqual(['none']);
  });
});
