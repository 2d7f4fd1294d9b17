/**
 * An elicitation answer as a preference label in the format `eval agreement` reads
 * (src/core/eval/labels.ts: pair id, annotator, preferred), so a person's answers to questions
 * taken from a dataset can be compared with the judge's labels. The page shows a pair's two
 * answers as A and B in an order that does not reveal the judge's pick; the label names the
 * preferred answer by its role in the dataset (`chosen`/`rejected`), or null for a skip.
 */
import { z } from 'zod';
import { exportLabels, PreferredAnswer, type PreferenceLabel } from '../eval/labels.ts';

export const ElicitationPick = z.enum(['A', 'B', 'skip']);
export type ElicitationPick = z.infer<typeof ElicitationPick>;

export const ElicitationAnswer = z.object({
  /** The dataset pair the question and its two answers came from. */
  pairId: z.string().min(1),
  annotator: z.string().min(1),
  /** Each shown answer's role in the dataset: `['rejected', 'chosen']` when the judge's pick was shown as B. */
  shown: z.tuple([PreferredAnswer, PreferredAnswer]).refine(([a, b]) => a !== b, 'the two shown answers must be the pair’s chosen and rejected ones'),
  pick: ElicitationPick,
});
export type ElicitationAnswer = z.infer<typeof ElicitationAnswer>;

export function elicitationLabel(answer: ElicitationAnswer): PreferenceLabel {
  const { pairId, annotator, shown, pick } = ElicitationAnswer.parse(answer);
  return { pairId, annotator, preferred: pick === 'skip' ? null : shown[pick === 'A' ? 0 : 1] };
}

/** JSON Lines that `eval agreement --labels` reads. */
export function exportElicitationLabels(answers: readonly ElicitationAnswer[]): string {
  return exportLabels(answers.map(elicitationLabel));
}
