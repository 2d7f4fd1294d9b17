/** Report blocks of `eval elicitation` (issue 13): the accuracy curve per strategy, active − random, and why active asked what it asked. */
import type { EvalReport } from '../../../src/core/eval/report.ts';
import type { Block } from './reportBlocks.ts';
import { interval } from './reportText.ts';
import { barChart, type BarGroup } from './svg.ts';

const STRATEGY_COLORS: Record<string, string> = { active: '#2563eb', random: '#9ca3af' };

const BASIS_LABELS: Record<string, string> = {
  uncertainty: 'smallest |margin| under the current persona',
  disagreement: 'widest disagreement between persona versions',
  'random-fallback': 'no margin known: drawn at random',
  random: 'drawn at random',
};

export function elicitationBlocks(elicitation: NonNullable<EvalReport['elicitation']>): Block[] {
  const shotCounts = [...new Set(elicitation.curves.flatMap((curve) => curve.points.map((point) => point.shots)))].sort((a, b) => a - b);
  const pointOf = (strategy: string, shots: number) => elicitation.curves.find((curve) => curve.strategy === strategy)?.points.find((point) => point.shots === shots);
  const strategies = elicitation.curves.map((curve) => curve.strategy);
  const groups: BarGroup[] = shotCounts.map((shots) => ({
    label: `${shots} answered`,
    bars: strategies.flatMap((strategy) => {
      const point = pointOf(strategy, shots);
      return point ? [{ series: strategy, value: point.meanOfRepeats.estimate, lower: point.meanOfRepeats.lower, upper: point.meanOfRepeats.upper }] : [];
    }),
  }));
  const difference = (shots: number) => elicitation.activeMinusRandom.find((entry) => entry.shots === shots);
  const basis = Object.entries(elicitation.activeBasis).map(([name, count]) => `${BASIS_LABELS[name] ?? name}: ${count}`);
  const { counts } = elicitation;
  return [
    { kind: 'heading', level: 2, text: 'Active elicitation: accuracy against answered questions', id: 'elicitation' },
    {
      kind: 'paragraph',
      text: `Replayed on ${elicitation.source} with ${elicitation.engine}: for each of ${elicitation.personas.length} persona(s), its train pairs are the questions and its recorded preferences the answers, up to ${elicitation.budget} per persona, ${elicitation.repeats} repeat(s) per strategy. After every answer the persona is inferred again from all answers so far (G.5) and the persona's test pairs are scored with it as prefix (0 answered: no prefix). Active asks the question whose answers' margin under the current persona is smallest; random draws one (seeded). Accuracy: mean over repeats of the repeat's mean persona accuracy, with seeded 95% bootstrap intervals over repeats; ties count as wrong. ${counts.steps} step(s), ${counts.failedSteps} without a persona, ${counts.failedTestPairs} test pair score(s) failed.`,
    },
    {
      kind: 'chart',
      svg: barChart({
        title: 'Accuracy after each answered question',
        groups,
        series: strategies.map((name) => ({ name, color: STRATEGY_COLORS[name] ?? '#888' })),
        lines: [{ value: 0.5, label: 'random choice (0.5)', color: '#dc2626' }],
        yLabel: 'test accuracy (mean over repeats)',
      }),
    },
    {
      kind: 'table',
      header: ['answered', ...strategies.map((strategy) => `${strategy} (95% CI)`), ...(strategies.length === 2 ? ['active − random (95% CI)'] : []), ...strategies.map((strategy) => `${strategy}, pooled (Wilson 95% CI)`)],
      rows: shotCounts.map((shots) => [
        String(shots),
        ...strategies.map((strategy) => interval(pointOf(strategy, shots)?.meanOfRepeats)),
        ...(strategies.length === 2 ? [interval(difference(shots))] : []),
        ...strategies.map((strategy) => {
          const point = pointOf(strategy, shots);
          return point ? `${interval(point.pooled.accuracy)} (${point.pooled.correct}/${point.pooled.n})` : '–';
        }),
      ]),
    },
    ...(basis.length > 0 ? [{ kind: 'paragraph' as const, text: `Why active asked what it asked: ${basis.join('; ')}.` }] : []),
    { kind: 'table', header: ['setting', 'value'], rows: Object.entries(elicitation.settings).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]) },
    ...(elicitation.failures.length > 0
      ? [{ kind: 'table' as const, header: ['step', 'code', 'reason'], rows: elicitation.failures.map((failure) => [failure.key, failure.code, failure.reason]) }]
      : []),
  ];
}
