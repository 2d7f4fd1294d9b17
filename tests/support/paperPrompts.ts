/**
 * Finds Appendix G's prompts in the paper's PDF-to-text extraction and brings them, and our
 * rendered templates, into one canonical form, so a template that drifts from the paper fails.
 *
 * A prompt block starts after its heading line (matched by title) and ends at the first line that
 * is paper layout again: a line with a page-margin line number (running text only; the prompt
 * boxes have none), a lettered appendix heading ("G.5 …", "H …"), or another prompt's heading.
 *
 * Repairs of PDF-extraction artefacts, applied to the paper side only, in this order:
 *  1. Footnote lines (`<sup>19</sup><https://…>`) are dropped: the page-bottom footnote lands in
 *     the middle of the G.4 prompt.
 *  2. Code-fence lines (```) are dropped: they are the converter's rendering of monospaced text.
 *  3. Markdown backslash escapes are undone (`{N\_RESPONSES}` → `{N_RESPONSES}`).
 *  4. A "- " bullet whose text starts in lower case, right after a line that stops mid-sentence
 *     (ends in a letter), continues that line: the marker is dropped ("base your\n\n- questions on").
 *  5. ChatML markers, which OCR reads with `l` for `|` (`<lim_start>`, `<lim_startl>`, `<lim_endl>`),
 *     become role boundaries: the block turns into `{ role, text }` turns. A block without markers
 *     is a single user turn.
 * Then both sides get the same canonical text:
 *  6. Every whitespace run (newlines, blank lines, indentation) becomes one space; ends are trimmed.
 *     This absorbs paragraphs split mid-sentence, nested-list indentation and hard line breaks,
 *     and means line structure is not compared (the PDF does not preserve it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChatMessage, ChatRole } from '../../src/core/chat.ts';

/** The paper text lives beside the project, in ../shared (absent in some checkouts). */
export const PAPER_PATH = fileURLToPath(new URL('../../../shared/paper/wikipersonas.txt', import.meta.url));

/** The committed copy of the paper's Appendix G prompt lines (scripts/fixtures/extractAppendixG.ts). */
export const APPENDIX_G_FIXTURE_PATH = fileURLToPath(new URL('../fixtures/paper/appendix-g.txt', import.meta.url));

/** The committed copy of the paper's Table 7 rows (scripts/fixtures/extractAppendixG.ts). */
export const TABLE_7_FIXTURE_PATH = fileURLToPath(new URL('../fixtures/paper/table-7.txt', import.meta.url));

/** Table 7's rows ("axis\tName (Category), Name (Category), …"), between its header line and the blank line after. */
export function tableSevenLines(paperText: string): string {
  const lines = paperText.split('\n');
  const header = lines.findIndex((line) => line.startsWith('Axes\tCategory (persona)'));
  if (header < 0) throw new Error('Table 7 ("Axes\tCategory (persona)") is not in the paper text.');
  const end = lines.findIndex((line, index) => index > header && line.trim() === '');
  return `${lines.slice(header + 1, end < 0 ? undefined : end).join('\n')}\n`;
}

/** Each prompt's heading in the paper, by the paper's numbering. */
export const PAPER_PROMPT_TITLES = {
  'G.1': 'Prompt to sample personas',
  'G.2 personal': 'Prompt to sample personal questions',
  'G.2 divergent': 'Prompt to sample divergent questions',
  'G.3': 'CoT Prompt to sample response',
  'G.4': 'Prompt to obtain GPT4 personal preference annotation',
  'G.5': 'Prompt to sample persona from training preference data',
  'G.6': 'Prompt to sample persona gold from name',
  'G.7': 'Prompt to sample y prefixed with name',
  'G.8': 'Prompt to sample y prefixed with tag',
  'G.9': 'Prompt to sample y prefixed with few-shots',
  'G.10': 'Prompt to sample y prefixed with persona',
} as const;
export type PaperPromptId = keyof typeof PAPER_PROMPT_TITLES;

const PROMPT_TITLES: ReadonlySet<string> = new Set(Object.values(PAPER_PROMPT_TITLES));

/** One chat turn in canonical form. */
export interface CanonicalTurn {
  role: ChatRole;
  text: string;
}

export function readPaperText(): string | undefined {
  return existsSync(PAPER_PATH) ? readFileSync(PAPER_PATH, 'utf8') : undefined;
}

export function readAppendixGFixture(): string {
  return readFileSync(APPENDIX_G_FIXTURE_PATH, 'utf8');
}

// ---------------------------------------------------------------------------------------------
// Layout: margin numbers, headings, block boundaries

/** The review copy's line numbers ("1544 ") in the page margin, merged into running-text lines. */
const MARGIN_LINE_NUMBER = /^\s*\d{4}(?:\s+|$)/;
/** An appendix section heading: "H Hyperparameters", "G.5 Prefix generation: …". */
const APPENDIX_SECTION_TITLE = /^[A-Z](?:\.\d+)?\s/;
/** A lettered appendix ("H …"), as opposed to one of its subsections ("G.5 …"). */
const APPENDIX_TITLE = /^[A-Z]\s/;

/**
 * The title of a heading line (`#### Prompt to sample  $y$  prefixed with persona`,
 * `1546 **Prompt to sample personas**`), with margin number, emphasis and math `$` removed;
 * undefined for any other line.
 */
function headingTitle(line: string): string | undefined {
  const text = line.replace(MARGIN_LINE_NUMBER, '').trim();
  const heading = /^#{1,6}\s+(.+)$/.exec(text) ?? /^\*\*(.+)\*\*$/.exec(text);
  return heading?.[1]?.replaceAll('**', '').replaceAll('$', '').replace(/\s+/g, ' ').trim();
}

function endsPromptBlock(line: string): boolean {
  if (MARGIN_LINE_NUMBER.test(line)) return true;
  const title = headingTitle(line);
  return title !== undefined && (APPENDIX_SECTION_TITLE.test(title) || PROMPT_TITLES.has(title));
}

/** The raw lines of one prompt: after its heading, up to the next layout line; blank ends trimmed. */
export function promptBlockLines(paperText: string, id: PaperPromptId): string[] {
  const lines = paperText.split('\n');
  const title = PAPER_PROMPT_TITLES[id];
  const headingIndices = lines.flatMap((line, index) => (headingTitle(line) === title ? [index] : []));
  const [headingIndex] = headingIndices;
  if (headingIndex === undefined || headingIndices.length > 1) {
    throw new Error(`Expected one heading "${title}" (${id}) in the paper text, found ${headingIndices.length}.`);
  }
  const rest = lines.slice(headingIndex + 1);
  const end = rest.findIndex(endsPromptBlock);
  return trimBlankLines(end === -1 ? rest : rest.slice(0, end));
}

/**
 * The paper's raw lines that hold Appendix G's prompts: from the G.1 heading up to the next
 * lettered appendix (H), trailing blank lines dropped, newline-terminated. This is the fixture.
 */
export function appendixGPromptLines(paperText: string): string {
  const lines = paperText.split('\n');
  const start = lines.findIndex((line) => headingTitle(line)?.startsWith('G.1 '));
  if (start === -1) throw new Error('No "G.1" heading in the paper text.');
  const length = lines.slice(start + 1).findIndex((line) => APPENDIX_TITLE.test(headingTitle(line) ?? ''));
  if (length === -1) throw new Error('No appendix heading after Appendix G in the paper text.');
  return `${trimBlankLines(lines.slice(start, start + 1 + length)).join('\n')}\n`;
}

function trimBlankLines(lines: readonly string[]): string[] {
  const first = lines.findIndex((line) => line.trim() !== '');
  if (first === -1) return [];
  const last = lines.findLastIndex((line) => line.trim() !== '');
  return lines.slice(first, last + 1);
}

// ---------------------------------------------------------------------------------------------
// Repairs of PDF-extraction artefacts (rules 1–5)

const FOOTNOTE_LINE = /^\s*<sup>\d+<\/sup>/;
const CODE_FENCE_LINE = /^\s*```/;
const MARKDOWN_ESCAPE = /\\([!-/:-@[-`{-~])/g;
const CONTINUATION_BULLET = /^\s*-\s+(?=[a-z])/;
const ENDS_MID_SENTENCE = /[A-Za-z]\s*$/;
/** `<|im_start|>role … <|im_end|>`, with OCR's `l` for either `|`. */
const CHATML_TURN = /<[|l]im_start[|l]?>\s*(system|user|assistant)\b([\s\S]*?)<[|l]im_end[|l]?>/g;

function repairLines(lines: readonly string[]): string[] {
  const kept = lines
    .filter((line) => !FOOTNOTE_LINE.test(line) && !CODE_FENCE_LINE.test(line))
    .map((line) => line.replace(MARKDOWN_ESCAPE, '$1'));
  let previousText = '';
  return kept.map((line) => {
    const repaired = ENDS_MID_SENTENCE.test(previousText) ? line.replace(CONTINUATION_BULLET, '') : line;
    if (line.trim() !== '') previousText = line;
    return repaired;
  });
}

function splitChatTurns(text: string): CanonicalTurn[] {
  const turns = [...text.matchAll(CHATML_TURN)];
  if (turns.length === 0) return [{ role: 'user', text: canonicalText(text) }];
  const outside = text.replace(CHATML_TURN, '');
  if (outside.trim() !== '') throw new Error(`Text outside ChatML turns: "${canonicalText(outside).slice(0, 80)}"`);
  return turns.map(([, role, content]) => ({ role: role as ChatRole, text: canonicalText(content ?? '') }));
}

// ---------------------------------------------------------------------------------------------
// Canonical form (rule 6) for both sides

function canonicalText(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** One prompt of the paper, located, repaired and canonicalised. */
export function extractPaperPrompt(paperText: string, id: PaperPromptId): CanonicalTurn[] {
  return splitChatTurns(repairLines(promptBlockLines(paperText, id)).join('\n'));
}

/** A template's user-turn text in canonical form. */
export function canonicalPromptText(text: string): CanonicalTurn[] {
  return [{ role: 'user', text: canonicalText(text) }];
}

/** A template's chat in canonical form. */
export function canonicalMessages(messages: readonly ChatMessage[]): CanonicalTurn[] {
  return messages.map(({ role, content }) => ({ role, text: canonicalText(content) }));
}

/** Words shown on each side of a mismatch. */
const MISMATCH_CONTEXT_WORDS = 8;

/** Where `rendered` first departs from `paper`, with some context; undefined when they are equal. */
export function firstMismatch(paper: readonly CanonicalTurn[], rendered: readonly CanonicalTurn[]): string | undefined {
  if (paper.length !== rendered.length) return `The paper has ${paper.length} turns, the template ${rendered.length}.`;
  for (const [index, paperTurn] of paper.entries()) {
    const renderedTurn = rendered[index] ?? { role: undefined, text: '' };
    if (paperTurn.role !== renderedTurn.role) {
      return `Turn ${index + 1}: the paper's role is ${paperTurn.role}, the template's ${renderedTurn.role}.`;
    }
    const paperWords = paperTurn.text.split(' ');
    const renderedWords = renderedTurn.text.split(' ');
    const wordCount = Math.max(paperWords.length, renderedWords.length);
    const at = Array.from({ length: wordCount }, (_, wordIndex) => wordIndex).find(
      (wordIndex) => paperWords[wordIndex] !== renderedWords[wordIndex],
    );
    if (at === undefined) continue;
    const excerpt = (words: readonly string[]) =>
      words.slice(Math.max(0, at - MISMATCH_CONTEXT_WORDS), at + MISMATCH_CONTEXT_WORDS).join(' ');
    return [
      `Turn ${index + 1} (${paperTurn.role}), word ${at + 1}:`,
      `  paper:    …${excerpt(paperWords)}…`,
      `  template: …${excerpt(renderedWords)}…`,
    ].join('\n');
  }
  return undefined;
}
