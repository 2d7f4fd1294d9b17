/**
 * Train/test split (spec §2.12), with the parameters the paper implies (50 personal + 50 divergent
 * per persona in each split).
 *
 * Personal questions, per persona: duplicates dropped (first kept), a seeded shuffle, the first
 * `personalTest` go to test and the next `personalTrain` to train (the authors' `train_test_split`
 * with train_size = n − 50 gives the same sizes for n = 100).
 * Divergent questions, per axis: a seeded shuffle of the axis's question ids, the first
 * `divergentTestPerAxis` are test, the rest train, identical for every persona of the axis (the
 * authors got this from one fixed `random_state`). Per persona, test rows of all their axes are all
 * kept (Obama: 150); train rows of all their axes are pooled and, when more than `divergentTrain`,
 * a seeded sample of `divergentTrain` is kept.
 *
 * Rows that failed upstream are simply absent; the axis split is made on the axis's questions, so it
 * stays the same for every persona even when one persona's row for a question is missing. With fewer
 * personal questions than `personalTest`, all go to test (the authors' call would have raised).
 */
import { shuffled } from '../random.ts';
import type { Split } from '../schema.ts';
import { questionKey } from './questions.ts';
import { rngFor } from './seeds.ts';

export interface SplitSizes {
  personalTest: number;
  personalTrain: number;
  divergentTestPerAxis: number;
  divergentTrain: number;
}

export interface SplittableRow {
  id: string;
  persona: string;
  type: 'personal' | 'divergent';
  /** Divergent rows: the axis the question was written for. */
  axis?: string | undefined;
  /** Shared by every persona's copy of a divergent question. */
  questionId: string;
  prompt: string;
}

/** Code-unit order of ids (not locale order), so every runtime sorts alike. */
export const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The split of every kept row; rows not in the map are left out of the dataset. */
export function splitRows(rows: readonly SplittableRow[], sizes: SplitSizes, seed: number): Map<string, Split> {
  const assignment = new Map<string, Split>();
  const sorted = [...rows].sort(byId);
  const personas = [...new Set(sorted.map((row) => row.persona))].sort();

  for (const persona of personas) {
    const seen = new Set<string>();
    const personal = sorted.filter((row) => {
      if (row.persona !== persona || row.type !== 'personal') return false;
      const key = questionKey(row.prompt);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    const order = shuffled(personal, rngFor(seed, 'split-personal', persona));
    order.slice(0, sizes.personalTest).forEach((row) => assignment.set(row.id, 'test'));
    order.slice(sizes.personalTest, sizes.personalTest + sizes.personalTrain).forEach((row) => assignment.set(row.id, 'train'));
  }

  const divergent = sorted.filter((row) => row.type === 'divergent');
  const testQuestions = new Set<string>();
  for (const axis of [...new Set(divergent.map((row) => row.axis ?? ''))].sort()) {
    const questionIds = [...new Set(divergent.filter((row) => (row.axis ?? '') === axis).map((row) => row.questionId))].sort();
    shuffled(questionIds, rngFor(seed, 'split-divergent', axis))
      .slice(0, sizes.divergentTestPerAxis)
      .forEach((id) => testQuestions.add(id));
  }
  for (const persona of personas) {
    const mine = divergent.filter((row) => row.persona === persona);
    const train: SplittableRow[] = [];
    for (const row of mine) {
      if (testQuestions.has(row.questionId)) assignment.set(row.id, 'test');
      else train.push(row);
    }
    const kept = train.length > sizes.divergentTrain ? shuffled(train, rngFor(seed, 'split-divergent-train', persona)).slice(0, sizes.divergentTrain) : train;
    kept.forEach((row) => assignment.set(row.id, 'train'));
  }
  return assignment;
}
