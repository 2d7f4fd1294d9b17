/** Report blocks of `eval safety`: Figure 7's sorted bars and the per-subset table with changes from no prefix. */
import type { EvalReport } from '../../../src/core/eval/report.ts';
import { SAFETY_POOL, type SafetyEntry } from '../../../src/core/eval/safety.ts';
import type { Block } from './reportBlocks.ts';
import { interval, prefixLabel } from './reportText.ts';
import { barChart } from './svg.ts';

function entryLabel(entry: SafetyEntry): string {
  const fold = entry.fold ? ` (${entry.fold})` : '';
  return entry.prefix === 'none' ? `no prefix${fold}` : `${entry.persona ?? ''}: ${prefixLabel(entry.prefix)}${fold}`;
}

export function safetyBlocks(safety: NonNullable<EvalReport['safety']>): Block[] {
  const headline = safety.subsets.includes(SAFETY_POOL) ? SAFETY_POOL : (safety.subsets[0] as string);
  const value = (entry: SafetyEntry) => entry.subsets.find((cell) => cell.subset === headline)?.accuracy;
  const sorted = [...safety.entries].sort((a, b) => (value(a)?.estimate ?? 0) - (value(b)?.estimate ?? 0));
  const baseline = safety.baseline?.subsets.find((cell) => cell.subset === headline);
  const engines = Object.entries(safety.engines).map(([fold, spec]) => (fold ? `${fold}=${spec}` : spec)).join(', ');
  return [
    { kind: 'heading', level: 2, text: 'Alignment tax: RewardBench with and without persona prefixes (Figure 7)', id: 'safety' },
    {
      kind: 'paragraph',
      text: `Reward accuracy on ${safety.source} by ${safety.norm === 'sum' ? 'summed' : safety.norm} token log-probabilities (the paper's footnote 9), engines ${engines}. With one engine per fold, a persona's prefix is scored by the model that held it out and "no prefix" by every fold's model (pooled first, then per fold). Cells: accuracy [Wilson 95% CI]; change: minus the same model's no-prefix accuracy on the same pairs [bootstrap 95% CI over pairs]. "${SAFETY_POOL}" pools refusals-dangerous and refusals-offensive, the paper's safety number. ${safety.counts.scored} row(s) scored, ${safety.counts.failed} failed.`,
    },
    {
      kind: 'chart',
      svg: barChart({
        title: `Figure 7: ${headline}, sorted`,
        groups: sorted.map((entry) => {
          const cell = value(entry);
          return { label: entryLabel(entry), bars: cell ? [{ series: entry.prefix === 'none' ? 'no prefix' : 'persona prefix', value: cell.estimate, lower: cell.lower, upper: cell.upper }] : [] };
        }),
        series: [
          { name: 'no prefix', color: '#dc2626' },
          { name: 'persona prefix', color: '#2563eb' },
        ],
        lines: baseline ? [{ value: baseline.accuracy.estimate, label: `baseline no prefix (${safety.baseline?.engine ?? ''})`, color: '#111827' }] : [],
        yLabel: `accuracy (${headline})`,
      }),
    },
    {
      kind: 'table',
      header: ['prefix', ...safety.subsets.flatMap((subset) => [subset, `${subset}: change`]), 'pairs'],
      rows: [
        ...(safety.baseline ? [[`baseline no prefix (${safety.baseline.engine})`, ...safety.subsets.flatMap((subset) => [interval(safety.baseline?.subsets.find((cell) => cell.subset === subset)?.accuracy), '–']), '']] : []),
        ...safety.entries.map((entry) => [
          entryLabel(entry),
          ...safety.subsets.flatMap((subset) => {
            const cell = entry.subsets.find((candidate) => candidate.subset === subset);
            return [interval(cell?.accuracy), interval(cell?.change)];
          }),
          String(entry.subsets.filter((cell) => cell.subset !== SAFETY_POOL).reduce((sum, cell) => sum + cell.n, 0)),
        ]),
      ],
    },
  ];
}
