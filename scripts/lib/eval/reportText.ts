/** Number and label formatting shared by the Markdown and HTML reports. */
import type { EvalPrefix } from '../../../src/core/eval/prefixes.ts';
import type { Interval } from '../../../src/core/stats.ts';

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

export function interval(value: Interval | undefined, digits = 3): string {
  if (!value) return '–';
  return `${num(value.estimate, digits)} [${num(value.lower, digits)}, ${num(value.upper, digits)}]`;
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
