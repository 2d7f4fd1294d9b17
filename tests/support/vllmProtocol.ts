/**
 * vLLM's response classes as zod schemas, written from its pydantic models (vllm/logprobs.py
 * `Logprob`; vllm/entrypoints/openai/completion/protocol.py `CompletionLogProbs`,
 * `CompletionResponseChoice`, `CompletionResponse`; engine/protocol.py `UsageInfo`;
 * serve/tokenize/protocol.py `TokenizeResponse`), strict, so a field we add or forget fails. Fields
 * that differ between vLLM releases are optional. `serve` is checked against them, and so are the
 * stored vLLM responses the OpenAI engine is tested with, so neither can drift from vLLM.
 *
 * Beyond the types, `assertVllmPromptLogprobs` and `assertVllmCompletionLogprobs` check what the
 * serving code guarantees: each prompt position holds its actual token with the token's rank, then
 * the top k with ranks 1..k (one entry when the actual token is in the top k); `text_offset` adds up
 * the token texts' lengths; echo's first position is null.
 */
import { expect } from 'vitest';
import { z } from 'zod';

const Int = z.number().int();

export const Logprob = z.strictObject({ logprob: z.number(), rank: Int.min(1).nullable(), decoded_token: z.string().nullable() });
export type Logprob = z.infer<typeof Logprob>;

/** dict[int, Logprob] | None per prompt position, keys serialized as strings. */
export const PromptLogprobs = z.array(z.record(z.string().regex(/^\d+$/), Logprob).nullable());
export type PromptLogprobs = z.infer<typeof PromptLogprobs>;

export const CompletionLogProbs = z.strictObject({
  text_offset: z.array(Int.nonnegative()),
  token_logprobs: z.array(z.number().nullable()),
  tokens: z.array(z.string()),
  top_logprobs: z.array(z.record(z.string(), z.number()).nullable()),
});
export type CompletionLogProbs = z.infer<typeof CompletionLogProbs>;

export const CompletionResponseChoice = z.strictObject({
  index: Int.nonnegative(),
  text: z.string(),
  logprobs: CompletionLogProbs.nullable(),
  finish_reason: z.string().nullable(),
  stop_reason: z.union([Int, z.string()]).nullable(),
  prompt_logprobs: PromptLogprobs.nullable(),
  token_ids: z.array(Int).nullish(),
  prompt_token_ids: z.array(Int).nullish(),
  routed_experts: z.string().nullish(),
});

export const UsageInfo = z.strictObject({
  prompt_tokens: Int.nonnegative(),
  total_tokens: Int.nonnegative(),
  completion_tokens: Int.nonnegative().nullable(),
  prompt_tokens_details: z.strictObject({ cached_tokens: Int.nonnegative() }).nullish(),
});

export const CompletionResponse = z.strictObject({
  id: z.string(),
  object: z.literal('text_completion'),
  created: Int,
  model: z.string(),
  choices: z.array(CompletionResponseChoice),
  usage: UsageInfo,
  service_tier: z.string().nullish(),
  system_fingerprint: z.string().nullish(),
  kv_transfer_params: z.record(z.string(), z.unknown()).nullish(),
  ec_transfer_params: z.record(z.string(), z.unknown()).nullish(),
  metrics: z.unknown().optional(),
});
export type CompletionResponse = z.infer<typeof CompletionResponse>;

export const TokenizeResponse = z.strictObject({
  count: Int.nonnegative(),
  max_model_len: Int.positive(),
  tokens: z.array(Int.nonnegative()),
  /** Since vLLM 0.9; null unless `return_token_strs`. */
  token_strs: z.array(z.string()).nullish(),
});
export type TokenizeResponse = z.infer<typeof TokenizeResponse>;

/**
 * The serving code's guarantees for `prompt_logprobs` of a prompt `ids` asked with k alternatives:
 * position 0 null; every other position holds ids[p] with its rank ≥ 1, and the top k with ranks
 * 1..k, ordered by log-prob, the actual token among them exactly when its rank is ≤ k.
 */
export function assertVllmPromptLogprobs(positions: PromptLogprobs, ids: readonly number[], k: number): void {
  expect(positions).toHaveLength(ids.length);
  expect(positions[0]).toBeNull();
  positions.slice(1).forEach((position, index) => {
    const actualId = String(ids[index + 1]);
    const entries = Object.entries(position ?? {});
    const actual = position?.[actualId];
    expect(actual, `position ${index + 1} lacks its actual token ${actualId}`).toBeDefined();
    const rank = actual?.rank as number;
    expect(rank).toBeGreaterThanOrEqual(1);
    const others = entries.filter(([id]) => id !== actualId).map(([, value]) => value);
    const expectedRanks = Array.from({ length: k }, (_, r) => r + 1).filter((r) => !(rank <= k && r === rank));
    expect(others.map((value) => value.rank).sort((a, b) => (a as number) - (b as number))).toEqual(expectedRanks);
    expect(entries).toHaveLength(rank <= k ? k : k + 1);
    // Ranks follow log-probs: a better rank never has a lower log-prob.
    const byRank = entries.map(([, value]) => value).sort((a, b) => (a.rank as number) - (b.rank as number));
    byRank.slice(1).forEach((value, r) => expect(value.logprob).toBeLessThanOrEqual((byRank[r] as Logprob).logprob));
  });
}

/** text_offset is the running sum of the token texts' lengths (Python's len, code points); one entry per token. */
export function assertVllmCompletionLogprobs(logprobs: CompletionLogProbs, tokenCount: number): void {
  expect(logprobs.tokens).toHaveLength(tokenCount);
  expect(logprobs.token_logprobs).toHaveLength(tokenCount);
  expect(logprobs.top_logprobs).toHaveLength(tokenCount);
  expect(logprobs.text_offset).toHaveLength(tokenCount);
  let offset = logprobs.text_offset[0] ?? 0;
  logprobs.tokens.forEach((token, i) => {
    expect(logprobs.text_offset[i]).toBe(offset);
    offset += [...token].length;
    expect(logprobs.top_logprobs[i] === null).toBe(logprobs.token_logprobs[i] === null);
  });
}
