import { describe, expect, it } from 'vitest';
import { applyPrefix, resolvePrefix, specialPersonTag } from '../../src/core/prefixes.ts';
import type { PreferencePair } from '../../src/core/schema.ts';

const train: PreferencePair[] = Array.from({ length: 6 }, (_, i) => ({
  id: `t${i}`,
  prompt: `question ${i}`,
  chosen: `good ${i}`,
  rejected: `bad ${i}`,
  split: 'train',
}));
const CATER =
  'Cater the response to how they might like, agree with, or be interested in. You may change the style, content, length, vocabulary, opinion, stance, or any relevant aspects of your response based on';

describe('applyPrefix', () => {
  it('none returns the question unchanged', () => {
    expect(applyPrefix({ kind: 'none' }, 'Q?')).toBe('Q?');
  });

  it('tag is the tag, a space, then x (G.8)', () => {
    expect(applyPrefix({ kind: 'tag', tag: specialPersonTag(3) }, 'Q?')).toBe('<special_person_tag_3> Q?');
  });

  it('name wraps with G.7', () => {
    expect(applyPrefix({ kind: 'name', name: 'Ada' }, 'Q?')).toBe(`Respond to the following prompt from Ada. ${CATER} Ada's background.\n\nQ?`);
  });

  it('persona and gold wrap with G.10: persona, blank line, request, blank line, x', () => {
    for (const kind of ['persona', 'gold'] as const) {
      expect(applyPrefix({ kind, text: 'P.' }, 'Q?')).toBe(`P.\n\nRespond to the following prompt from this person. ${CATER} their background.\n\nQ?`);
    }
  });

  it('few-shot wraps with G.9 and ends open at "### Preferred Response:"', () => {
    const text = applyPrefix({ kind: 'few-shot', shots: [{ prompt: 'q1', chosen: 'a1' }] }, 'Q?');
    expect(text).toBe(
      `Respond to the following prompt from this person. ${CATER} their background.\n## Prompt:\nq1\n### Preferred Response:\na1\n\n## Prompt:\nQ?\n### Preferred Response:`,
    );
  });

  it('custom substitutes {x} or appends the question after a blank line', () => {
    expect(applyPrefix({ kind: 'custom', text: 'As a chef: {x} Thanks.' }, 'Q?')).toBe('As a chef: Q? Thanks.');
    expect(applyPrefix({ kind: 'custom', text: 'I am a chef.' }, 'Q?')).toBe('I am a chef.\n\nQ?');
  });
});

describe('resolvePrefix', () => {
  it('draws few-shot examples reproducibly from the train split, two by default', () => {
    const first = resolvePrefix('few-shot', { trainPairs: train, seed: 7 });
    const again = resolvePrefix('few-shot', { trainPairs: train, seed: 7 });
    const other = resolvePrefix('few-shot', { trainPairs: train, seed: 8 });
    expect(first).toEqual(again);
    expect(first.kind === 'few-shot' && first.shots).toHaveLength(2);
    expect(other).not.toEqual(first);
  });

  it('takes persona texts under our names or the authors field names', () => {
    expect(resolvePrefix('persona', { trainPairs: [], seed: 0, persona: { prefixes: { persona_xy_4s: 'P' } } })).toEqual({ kind: 'persona', text: 'P' });
    expect(resolvePrefix('gold', { trainPairs: [], seed: 0, persona: { prefixes: { persona_gold_gpt4: 'G' } } })).toEqual({ kind: 'gold', text: 'G' });
  });

  it('uses the persona tag, else the person index', () => {
    expect(resolvePrefix('tag', { trainPairs: [], seed: 0, tagIndex: 4 })).toEqual({ kind: 'tag', tag: '<special_person_tag_4>' });
    expect(resolvePrefix('tag', { trainPairs: [], seed: 0, tagIndex: 4, persona: { prefixes: { tag: '<t>' } } })).toEqual({ kind: 'tag', tag: '<t>' });
  });

  it('says what is missing', () => {
    expect(() => resolvePrefix('persona', { name: 'Ada', trainPairs: [], seed: 0 })).toThrow(/Prefix "persona" for Ada needs a "persona" text/);
    expect(() => resolvePrefix('few-shot', { name: 'Ada', trainPairs: [], seed: 0 })).toThrow(/train-split pairs/);
    expect(() => resolvePrefix('name', { trainPairs: [], seed: 0 })).toThrow(/needs a persona name/);
  });
});
