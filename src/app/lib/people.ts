/**
 * The people in a pair set, each with their train and test pairs. The playground personalizes to
 * one person at a time: persona inference draws shots from the train pairs, scoring uses the test
 * pairs. Pairs that name no person belong to one unnamed person.
 *
 * Splits: a pair's own `split` wins. When none of a person's pairs has one, a seeded shuffle puts
 * half in train and half in test (the paper's 50:50); when only some do, the others are test
 * pairs. Either way `splitNote` says so on the page.
 */
import { findPersona } from '../../core/personas.ts';
import { createRng, shuffled } from '../../core/random.ts';
import type { Persona, PreferencePair } from '../../core/schema.ts';

export const UNNAMED_PERSON = '(unnamed)';
export const SPLIT_SEED = 0;

export interface Person {
  key: string;
  /** Their name as the pairs give it; absent for the unnamed person. */
  name?: string;
  /** 1-based position in the set, the tag number of the `tag` prefix when the set gives no tag. */
  index: number;
  pairs: PreferencePair[];
  train: PreferencePair[];
  test: PreferencePair[];
  /** The set's persona record for them (gold description, tag, …) when it has one. */
  persona?: Persona;
  splitNote?: string;
  counts: { personal: number; divergent: number; untyped: number };
}

export function groupByPerson(pairs: readonly PreferencePair[], personas: readonly Persona[] = []): Person[] {
  const byKey = new Map<string, PreferencePair[]>();
  for (const pair of pairs) {
    const key = pair.persona ?? UNNAMED_PERSON;
    const list = byKey.get(key) ?? [];
    list.push(pair);
    byKey.set(key, list);
  }
  return [...byKey].map(([key, own], i) => {
    const name = key === UNNAMED_PERSON ? undefined : key;
    const persona = findPersona(personas, name);
    return {
      key,
      ...(name !== undefined && { name }),
      index: i + 1,
      pairs: own,
      ...splitPairs(own),
      ...(persona !== undefined && { persona }),
      counts: {
        personal: own.filter((pair) => pair.type === 'personal').length,
        divergent: own.filter((pair) => pair.type === 'divergent').length,
        untyped: own.filter((pair) => pair.type === undefined).length,
      },
    };
  });
}

function splitPairs(pairs: readonly PreferencePair[]): Pick<Person, 'train' | 'test' | 'splitNote'> {
  const unsplit = pairs.filter((pair) => pair.split === undefined);
  if (unsplit.length === 0) {
    return { train: pairs.filter((pair) => pair.split === 'train'), test: pairs.filter((pair) => pair.split === 'test') };
  }
  if (unsplit.length === pairs.length) {
    const order = shuffled(pairs, createRng(SPLIT_SEED));
    const trainCount = Math.floor(pairs.length / 2);
    const train = new Set(order.slice(0, trainCount));
    return {
      train: pairs.filter((pair) => train.has(pair)),
      test: pairs.filter((pair) => !train.has(pair)),
      splitNote: `These pairs give no train/test split: a seeded shuffle put ${trainCount} in train and ${pairs.length - trainCount} in test.`,
    };
  }
  return {
    train: pairs.filter((pair) => pair.split === 'train'),
    test: pairs.filter((pair) => pair.split !== 'train'),
    splitNote: `${unsplit.length} pair${unsplit.length === 1 ? '' : 's'} without a split count as test pairs.`,
  };
}
