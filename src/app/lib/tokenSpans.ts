/**
 * Which text each scored token covers, for the per-token view, using only `tokenize` (the engine
 * has no detokenizer). The scored answer tokens are the tail of tokenize(prompt + answer). For
 * each word boundary c of the answer we tokenize prompt + answer[0:c]: when that is exactly a
 * prefix of the whole, the tokens before the boundary are known, so the text between two such
 * boundaries owns the tokens between them. Boundaries whose prefix tokenizes differently (a token
 * spanning the boundary) are skipped, merging their words. Nothing is guessed: a span always shows
 * the exact tokens it covers, and when the tail itself does not match, only token ids are shown.
 */

export interface TokenSpan {
  text: string;
  ids: number[];
  /** Index of the span's first token among the scored tokens. */
  start: number;
  /** The end-of-sequence token the scorer appends; it has no text. */
  special?: boolean;
}

export interface AlignedAnswer {
  spans: TokenSpan[];
  /** False when the text could not be matched to the tokens: spans are then single tokens without text. */
  aligned: boolean;
}

export type Tokenize = (text: string) => Promise<number[]>;

/** More boundaries cost more tokenize calls (each over the whole prompt); beyond this, words are grouped. */
const MAX_BOUNDARIES = 160;

export async function alignAnswerTokens(
  tokenize: Tokenize,
  prompt: string,
  answer: string,
  scoredIds: readonly number[],
  eosTokenId: number,
): Promise<AlignedAnswer> {
  const endsWithEos = scoredIds.at(-1) === eosTokenId;
  const body = endsWithEos ? scoredIds.slice(0, -1) : scoredIds.slice();
  const eosSpan = (): TokenSpan[] => (endsWithEos ? [{ text: '', ids: [eosTokenId], start: body.length, special: true }] : []);
  const full = await tokenize(prompt + answer);
  const offset = full.length - body.length;
  if (offset < 0 || !body.every((id, i) => full[offset + i] === id)) return idsOnly(scoredIds, eosTokenId);

  const boundaries = wordBoundaries(answer);
  const prefixes = await Promise.all(boundaries.map((c) => tokenize(prompt + answer.slice(0, c))));
  const spans: TokenSpan[] = [];
  let textStart = 0;
  let tokenStart = offset;
  boundaries.forEach((c, i) => {
    const ids = prefixes[i] ?? [];
    if (ids.length <= tokenStart || ids.length >= full.length || !ids.every((id, j) => full[j] === id)) return;
    spans.push({ text: answer.slice(textStart, c), ids: full.slice(tokenStart, ids.length), start: tokenStart - offset });
    textStart = c;
    tokenStart = ids.length;
  });
  spans.push({ text: answer.slice(textStart), ids: full.slice(tokenStart), start: tokenStart - offset });
  return { spans: [...spans, ...eosSpan()], aligned: true };
}

/** Positions where whitespace follows a non-space: the Llama tokenizer starts a new token there. */
export function wordBoundaries(text: string): number[] {
  const all: number[] = [];
  for (let i = 1; i < text.length; i++) {
    if (/\s/.test(text[i] as string) && !/\s/.test(text[i - 1] as string)) all.push(i);
  }
  if (all.length <= MAX_BOUNDARIES) return all;
  const step = all.length / MAX_BOUNDARIES;
  return Array.from({ length: MAX_BOUNDARIES }, (_, k) => all[Math.floor(k * step)] as number);
}

function idsOnly(ids: readonly number[], eosTokenId: number): AlignedAnswer {
  return {
    aligned: false,
    spans: ids.map((id, i) => ({ text: '', ids: [id], start: i, ...(id === eosTokenId && i === ids.length - 1 && { special: true }) })),
  };
}
