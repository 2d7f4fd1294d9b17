/**
 * The chain-of-thought sampling plan (spec §2.5): which baseline-model calls one question needs and
 * what each call's messages are.
 *
 * Phase 1 (personal questions): `cots` calls of G.3; each generation is split by `extractCotAndResponse`
 * into a CoT ("Axis: …\nCategories: …") and a first response. Divergent questions make no phase-1
 * call: their CoTs are "gold", built from the axis and its roster categories.
 * Phase 2: per CoT, more responses from a four-turn chat: G.3's system turn, the question, the CoT
 * plus a uniformly chosen category as the assistant turn, then an empty user turn.
 *
 * Decisions (spec §7.2–7.4), each documented where it applies:
 * - Counts: exactly `answersPerCot` responses per CoT (the paper's "10 responses per CoT"). The
 *   authors' index arithmetic gave 6/11/11/11/11 for both question types.
 * - System text: G.3 in both phases, with the paper's axis list by default or the authors' twenty
 *   axes (`responses.cotAxisList`); the authors' phase 1 also leaked a literal `<<<STSTEM>>>`, which
 *   is not reproduced.
 * - Category choice: from the CoT's "Categories:" list with its label removed. The authors split the
 *   text from "Categories: " on, so their first candidate kept the label ("Categories: Vegan"). A CoT
 *   from which no category can be read is unusable and is sampled again, like an empty one.
 * - The empty user turn is kept: it is what Zephyr saw in the paper.
 */
import type { ChatMessage } from '../chat.ts';
import { cotResponseMessages, cotResponseSystem, type CotAxisList } from '../prompts.ts';
import type { Rng } from '../random.ts';
import { pyLen, pyStrip } from './pyString.ts';

/** The authors' test for a usable phase-1 CoT: longer than one character. */
export const MIN_COT_LENGTH = 2;

/**
 * One list item: a quoted span, a bracketed span (no nesting) or any character but a comma or a
 * line break. Commas inside quotes or brackets ("Independent (pro-business, pro-environment)") stay
 * in the item; an unmatched quote or bracket is an ordinary character.
 */
const LIST_ITEM = /(?:"[^"\n]*"|\([^()\n]*\)|\[[^[\]\n]*\]|[^,\n])+/gu;
const QUOTED = /^"([^"\n]*)"$/u;

function cleanItem(item: string): string {
  const cleaned = pyStrip(item.replace(/^\s*(?:[-*•]|\d{1,2}[.)])\s*/u, ''))
    .replace(/[.;]$/u, '')
    .trim()
    .replace(/^and\s+/iu, '');
  return QUOTED.exec(cleaned)?.[1] ?? cleaned;
}

/**
 * The categories of a list as a CoT writes it: items separated by commas or lines, bullets, a
 * final "and" and a closing full stop removed, quotes around an item removed (what
 * `renderCategoryList` adds). The authors split on commas alone, so their first item kept the
 * "Categories: " label and a comma inside parentheses cut a category in two.
 */
export function splitCategoryList(list: string): string[] {
  return (list.match(LIST_ITEM) ?? []).map(cleanItem).filter((item) => item !== '' && !/^and$/iu.test(item));
}

/** The categories listed by a CoT: after "Categories:" to the end (`splitCategoryList`). */
export function parseCategories(cot: string): string[] {
  const start = cot.toLowerCase().indexOf('categories:');
  return start < 0 ? [] : splitCategoryList(cot.slice(start + 'categories:'.length));
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((item, i) => item === b[i]);

/**
 * Categories as a CoT lists them: joined with ", " as the authors and the paper's Table 10 do
 * ("Veganism, Gluten-Free, Paleo"), unless that list would not read back as these labels (a label
 * with a comma, a trailing full stop, a leading bullet…); then every label is quoted
 * ("\"Married, no children\", \"Single\""). Labels cannot hold a double quote or a line break
 * (the config and the G.1 parser refuse them).
 */
export function renderCategoryList(categories: readonly string[]): string {
  const plain = categories.join(', ');
  if (sameList(splitCategoryList(plain), categories)) return plain;
  const unquotable = categories.find((category) => /["\n]/u.test(category));
  if (unquotable !== undefined) throw new RangeError(`A category label cannot hold a double quote or a line break: ${JSON.stringify(unquotable)}`);
  return categories.map((category) => `"${category}"`).join(', ');
}

/** A phase-1 CoT is usable when it is longer than one character and lists at least one category. */
export function isUsableCot(cot: string): boolean {
  return pyLen(cot) >= MIN_COT_LENGTH && parseCategories(cot).length > 0;
}

/**
 * The gold CoT of a divergent question: the CoT text the authors' synthetic generation yields
 * ("Axis: diet\nCategories: Veganism, Gluten-Free, …"), i.e. the part before "Chosen category".
 */
export function goldCot(axis: string, categories: readonly string[]): string {
  return `Axis: ${axis}\nCategories: ${renderCategoryList(categories)}`;
}

/** Phase 1: G.3 for the question, with the paper's axis list or the authors'. */
export function phaseOneMessages(question: string, axisList: CotAxisList): ChatMessage[] {
  return cotResponseMessages(question, axisList);
}

/** Phase 2: the CoT and the chosen category as the assistant's turn, then an empty user turn. */
export function phaseTwoMessages(question: string, cot: string, category: string, axisList: CotAxisList): ChatMessage[] {
  return [
    { role: 'system', content: cotResponseSystem(axisList) },
    { role: 'user', content: question },
    { role: 'assistant', content: `${cot}\nChosen Category: ${category}` },
    { role: 'user', content: '' },
  ];
}

/** A uniform choice among the CoT's categories (the authors' `random.choice`). */
export function chooseCategory(cot: string, rng: Rng): string {
  const categories = parseCategories(cot);
  const choice = categories[rng.int(0, categories.length - 1)];
  if (choice === undefined) throw new RangeError(`The CoT lists no category to choose from: ${JSON.stringify(cot.slice(0, 80))}`);
  return choice;
}

/** One candidate response and where it came from. */
export interface Candidate {
  text: string;
  /** Index of the CoT that produced it. */
  cot: number;
  phase: 1 | 2;
  /** The category phase 2 conditioned on (absent in phase 1, where the model chose). */
  category?: string;
}

/** Phase-2 calls per CoT: a sampled CoT already produced one response in phase 1, a gold one none. */
export function phaseTwoCallsPerCot(cots: 'sampled' | 'gold', answersPerCot: number): number {
  return cots === 'sampled' ? answersPerCot - 1 : answersPerCot;
}
