/**
 * Artifact cleanup of the baseline model's chain-of-thought generations (spec §2.6): split a raw
 * generation into its CoT ("Axis: …\nCategories: …") and its response, then trim the artifacts the
 * CoT format leaves in responses ("As someone who…", "Response for a vegan:", "Dear user,").
 *
 * A faithful port of the authors' `extract_cot_and_response`, `get_cot`, `get_y_from_cot_y`,
 * `trim_y`, `heuristics_modifier` and `remove_containing_sentence` (sampling/util.py), with Python's
 * string semantics (`pyString.ts`). Their quirks are reproduced on purpose, since they shape which
 * text reaches the reward model and the judge; each is named where it happens:
 *
 *  Q1 `startswith("as")` also fires on "Ask…", "Assuming…", "Asia…"; "for" on "Fortunately…", "hi" on "History…".
 *  Q2 Clause removal through "the first comma + 2" with no comma in the text drops the first character
 *     (Python's `y[-1+2:]`).
 *  Q3 The "dear/hi" branch's comma removal is a no-op (`y.replace(...)` result discarded), so it is absent here.
 *  Q4 The phrase list fuses "like you" and "as someone" into "like youas someone" (a missing comma),
 *     so neither phrase triggers alone.
 *  Q5 Sentence deletion with no sentence end after the phrase keeps the whole text after the kept
 *     prefix (`y[-2+2:]`), duplicating the prefix; each phrase is handled once per pass.
 *  Q6 Skipping "+2" after a sentence end or a header colon assumes one space follows; a letter there is lost.
 *  Q7 `trim_y` with a header and no newline after it keeps only the last character (`y[-1:]`); so does
 *     the response extraction when nothing follows the chosen-category line.
 *  Q8 The response after "response:" skips 10 characters ("response:" plus one), losing a letter when
 *     no space follows the colon.
 *  Q9 Offsets found in the lower-cased text index the original (the same length except for rare
 *     characters such as "İ").
 *  Q10 A trimmed response of 100 characters or fewer is discarded in favour of the untrimmed one, so
 *     short answers keep their artifacts.
 */
import { pyCapitalizeFirst, pyCharAt, pyFind, pyLen, pyLower, pyRfind, pySlice, pyStrip } from './pyString.ts';

/** Python's `find` → −1 convention is replaced by these sentinels in the authors' helpers. */
const NOT_FOUND_FIRST = 100000;
const NOT_FOUND_LAST = -100000;

/** Beyond this many characters, a new "Axis:"/"Categories:"/… block means the model started over: cut there. */
export const RUNAWAY_BLOCK_THRESHOLD = 650;
/** A trimmed response must be longer than this to replace the untrimmed one (Q10). */
export const MIN_TRIMMED_LENGTH = 100;

const RUNAWAY_MARKERS = ['\naxis:', '\ncategories:', '\nchosen category:', '\nresponse:'] as const;
const CHOSEN_MARKERS = ['chosen category:', 'chosen subcategory:'] as const;
const HEADER_PHRASES = ['axis:', 'categories:', 'category:'] as const;
const CLAUSE_OPENERS = ['as', 'for', 'given', 'based', 'in response', 'thus', 'in line'] as const;
const LABEL_OPENERS = ['respon', 'chosen'] as const;
const GREETING_OPENERS = ['dear', 'hi', 'hello', 'however', 'greeting', 'fellow'] as const;
const SENTENCE_ENDS = ['.', '!', ':', '\n', '?'] as const;
/** Sentences containing one of these (in the first 400 characters) are deleted. Q4: "like youas someone". */
export const ARTIFACT_PHRASES = [
  'chosen category',
  'letting me know',
  'like youas someone',
  'as a ',
  ' fellow ',
  'dear ',
  'preference',
  'preferred',
  'orientation',
  'identif',
  ' cater',
  ' previous',
  ' specified ',
  'selected',
  'axis',
  ' geared ',
  ' friend',
  'sorry',
] as const;
const ARTIFACT_WINDOW = 400;

export interface CotAndResponse {
  /** Text before the chosen-category line ("Axis: …\nCategories: …"), stripped; "" when there is none. */
  cot: string;
  response: string;
}

/** The authors' `extract_cot_and_response` for one generation. */
export function extractCotAndResponse(raw: string): CotAndResponse {
  let y = raw;
  // A runaway generation restarts the format ("\nAxis: …") after its answer: cut before the restart.
  for (const marker of RUNAWAY_MARKERS) {
    const index = pyFind(pyLower(y), marker);
    if (index > RUNAWAY_BLOCK_THRESHOLD) y = pySlice(y, 0, index);
  }
  const cot = getCot(y);
  const response = cot !== '' || pyLower(y).includes('response:') ? responseAfterCot(y) : pyStrip(y);
  const trimmed = heuristicsModifier(response);
  return { cot, response: pyLen(trimmed) > MIN_TRIMMED_LENGTH ? trimmed : response };
}

/** `get_cot`: the text before the first marker, checking "chosen category:" before "chosen subcategory:". */
export function getCot(y: string): string {
  for (const marker of CHOSEN_MARKERS) {
    const index = pyFind(pyLower(y), marker);
    if (index !== -1) return pyStrip(pySlice(y, 0, index));
  }
  return '';
}

/** `get_y_from_cot_y`: the response after the chosen category. */
export function responseAfterCot(y: string): string {
  const lower = pyLower(y);
  let maxEnd = Math.max(...CHOSEN_MARKERS.map((marker) => pyFind(lower, marker)));
  if (pyFind(lower, 'response:') > maxEnd) {
    maxEnd = maxEnd > -1 ? maxEnd : 0;
    // Q8: "response:" is 9 characters; the authors skip 10.
    return pyStrip(pySlice(y, pyRfind(lower, 'response:', maxEnd) + 10));
  }
  // Q7: no newline after the chosen category gives find() = −1, i.e. the last character.
  return pyStrip(pySlice(y, pyFind(y, '\n', maxEnd)));
}

/** `trim_y`: drop a leading ":" and a leftover header line near the start. */
export function trimHeader(text: string): string {
  let y = text;
  if (y.startsWith(':')) y = pyStrip(pySlice(y, 1));
  for (const phrase of HEADER_PHRASES) {
    if (pyLower(pySlice(y, 0, 100)).includes(phrase)) {
      const nextLine = pyFind(y, '\n', pyFind(pyLower(y), phrase));
      // Q7: no newline gives −1 < 200, keeping only the last character.
      if (nextLine < 200) y = pyStrip(pySlice(y, nextLine));
    }
  }
  return pyStrip(y);
}

function startsWithAny(text: string, phrases: readonly string[]): boolean {
  const lower = pyLower(text);
  return phrases.some((phrase) => lower.startsWith(phrase));
}

/** `first_occurance`: the lowest index of any needle at or after `start`, or 100000. */
function firstOccurrence(s: string, needles: readonly string[], start = 0): number {
  return Math.min(...needles.map((needle) => {
    const index = pyFind(s, needle, start);
    return index !== -1 ? index : NOT_FOUND_FIRST;
  }));
}

/** `last_occurance`: the highest index of any needle fully before `end`, or −100000. */
function lastOccurrence(s: string, needles: readonly string[], end: number): number {
  return Math.max(...needles.map((needle) => {
    const index = pyRfind(s, needle, 0, end);
    return index !== -1 ? index : NOT_FOUND_LAST;
  }));
}

/** `in_beginning`: the phrase occurs and its first occurrence starts before `by`. */
function inBeginning(s: string, phrase: string, by: number): boolean {
  const lower = pyLower(s);
  const needle = pyLower(phrase);
  return lower.includes(needle) && pyFind(lower, needle) < by;
}

/** `remove_containing_sentence`: delete the sentence around the first occurrence of `phrase` (Q5, Q6). */
export function removeContainingSentence(y: string, phrase: string): string {
  const phraseIndex = pyFind(pyLower(y), phrase);
  let sentenceEnd = firstOccurrence(y, SENTENCE_ENDS, phraseIndex);
  sentenceEnd = sentenceEnd === NOT_FOUND_FIRST ? -2 : sentenceEnd;
  let sentenceStart = lastOccurrence(y, SENTENCE_ENDS, phraseIndex);
  sentenceStart = sentenceStart === NOT_FOUND_LAST ? -1 : sentenceStart;
  return pyStrip(`${pyStrip(pySlice(y, 0, sentenceStart + 1))} ${pyStrip(pySlice(y, sentenceEnd + 2))}`);
}

/** `heuristics_modifier`: two passes of header, opener and artifact-sentence removal. */
export function heuristicsModifier(text: string): string {
  let y = text;
  for (let pass = 0; pass < 2; pass++) {
    y = pyStrip(y);
    if (pyLen(y) === 0) y = 'empty response :(';
    if (pyCharAt(y, 0) === ':') y = pyStrip(pySlice(y, 1));
    y = trimHeader(y);

    if (startsWithAny(y, CLAUSE_OPENERS)) {
      // "As someone committed to mindful eating, you've…" → "You've…" (Q1, Q2).
      y = pyCapitalizeFirst(pyStrip(pySlice(y, pyFind(y, ',') + 2)));
    } else if (startsWithAny(y, LABEL_OPENERS)) {
      // "Response for someone struggling with …:" → what follows the label.
      let index = firstOccurrence(y, [':', '.', '\n']);
      index = index === NOT_FOUND_FIRST ? -2 : index;
      y = pyStrip(pySlice(y, index + 2));
    } else if (startsWithAny(y, GREETING_OPENERS)) {
      // "Hi [User Name]!\n\nAs someone…" → what follows the greeting (Q3: the comma removal did nothing).
      let index = firstOccurrence(y, [',', '.', '!', ':', '\n']);
      index = index === NOT_FOUND_FIRST ? -2 : index;
      y = pyCapitalizeFirst(pyStrip(pySlice(y, index + 2)));
    } else if (y.startsWith('(')) {
      // "(for a potential attendee based in Vietnam) …" → drop the parenthesis.
      y = pyStrip(pySlice(y, pyFind(y, ')') + 1));
    }

    for (const phrase of ARTIFACT_PHRASES) {
      if (inBeginning(y, phrase, ARTIFACT_WINDOW)) y = removeContainingSentence(y, phrase);
    }
  }
  return y;
}
