/**
 * Questions from G.2 replies (spec §2.4): the authors' per-line extraction, plus two decisions the
 * spec leaves to us (§7.5).
 *
 * Extraction, as the authors' `query_questions`, for each stripped line:
 * - ends with `"` → the text between the first `"` and the last character;
 * - ends with `”` → the text after the first `“` (to the last character);
 * - a "." among the first three characters (a numbered list) → the text after the first ".";
 * - otherwise the whole line; empty results are dropped.
 *
 * Decision 1, non-question lines are dropped: GPT-4 wraps its list in "Sure! Here are 20 questions
 * …:" and "I hope these help!", which the authors kept as questions (and sent to Zephyr and the
 * judge). When a reply contains list items (numbered "1." / "1)" or bulleted "-", "*", "•"), only
 * list items are questions; otherwise every line is. Either way a line ending with ":" is a header
 * (including an echoed "- Name:" of the few-shot examples) and is dropped. A bullet marker is removed
 * like a number, and so is "1)". Imperative questions without "?" ("Help me brainstorm…") are kept, as G.2's own
 * examples include them.
 *
 * Decision 2, duplicates are dropped when the questions are collected (case and spacing ignored,
 * first kept), for personal and divergent questions alike. The authors dropped duplicate personal
 * prompts only at split time and never divergent ones; dropping them before sampling responses
 * saves 50 baseline calls and 3 judge matches per duplicate, and the resulting personal split is the
 * same.
 */
import { pyFind, pySlice, pyStrip } from './pyString.ts';

const LIST_ITEM = /^(?:\d{1,3}[.)]|[-*•])\s*/u;
/** List markers the authors' rule does not remove ("1." it does): bullets and "1)". */
const EXTRA_MARKER = /^(?:[-*•]|\d{1,3}\))\s*/u;

/** The authors' per-line rule (after `strip()`). */
export function extractQuestion(line: string): string {
  const q = pyStrip(line);
  let parsed: string;
  if (q.endsWith('"')) parsed = pySlice(q, pyFind(q, '"') + 1, -1);
  else if (q.endsWith('”')) parsed = pySlice(q, pyFind(q, '“') + 1, -1);
  else if (pySlice(q, 0, 3).includes('.')) parsed = pySlice(q, pyFind(q, '.') + 1);
  else parsed = q;
  return pyStrip(parsed);
}

/** The questions of one G.2 reply, in order (duplicates included; see `dedupQuestions`). */
export function parseQuestions(reply: string): string[] {
  const lines = reply.trim().split('\n').map((line) => line.trim()).filter((line) => line !== '');
  const hasListItems = lines.some((line) => LIST_ITEM.test(line));
  const candidates = hasListItems ? lines.filter((line) => LIST_ITEM.test(line)) : lines;
  return candidates
    .filter((line) => !line.endsWith(':'))
    .map((line) => extractQuestion(line.replace(EXTRA_MARKER, '')))
    .filter((question) => question !== '' && !question.endsWith(':'));
}

/** The key two questions share when they are the same question: case and runs of spaces ignored. */
export function questionKey(question: string): string {
  return question.toLowerCase().replace(/\s+/gu, ' ').trim();
}

/** Questions with later duplicates removed, order kept. */
export function dedupQuestions(questions: readonly string[]): string[] {
  const seen = new Set<string>();
  return questions.filter((question) => {
    const key = questionKey(question);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** "diet" → "diet", "AI professors" → "ai-professors": ids and file names stay free of spaces. */
export function slug(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/gu, '-')
    .replace(/^-|-$/gu, '');
}

/** Question ids sort in generation order: "p-halle-berry-007", "d-diet-042". */
export function personalQuestionId(persona: string, index: number): string {
  return `p-${slug(persona)}-${String(index).padStart(3, '0')}`;
}

export function divergentQuestionId(axis: string, index: number): string {
  return `d-${slug(axis)}-${String(index).padStart(3, '0')}`;
}
