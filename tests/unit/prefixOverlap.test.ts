import { describe, expect, it } from 'vitest';
import { prefixOverlap } from '../../src/core/eval/prefixOverlap.ts';
import { applyPrefix } from '../../src/core/prefixes.ts';
import { rougeLsum } from '../../src/core/rouge.ts';
import type { Persona } from '../../src/core/schema.ts';
import { wordCount } from '../../src/core/words.ts';

const personas: Persona[] = [
  { name: 'Mara Quill', prefixes: { persona: 'Cares about plants and oat milk.\nCooks lentils.', xyw_2s: '## Prompt:\nWhat to cook?\n### Preferred Response:\nLentils.' } },
  { name: 'Ines Calder', prefixes: { persona: 'Cares about unions and housing.', xyw_2s: '## Prompt:\nWho to vote for?\n### Preferred Response:\nThe union candidate.' } },
];
const shuffle = { 'Mara Quill': 'Ines Calder', 'Ines Calder': 'Mara Quill' };

describe('prefixOverlap (Table 13)', () => {
  const overlap = prefixOverlap(personas, shuffle);
  const column = (name: string) => overlap.columns.find((entry) => entry.column === name);

  it('scores tags by their shared words: <special_person_tag_0> vs _1 share 3 of 4 tokens (F 0.75), alone and wrapped alike', () => {
    expect(column('tag')?.alone).toEqual({ length: 1, rouge: 0.75, product: 0.75 });
    // A tag's wrapper is the tag itself before the question: nothing is added.
    expect(column('tag')?.withWrapper).toEqual({ length: 1, rouge: 0.75, product: 0.75 });
  });

  it('names share nothing alone and almost everything inside the name template (G.8)', () => {
    expect(column('name')?.alone.rouge).toBe(0);
    expect(column('name')?.alone.length).toBe(2);
    const wrappedMara = applyPrefix({ kind: 'name', name: 'Mara Quill' }, '').trim();
    const wrappedInes = applyPrefix({ kind: 'name', name: 'Ines Calder' }, '').trim();
    expect(column('name')?.withWrapper.rouge).toBeCloseTo(rougeLsum(wrappedMara, wrappedInes).f1, 12);
    expect(column('name')?.withWrapper.rouge).toBeGreaterThan(0.8);
    expect(column('name')?.withWrapper.length).toBe(wordCount(wrappedMara));
  });

  it('averages ROUGE-Lsum over personas (prefix as reference, the shuffled one as prediction), and multiplies the means', () => {
    const [mara, ines] = personas.map((persona) => persona.prefixes.persona as string) as [string, string];
    const expected = (rougeLsum(mara, ines).f1 + rougeLsum(ines, mara).f1) / 2;
    expect(column('persona')?.alone.rouge).toBeCloseTo(expected, 12);
    expect(column('persona')?.alone.length).toBe((wordCount(mara) + wordCount(ines)) / 2);
    expect(column('persona')?.alone.product).toBeCloseTo(expected * ((wordCount(mara) + wordCount(ines)) / 2), 12);
    expect(column('few-shot')?.personas).toBe(2);
    // Strategies without texts are left out.
    expect(column('gold')).toBeUndefined();
  });
});
