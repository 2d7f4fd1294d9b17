/**
 * Scoring methods and their run-time check in words a user can read. Engines name their method
 * with a short id (`EngineInfo.scoringMethod`, `ScoreResult.method`); the id stays in exports.
 */
import type { ScoringCheck } from '../../core/engine.ts';

const METHOD_WORDS: Record<string, string> = {
  'one-pass': 'one pass: all answer tokens in one forward pass, the prompt computed once',
  'one-pass-cached-prompt': 'one pass per answer, the prompt computed once',
  'full-sequence': 'one pass per answer over the whole sequence',
  'forced-decode': 'token by token (forced decoding)',
  'forced-decode-prompt-once': 'token by token (forced decoding), the prompt computed once',
};

/** Longest first, so "one-pass-cached-prompt" is not read as "one-pass". */
const METHOD_IDS = Object.keys(METHOD_WORDS).sort((a, b) => b.length - a.length);

/** "one pass: …" for a known id (any text after the id, e.g. "(checked … at the first score)", is kept). */
export function describeScoringMethod(method: string): string {
  const id = METHOD_IDS.find((candidate) => method === candidate || method.startsWith(`${candidate} `));
  return id ? `${METHOD_WORDS[id]}${method.slice(id.length)}` : method;
}

/** Whether the engine kept its fast path after checking it (a fallback scores by forced decoding). */
export function checkPassed(check: ScoringCheck): boolean {
  return check.method !== 'forced-decode';
}
