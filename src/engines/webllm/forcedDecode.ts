/**
 * Forced decoding on WebLLM's public surface: the LogitProcessor records log softmax of the raw
 * logits at each forced token while `forwardTokensAndSample` advances one token per call, so an
 * answer of n tokens costs n sequential model calls. Kept as the reference the one-pass path is
 * checked against, and as the fallback wherever one-pass is unavailable or disagrees.
 *
 * With `popTokens` (WebLLM internals, see pipelineInternals.ts) each pair's prompt is prefilled
 * once: its last row scores the first token of every answer, and after each answer the fed tokens
 * are popped. Without it each answer starts from `resetChat()` and prefills the prompt again.
 * `resetChat()` runs before and after, so chat never reuses a KV cache holding scoring tokens.
 */
import { throwIfCancelled, type CancelSignal } from '../../core/cancel.ts';
import { AppError } from '../../core/errors.ts';
import type { WebLlmEngineSurface } from './options.ts';
import type { TeacherForcingProcessor } from './teacherForcing.ts';

export interface ForcedDecoder {
  engine: WebLlmEngineSurface;
  processor: TeacherForcingProcessor;
  /** Drops the last n tokens of the KV cache; absent where WebLLM's internals are out of reach. */
  popTokens?: (count: number) => void;
  /** Wraps each WebLLM call (error mapping). */
  call<T>(run: () => Promise<T>): Promise<T>;
  modelId: string;
}

export async function scoreForcedDecode(
  decoder: ForcedDecoder,
  promptIds: readonly number[],
  continuations: readonly (readonly number[])[],
  signal?: CancelSignal,
): Promise<number[][]> {
  const { popTokens } = decoder;
  if (!popTokens) {
    const results: number[][] = [];
    for (const continuation of continuations) {
      throwIfCancelled(signal);
      results.push((await decodePair(decoder, promptIds, [continuation], undefined, signal))[0] as number[]);
    }
    return results;
  }
  return decodePair(decoder, promptIds, continuations, popTokens, signal);
}

/** One prompt prefill, then each continuation token by token (popped off again when `popTokens` is given). */
async function decodePair(
  decoder: ForcedDecoder,
  promptIds: readonly number[],
  continuations: readonly (readonly number[])[],
  popTokens: ((count: number) => void) | undefined,
  signal: CancelSignal | undefined,
): Promise<number[][]> {
  const { engine, processor, call } = decoder;
  await call(() => engine.resetChat());
  try {
    // Armed after the reset, which calls the processor's resetState().
    const firsts = continuations.map((c) => c[0] as number);
    processor.armScore([firsts]);
    // Plain arrays: WebLLM treats anything that is not Array.isArray (e.g. Int32Array) as an image.
    expectForced(decoder, await call(() => engine.forwardTokensAndSample(Array.from(promptIds), true)), firsts[0]);
    const firstLogprobs = recorded(decoder, 1)[0] as number[];
    const results: number[][] = [];
    for (const [index, continuation] of continuations.entries()) {
      const rest = continuation.slice(1);
      processor.armScore(rest.map((token) => [token]));
      for (let t = 1; t < continuation.length; t++) {
        throwIfCancelled(signal);
        expectForced(decoder, await call(() => engine.forwardTokensAndSample([continuation[t - 1] as number], false)), continuation[t]);
      }
      const steps = recorded(decoder, rest.length);
      results.push([firstLogprobs[index] as number, ...steps.map((step) => step[0] as number)]);
      if (popTokens && rest.length > 0 && index < continuations.length - 1) popTokens(rest.length);
    }
    return results;
  } finally {
    processor.disarm();
    await call(() => engine.resetChat());
  }
}

function recorded(decoder: ForcedDecoder, steps: number): number[][] {
  const mode = decoder.processor.disarm();
  if (mode.kind !== 'score' || mode.logprobs.length !== steps || mode.overrun > 0) {
    throw new AppError(
      'internal',
      `The scoring LogitProcessor recorded ${mode.kind === 'score' ? mode.logprobs.length : 0} steps for ${steps} tokens: WebLLM did not call it once per step.`,
    );
  }
  return mode.logprobs;
}

function expectForced(decoder: ForcedDecoder, sampled: number, target: number | undefined): void {
  if (sampled !== target) {
    throw new AppError('internal', `WebLLM sampled token ${sampled} where the scoring LogitProcessor forced ${target}: the processor is not attached to ${decoder.modelId}.`);
  }
}
