/** Report blocks of `eval agreement`: Table 6 per persona, the annotators' detail, and the coding note. */
import type { MeanSd } from '../../../src/core/eval/personaQuality.ts';
import type { AgreementGroup } from '../../../src/core/eval/agreementSummary.ts';
import type { EvalReport } from '../../../src/core/eval/report.ts';
import type { Block } from './reportBlocks.ts';
import { interval, num } from './reportText.ts';

function meanOfFinite(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite);
  return finite.length === 0 ? NaN : finite.reduce((sum, value) => sum + value, 0) / finite.length;
}

function spread(value: MeanSd): string {
  return value.n === 0 ? '–' : `${num(value.mean, 2)} ± ${num(value.sd, 2)}`;
}

function groupName(group: AgreementGroup): string {
  return group.persona ?? 'all pairs';
}

export function agreementBlocks(agreement: NonNullable<EvalReport['agreement']>): Block[] {
  const groups = [...agreement.personas, agreement.overall];
  return [
    { kind: 'heading', level: 2, text: 'People vs the judge: agreement (App. D, Table 6)', id: 'agreement' },
    {
      kind: 'paragraph',
      text: `Labels from ${agreement.source}: ${agreement.labels} label(s) by ${agreement.annotators.length} annotator(s), ${agreement.unlabelled} not labelled${agreement.unknownPairs.length > 0 ? `, ${agreement.unknownPairs.length} pair id(s) not in the dataset left out` : ''}. Match rate: the share of an annotator's labels equal to the judge's (the dataset's chosen answer). κ and α code each label by the position of the preferred answer in one fixed order per pair (from a hash of the pair id; the same for every coder and independent of the judge), as an annotation page shows two answers; KA counts the judge as one more coder. Bootstrap 95% CIs over pairs.`,
    },
    {
      kind: 'table',
      header: ['', ...groups.map(groupName), 'mean ± SD over personas'],
      rows: [
        ['match rate (mean over annotators)', ...groups.map((group) => num(meanOfFinite(group.annotators.map((annotator) => annotator.rate.estimate)), 2)), spread(agreement.table6.rate)],
        ['CK-HH (κ between annotators)', ...groups.map((group) => num(meanOfFinite(group.pairwise.map((pair) => pair.kappa.estimate)), 2)), spread(agreement.table6.kappaAnnotators)],
        ['CK-HG (κ annotator–judge, mean)', ...groups.map((group) => num(meanOfFinite(group.annotators.map((annotator) => annotator.kappa.estimate)), 2)), spread(agreement.table6.kappaJudge)],
        ['KA (α, annotators + judge)', ...groups.map((group) => num(group.alpha.alpha.estimate, 2)), spread(agreement.table6.alpha)],
        ['pairs', ...groups.map((group) => String(group.pairs)), ''],
      ],
    },
    { kind: 'heading', level: 3, text: 'Each annotator against the judge' },
    {
      kind: 'table',
      header: ['persona', 'annotator', 'pairs', 'match rate (95% CI)', 'κ with judge (95% CI)'],
      rows: groups.flatMap((group) => group.annotators.map((annotator) => [groupName(group), annotator.annotator, String(annotator.units), interval(annotator.rate), interval(annotator.kappa)])),
    },
    { kind: 'heading', level: 3, text: 'Annotators against each other' },
    {
      kind: 'table',
      header: ['persona', 'annotators', 'pairs', 'agreement (95% CI)', 'κ (95% CI)'],
      rows: groups.flatMap((group) => group.pairwise.map((pair) => [groupName(group), `${pair.a} / ${pair.b}`, String(pair.units), interval(pair.rate), interval(pair.kappa)])),
    },
    {
      kind: 'table',
      header: ['persona', 'coders', 'pairable pairs', 'α, annotators + judge (95% CI)', 'α, annotators only (95% CI)'],
      rows: groups.map((group) => [groupName(group), String(group.alpha.coders), String(group.alpha.pairableUnits), interval(group.alpha.alpha), interval(group.alphaAnnotators?.alpha)]),
    },
  ];
}
