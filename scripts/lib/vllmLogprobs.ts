/**
 * vLLM's log-prob structures for /v1/completions, built from an engine's ranked scores
 * (Engine.scoreRanked), so `serve` answers exactly as a vLLM server does and clients are tested
 * against the shapes they will meet:
 *  - `prompt_logprobs`: per prompt position a dictionary token id → {logprob, rank, decoded_token},
 *    the position's actual token first with its real rank in the vocabulary, then the top-k with
 *    ranks 1..k (a token in both appears once, where it first appeared; the first position is null);
 *  - `logprobs` (CompletionLogProbs): `tokens`, `token_logprobs`, `top_logprobs` (the first k + 1
 *    entries of each position's dictionary, keyed by decoded text) and `text_offset` (cumulative
 *    characters of the token texts), −inf clamped to −9999 as vLLM clamps it.
 * Written from vllm/logprobs.py (append_logprobs_for_next_position) and
 * vllm/entrypoints/openai/completion/serving.py (_create_completion_logprobs).
 */
import type { RankedLogprob } from '../../src/core/engine.ts';
import type { ServerTokenizer } from './serverTokenizer.ts';

/** vLLM's `Logprob`. */
export interface VllmLogprob {
  logprob: number;
  rank: number | null;
  decoded_token: string | null;
}

/** One position's entries in vLLM's dictionary order (a Map keeps a re-set key where it first was). */
export type PositionLogprobs = Map<number, VllmLogprob>;

/** vLLM's `CompletionLogProbs`. */
export interface CompletionLogprobs {
  text_offset: number[];
  token_logprobs: (number | null)[];
  tokens: string[];
  top_logprobs: (Record<string, number> | null)[];
}

/** The JSON-safe floor vLLM applies to −inf. */
const LOGPROB_FLOOR = -9999;

function clamp(logprob: number): number {
  return Math.max(logprob, LOGPROB_FLOOR);
}

/** The dictionary of one position whose actual token is `tokenId`. */
export function positionLogprobs(tokenId: number, ranked: RankedLogprob, tokenizer: ServerTokenizer): PositionLogprobs {
  const ids = [tokenId, ...ranked.top.map((entry) => entry.tokenId)];
  const texts = tokenizer.logprobTokens(ids);
  const values = [{ logprob: ranked.logprob, rank: ranked.rank }, ...ranked.top.map((entry, k) => ({ logprob: entry.logprob, rank: k + 1 }))];
  const position: PositionLogprobs = new Map();
  ids.forEach((id, i) => {
    const value = values[i] as { logprob: number; rank: number };
    position.set(id, { logprob: clamp(value.logprob), rank: value.rank, decoded_token: texts[i] ?? null });
  });
  return position;
}

/** Dictionaries for positions 1.. of `ids` (`ranked[k]` scores `ids[k + 1]`); position 0 has no context. */
export function promptPositions(ids: readonly number[], ranked: readonly RankedLogprob[], tokenizer: ServerTokenizer): (PositionLogprobs | null)[] {
  return [null, ...ranked.map((entry, k) => positionLogprobs(ids[k + 1] as number, entry, tokenizer))];
}

/** `prompt_logprobs` as JSON: each position an object keyed by token id (JSON objects keep no key order). */
export function promptLogprobsJson(positions: readonly (PositionLogprobs | null)[]): (Record<string, VllmLogprob> | null)[] {
  return positions.map((position) => (position ? Object.fromEntries([...position].map(([id, value]) => [String(id), value])) : null));
}

/**
 * CompletionLogProbs over `tokenIds` with one dictionary (or null) per token; `topCount` is the
 * request's `logprobs`, so each `top_logprobs` entry holds the first topCount + 1 dictionary entries.
 */
export function completionLogprobs(tokenIds: readonly number[], positions: readonly (PositionLogprobs | null)[], topCount: number, tokenizer: ServerTokenizer): CompletionLogprobs {
  const out: CompletionLogprobs = { text_offset: [], token_logprobs: [], tokens: [], top_logprobs: [] };
  let offset = 0;
  tokenIds.forEach((id, i) => {
    const position = positions[i];
    const entry = position?.get(id);
    let token: string;
    if (!position || !entry) {
      token = tokenizer.decode([id]);
      out.token_logprobs.push(null);
      out.top_logprobs.push(null);
    } else {
      token = entry.decoded_token ?? tokenizer.decode([id]);
      out.token_logprobs.push(entry.logprob);
      const top: Record<string, number> = {};
      [...position].slice(0, topCount + 1).forEach(([topId, value]) => {
        top[value.decoded_token ?? tokenizer.decode([topId])] = value.logprob;
      });
      out.top_logprobs.push(top);
    }
    out.tokens.push(token);
    out.text_offset.push(offset);
    // Python's len(): code points, not UTF-16 units.
    offset += [...token].length;
  });
  return out;
}
