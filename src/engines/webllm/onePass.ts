/**
 * One-pass scoring on WebLLM: every scored token's logits come from `batch_prefill` with a logit
 * position at that token, so an answer of n tokens costs ⌈n / window⌉ model calls instead of n.
 *
 * Per pair: `resetChat()`; the prompt except its last token is prefilled once; for each answer,
 * [last prompt token, answer without its last token] runs in windows of at most min(prefill
 * chunk, max_batch_size) tokens with a position at each, row k predicting answer token k; then
 * the answer is popped off the KV cache, back to the shared prompt. `resetChat()` again at the
 * end (and on any failure), so chat never reuses a KV cache holding scoring tokens.
 */
import { throwIfCancelled, type CancelSignal } from '../../core/cancel.ts';
import { logSoftmaxAt } from '../../core/logits.ts';
import type { PipelineAccess } from './pipelineInternals.ts';

export async function scoreOnePass(
  access: PipelineAccess,
  resetChat: () => Promise<void>,
  promptIds: readonly number[],
  continuations: readonly (readonly number[])[],
  signal?: CancelSignal,
): Promise<number[][]> {
  await resetChat();
  try {
    const shared = promptIds.slice(0, -1);
    const last = promptIds.at(-1) as number;
    for (let start = 0; start < shared.length; start += access.maxTokens) {
      throwIfCancelled(signal);
      const chunk = shared.slice(start, start + access.maxTokens);
      // One position is enough: these logits are not needed, only the KV cache they leave.
      await access.forwardWithLogits(chunk, [chunk.length - 1]);
    }
    const window = Math.min(access.maxTokens, access.maxPositions);
    const results: number[][] = [];
    for (const [index, continuation] of continuations.entries()) {
      const input = [last, ...continuation.slice(0, -1)];
      const logprobs: number[] = [];
      for (let start = 0; start < input.length; start += window) {
        throwIfCancelled(signal);
        const chunk = input.slice(start, start + window);
        const rows = await access.forwardWithLogits(
          chunk,
          chunk.map((_, k) => k),
        );
        rows.forEach((row, k) => logprobs.push(logSoftmaxAt(row, continuation[start + k] as number)));
      }
      results.push(logprobs);
      if (index < continuations.length - 1) {
        // Back to the shared prompt. A one-token prompt has nothing to keep (and a sequence is
        // never popped empty), so the cache is cleared instead.
        if (shared.length > 0) access.popTokens(input.length);
        else await resetChat();
      }
    }
    return results;
  } finally {
    await resetChat();
  }
}
