/**
 * GPT-4 as personal judge (spec §2.10, paper G.4): builds a batch of up to 5 matches into one G.4
 * chat, reads the judge's JSON verdicts back, and maps each to the candidate that won.
 *
 * Order: each match shows its two candidates in a seeded random order (a coin per row and match,
 * derived from the build seed, so it never depends on batching), which is recorded and undone after
 * parsing. The authors delegated this to AlpacaEval, whose coin was seeded on the instruction, i.e.
 * the persona name, so all of one persona's matches were swapped alike (spec §7.9).
 *
 * Parsing: every top-level JSON object in the reply, in order, is one example's verdict (text outside
 * objects, such as ``` fences or "### Preferred output…" headings, is ignored; a wrapper object or
 * array around the verdicts is unwrapped). The number of verdicts must equal the number of examples,
 * since otherwise none can be attributed to its example (AlpacaEval treats that case the same way).
 * Within a well-counted reply, an object without a readable boolean for
 * "Output (a) is better than Output (b)" fails for its example only. A failure is returned as data
 * with the raw text; the caller retries and finally records it. Never a random label: the authors'
 * pipeline replaced unparseable verdicts by coin flips (spec §2.10), which puts noise into y_w.
 */
import type { ChatMessage } from '../chat.ts';
import { JUDGE_EXPLANATION_KEY, JUDGE_MAX_EXAMPLES, JUDGE_PREFERENCE_KEY, judgeInstruction, judgeMessages } from '../prompts.ts';
import { rngFor } from './seeds.ts';

/** One bracket match of one row (a persona and a question), before ordering. */
export interface JudgeMatch {
  rowId: string;
  persona: string;
  question: string;
  level: number;
  /** Candidate indices in bracket order. */
  a: number;
  b: number;
  textA: string;
  textB: string;
}

/** A match as shown to the judge: with `swapped`, Output (a) is candidate b. */
export interface OrderedMatch extends JudgeMatch {
  swapped: boolean;
}

export function orderMatch(match: JudgeMatch, seed: number): OrderedMatch {
  const swapped = rngFor(seed, 'judge-order', match.rowId, match.level, match.a, match.b).float() < 0.5;
  return { ...match, swapped };
}

/** The G.4 chat for a batch of ordered matches. */
export function judgeBatchMessages(matches: readonly OrderedMatch[]): ChatMessage[] {
  if (matches.length < 1 || matches.length > JUDGE_MAX_EXAMPLES) {
    throw new RangeError(`A judge batch holds 1 to ${JUDGE_MAX_EXAMPLES} matches; got ${matches.length}.`);
  }
  return judgeMessages(
    matches.map((match) => ({
      instruction: judgeInstruction(match.persona),
      input: match.question,
      outputA: match.swapped ? match.textB : match.textA,
      outputB: match.swapped ? match.textA : match.textB,
    })),
  );
}

export type JudgeVerdict =
  | { ok: true; outputAIsBetter: boolean; explanation: string; raw: string }
  | { ok: false; error: string; raw: string };

export type ParsedReply = { ok: true; verdicts: JudgeVerdict[] } | { ok: false; error: string };

/** Every top-level `{…}` span of `text`, braces inside JSON strings ignored. */
export function jsonObjectSpans(text: string): string[] {
  const spans: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (char === '\\') escaped = true;
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"' && depth > 0) inString = true;
    else if (char === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (char === '}' && depth > 0) {
      depth--;
      if (depth === 0) spans.push(text.slice(start, i + 1));
    }
  }
  return spans;
}

/** JSON.parse, then once more after the two slips models make: Python booleans and trailing commas. */
function parseLenient(span: string): unknown {
  try {
    return JSON.parse(span);
  } catch {
    const repaired = span
      .replace(/:\s*True\b/gu, ': true')
      .replace(/:\s*False\b/gu, ': false')
      .replace(/,\s*([}\]])/gu, '$1');
    try {
      return JSON.parse(repaired);
    } catch {
      return undefined;
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const PREFERENCE_KEY = JUDGE_PREFERENCE_KEY.toLowerCase();
const EXPLANATION_KEY = JUDGE_EXPLANATION_KEY.toLowerCase();

function field(object: Record<string, unknown>, lowerKey: string): unknown {
  const key = Object.keys(object).find((candidate) => candidate.trim().toLowerCase() === lowerKey);
  return key === undefined ? undefined : object[key];
}

function isVerdictObject(value: unknown): value is Record<string, unknown> {
  return isRecord(value) && field(value, PREFERENCE_KEY) !== undefined;
}

/** A wrapper such as {"Example 3": {...}, "Example 4": {...}} becomes its verdict objects, in order. */
function unwrap(value: unknown, raw: string): { value: unknown; raw: string }[] {
  if (isRecord(value) && !isVerdictObject(value)) {
    const inner = Object.values(value).filter(isVerdictObject);
    if (inner.length > 0) return inner.map((item) => ({ value: item, raw: JSON.stringify(item) }));
  }
  return [{ value, raw }];
}

function toVerdict(value: unknown, raw: string): JudgeVerdict {
  if (value === undefined) return { ok: false, error: 'not valid JSON', raw };
  if (!isRecord(value)) return { ok: false, error: 'not a JSON object', raw };
  const preference = field(value, PREFERENCE_KEY);
  const explanation = field(value, EXPLANATION_KEY);
  const text = typeof explanation === 'string' ? explanation : '';
  if (typeof preference === 'boolean') return { ok: true, outputAIsBetter: preference, explanation: text, raw };
  if (typeof preference === 'string' && /^(true|false)$/iu.test(preference.trim())) {
    return { ok: true, outputAIsBetter: preference.trim().toLowerCase() === 'true', explanation: text, raw };
  }
  return { ok: false, error: `no boolean "${JUDGE_PREFERENCE_KEY}"`, raw };
}

/** The judge's reply for `expected` examples, one verdict each, in order. */
export function parseJudgeReply(text: string, expected: number): ParsedReply {
  const objects = jsonObjectSpans(text).flatMap((span) => unwrap(parseLenient(span), span));
  if (objects.length !== expected) {
    return { ok: false, error: `expected ${expected} JSON verdict(s), found ${objects.length}` };
  }
  return { ok: true, verdicts: objects.map(({ value, raw }) => toVerdict(value, raw)) };
}

/** The candidate indices of a decided match, undoing the order it was shown in. */
export function unswap(match: OrderedMatch, outputAIsBetter: boolean): { winner: number; loser: number } {
  const firstShownWins = outputAIsBetter;
  const winnerIsA = match.swapped ? !firstShownWins : firstShownWins;
  return winnerIsA ? { winner: match.a, loser: match.b } : { winner: match.b, loser: match.a };
}
