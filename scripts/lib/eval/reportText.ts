/** Number and label formatting shared by the Markdown and HTML reports. */
import type { EvalPrefix } from '../../../src/core/eval/prefixes.ts';
import { personaMeanOf, type PersonaMean } from '../../../src/core/eval/summary.ts';
import type { AcrossPersonas, Interval } from '../../../src/core/stats.ts';
import type { Bar } from './svg.ts';

/** The paper's names for the strategies (Figure 3/5 legends). */
const PREFIX_LABELS: Record<EvalPrefix, string> = {
  none: 'no prefix',
  tag: 'tag',
  'few-shot': 'few-shot',
  persona: 'persona',
  'persona-gpt4': 'persona gpt4',
  name: 'name',
  gold: 'persona gold',
  'shuffle-tag': 'shuffled tag',
  'shuffle-few-shot': 'shuffled few-shot',
  'shuffle-persona': 'shuffled persona',
  'shuffle-persona-gpt4': 'shuffled persona gpt4',
  'shuffle-name': 'shuffled name',
  'shuffle-gold': 'shuffled persona gold',
  'reseed-few-shot': 'few-shot (other seed)',
  'reseed-persona': 'persona (other seed)',
  'reseed-persona-gpt4': 'persona gpt4 (other seed)',
  'reseed-gold': 'persona gold (other seed)',
  'shuffle-reseed-few-shot': 'shuffled few-shot (other seed)',
  'shuffle-reseed-persona': 'shuffled persona (other seed)',
  'shuffle-reseed-persona-gpt4': 'shuffled persona gpt4 (other seed)',
  'shuffle-reseed-gold': 'shuffled persona gold (other seed)',
};

export function prefixLabel(prefix: EvalPrefix): string {
  return PREFIX_LABELS[prefix];
}

export function num(value: number | null | undefined, digits = 3): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits);
}

/**
 * `0.667 [0.500, 0.833]`. A bootstrap interval over personas (`personas` given) needs two of
 * them; with one, its zero width would claim a certainty there is no data for, so it says so.
 */
export function interval(value: (Interval & { personas?: number }) | undefined, digits = 3): string {
  if (!value) return '–';
  if (value.personas !== undefined && value.personas < 2) return `${num(value.estimate, digits)} (CI needs ≥ 2 personas)`;
  return `${num(value.estimate, digits)} [${num(value.lower, digits)}, ${num(value.upper, digits)}]`;
}

/** The mean over personas of an accuracy, as `interval` prints it. */
export function personaMean(cell: AcrossPersonas | undefined): string {
  return interval(cell && personaMeanOf(cell));
}

/** A bar of a mean over personas: whiskers only when there is an interval to draw (two personas or more). */
export function personaMeanBar(series: string, mean: PersonaMean | AcrossPersonas): Bar {
  const { estimate, lower, upper, personas } = 'meanOfPersonas' in mean ? personaMeanOf(mean) : mean;
  return personas < 2 ? { series, value: estimate } : { series, value: estimate, lower, upper };
}

export function percent(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '–' : `${Math.round(value * 100)}`;
}

/** p-values as scipy prints them in the paper's Figure 6 (e.g. 2.2e-21, 0.022). */
export function pValue(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return value < 0.001 ? value.toExponential(1) : value.toPrecision(2);
}

export const TYPE_ORDER = ['personal', 'divergent', 'unspecified'] as const;
