/**
 * Which prefix kinds a freshly loaded pair set starts scoring with: ones that can be scored at
 * once, so "Score pairs" works without first inferring or writing anything. No prefix as the
 * baseline; then the persona text when there is one and the set's gold description when it has
 * one (the paper's upper bound); without either, few-shot, which needs only train pairs.
 */
import type { PrefixKind } from '../../core/prefixes.ts';

const PREFERRED: readonly PrefixKind[] = ['persona', 'gold'];

export function scorableKinds(canBuild: (kind: PrefixKind) => boolean): PrefixKind[] {
  const personal = PREFERRED.filter(canBuild);
  if (personal.length === 0 && canBuild('few-shot')) personal.push('few-shot');
  return ['none', ...personal];
}
