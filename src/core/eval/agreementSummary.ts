/**
 * App. D's human study (Table 6): people's labels against the dataset's judge labels and against
 * each other, overall and per persona: each annotator's agreement rate and Cohen's κ with the
 * judge, κ between every two annotators, and Krippendorff's α over the annotators with the judge
 * as one more coder (the paper's KA "of three sets of labels") and over the annotators alone;
 * then Table 6's summary, mean ± SD over personas. Every statistic has a bootstrap CI over pairs.
 *
 * Coding. A pair's judge label is always its `chosen` answer, so labels coded chosen/rejected
 * would give the judge a single category and κ no meaning. As an annotation page shows the two
 * answers in an order that does not reveal the judge's pick, each label is coded by the position
 * of the preferred answer in one fixed order per pair ("A" first), taken from a hash of the pair
 * id: the same for every coder, independent of the judge. Agreement rates do not depend on it.
 */
import { multiAgreement, pairAgreement, type Code, type MultiAgreement, type PairAgreement } from '../agreement.ts';
import type { BootstrapOptions } from '../bootstrap.ts';
import { hash64Hex } from '../hash.ts';
import { meanSd, type MeanSd } from './personaQuality.ts';
import type { PreferenceLabel, PreferredAnswer } from './labels.ts';

export interface AnnotatorAgreement extends PairAgreement {
  annotator: string;
}

export interface AnnotatorPair extends PairAgreement {
  a: string;
  b: string;
}

export interface AgreementGroup {
  /** Undefined for all pairs together. */
  persona?: string;
  /** Pairs with at least one person's label. */
  pairs: number;
  /** Each annotator against the judge. */
  annotators: AnnotatorAgreement[];
  /** Every two annotators with a pair in common. */
  pairwise: AnnotatorPair[];
  /** The annotators and the judge as coders. */
  alpha: MultiAgreement;
  /** The annotators alone (two or more). */
  alphaAnnotators?: MultiAgreement;
}

export interface AgreementSummary {
  labels: number;
  /** Labels that say the annotator gave none (null). */
  unlabelled: number;
  /** Pair ids of labels the dataset does not have (left out). */
  unknownPairs: string[];
  annotators: string[];
  overall: AgreementGroup;
  personas: AgreementGroup[];
  /** Table 6's last column: over personas, the mean annotator–judge rate, κ between annotators (CK-HH), κ annotator–judge (CK-HG), α (KA). */
  table6: { rate: MeanSd; kappaAnnotators: MeanSd; kappaJudge: MeanSd; alpha: MeanSd };
}

/** Whether the pair's `chosen` answer is shown second in its fixed order. */
export function chosenSecond(pairId: string): boolean {
  return Number.parseInt(hash64Hex(`position\u0000${pairId}`).slice(-1), 16) % 2 === 1;
}

/** The position code ("A" or "B") of an answer of a pair. */
export function positionCode(pairId: string, preferred: PreferredAnswer): 'A' | 'B' {
  return (preferred === 'chosen') !== chosenSecond(pairId) ? 'A' : 'B';
}

function group(persona: string | undefined, pairIds: readonly string[], labels: readonly PreferenceLabel[], options: BootstrapOptions): AgreementGroup {
  const annotators = [...new Set(labels.map((label) => label.annotator))];
  const codes = (annotator: string): Code[] =>
    pairIds.map((pairId) => {
      const label = labels.find((candidate) => candidate.pairId === pairId && candidate.annotator === annotator);
      return label?.preferred ? positionCode(pairId, label.preferred) : null;
    });
  const judge: Code[] = pairIds.map((pairId) => positionCode(pairId, 'chosen'));
  const byAnnotator = new Map(annotators.map((annotator) => [annotator, codes(annotator)]));
  const pairwise = annotators.flatMap((a, i) =>
    annotators.slice(i + 1).flatMap((b): AnnotatorPair[] => {
      const agreement = pairAgreement(byAnnotator.get(a) as Code[], byAnnotator.get(b) as Code[], options);
      return agreement.units > 0 ? [{ a, b, ...agreement }] : [];
    }),
  );
  const humans = [...byAnnotator.values()];
  return {
    ...(persona === undefined ? {} : { persona }),
    pairs: pairIds.length,
    annotators: annotators.map((annotator) => ({ annotator, ...pairAgreement(byAnnotator.get(annotator) as Code[], judge, options) })),
    pairwise,
    alpha: multiAgreement([...humans, judge], options),
    ...(humans.length >= 2 ? { alphaAnnotators: multiAgreement(humans, options) } : {}),
  };
}

const meanOf = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

/** `pairs`: the dataset's pairs (id and persona); `labels`: people's labels. */
export function summarizeAgreement(pairs: readonly { id: string; persona: string }[], labels: readonly PreferenceLabel[], options: BootstrapOptions): AgreementSummary {
  const personaOf = new Map(pairs.map((pair) => [pair.id, pair.persona]));
  const known = labels.filter((label) => personaOf.has(label.pairId));
  const labelled = (label: PreferenceLabel) => label.preferred !== null;
  const pairIds = [...new Set(known.filter(labelled).map((label) => label.pairId))];
  const personas = [...new Set(pairIds.map((pairId) => personaOf.get(pairId) as string))];
  const perPersona = personas.map((persona) => {
    const ids = pairIds.filter((pairId) => personaOf.get(pairId) === persona);
    return group(persona, ids, known.filter((label) => ids.includes(label.pairId)), options);
  });
  const finite = (values: readonly number[]) => values.filter(Number.isFinite);
  const perPersonaMean = (pick: (entry: AgreementGroup) => number[]) => meanSd(finite(perPersona.map((entry) => meanOf(finite(pick(entry))))));
  return {
    labels: labels.length,
    unlabelled: labels.filter((label) => !labelled(label)).length,
    unknownPairs: [...new Set(labels.filter((label) => !personaOf.has(label.pairId)).map((label) => label.pairId))],
    annotators: [...new Set(known.map((label) => label.annotator))],
    overall: group(undefined, pairIds, known, options),
    personas: perPersona,
    table6: {
      rate: perPersonaMean((entry) => entry.annotators.map((annotator) => annotator.rate.estimate)),
      kappaAnnotators: perPersonaMean((entry) => entry.pairwise.map((pair) => pair.kappa.estimate)),
      kappaJudge: perPersonaMean((entry) => entry.annotators.map((annotator) => annotator.kappa.estimate)),
      alpha: perPersonaMean((entry) => [entry.alpha.alpha.estimate]),
    },
  };
}
