/**
 * The LogitProcessor that makes forced decoding (and top-k generation) possible on WebLLM.
 * Registered for the model before `reload()`; WebLLM then calls it for every sampled token of
 * that model (chat, completion and forwardTokensAndSample), so it passes logits through unless
 * armed. Never throws: an exception inside WebLLM's sampling step would leave its TVM scope open.
 */
import type { LogitProcessor } from '@mlc-ai/web-llm';
import { keepTopK, logSoftmaxAt } from '../../core/logits.ts';

export type ProcessorMode =
  /** Per step, the tokens whose log-probs are read off that step's row; the first is forced. */
  | { kind: 'score'; steps: readonly (readonly number[])[]; logprobs: number[][]; overrun: number }
  | { kind: 'generate'; keepTop: number; sampled: number[] }
  | { kind: 'idle' };

export class TeacherForcingProcessor implements LogitProcessor {
  #mode: ProcessorMode = { kind: 'idle' };

  /**
   * Arms forced decoding: step s records log softmax(row)[t] for every t in `steps[s]` and forces
   * `steps[s][0]` to be sampled. Several targets on one step score the first tokens of several
   * answers from the same row (the prompt's last position, computed once).
   */
  armScore(steps: readonly (readonly number[])[]): void {
    this.#mode = { kind: 'score', steps, logprobs: [], overrun: 0 };
  }

  /** `keepTop`: 0 keeps every token; 1 is greedy; k keeps the k largest logits (top-k, which WebLLM's API lacks). */
  armGenerate(keepTop: number): void {
    this.#mode = { kind: 'generate', keepTop, sampled: [] };
  }

  /** Disarms and returns what was recorded. */
  disarm(): ProcessorMode {
    const mode = this.#mode;
    this.#mode = { kind: 'idle' };
    return mode;
  }

  /** Tokens sampled so far by the armed generation (0 when not generating). */
  get generatedCount(): number {
    return this.#mode.kind === 'generate' ? this.#mode.sampled.length : 0;
  }

  processLogits(logits: Float32Array): Float32Array {
    const mode = this.#mode;
    if (mode.kind === 'score') {
      const targets = mode.steps[mode.logprobs.length];
      if (targets === undefined || targets.length === 0) {
        mode.overrun++;
        return logits;
      }
      mode.logprobs.push(targets.map((target) => logSoftmaxAt(logits, target)));
      // Force the sampled token to be the first target: the caller checks every step's returned
      // token, which proves the processor ran on that step.
      const forced = targets[0] as number;
      const kept = logits[forced] as number;
      logits.fill(-Infinity);
      logits[forced] = kept;
    } else if (mode.kind === 'generate' && mode.keepTop > 0 && mode.keepTop < logits.length) {
      keepTopK(logits, mode.keepTop);
    }
    return logits;
  }

  processSampledToken(token: number): void {
    if (this.#mode.kind === 'generate') this.#mode.sampled.push(token);
  }

  /** Called by `resetChat()`, including the one a new chat request does before its first token. */
  resetState(): void {
    if (this.#mode.kind === 'generate') this.#mode.sampled = [];
  }
}
