/**
 * Distributing divergent questions (spec §2.9): each divergent question, with its CoTs and its k
 * diverse candidates, is copied once per persona of its axis. Every member of an axis therefore
 * judges the same question and the same candidates, so one persona's y_l can be another's y_w,
 * which is what makes these questions divergent.
 */
import { membersOf, type RosterPersona } from './roster.ts';

export interface DistributedRow<T> {
  /** "{questionId}@{persona}": unique per (question, persona). */
  id: string;
  persona: string;
  item: T;
}

export function distributedRowId(questionId: string, persona: string): string {
  return `${questionId}@${persona}`;
}

/** One row per (question, member of the question's axis), in question order then roster order. */
export function distributeDivergent<T extends { id: string; axis: string }>(
  questions: readonly T[],
  people: readonly Pick<RosterPersona, 'name' | 'memberships'>[],
): DistributedRow<T>[] {
  return questions.flatMap((question) =>
    membersOf(people, question.axis).map(({ name }) => ({ id: distributedRowId(question.id, name), persona: name, item: question })),
  );
}
