/**
 * Chooses how WebLLM scores on this machine, and keeps to it. Where WebLLM's internals allow it
 * (pipelineInternals.ts), the first scoring request after a load scores its first pair both by
 * forced decoding and in one pass and compares them (scoringCheck.ts): one pass is used from then
 * on only if they agree. A one-pass failure later switches to forced decoding for good, saying
 * why. Every result carries the check, so the page shows it and runs store it.
 */
import { isCancelled, type CancelSignal } from '../../core/cancel.ts';
import type { ScoringCheck } from '../../core/engine.ts';
import { scoreForcedDecode, type ForcedDecoder } from './forcedDecode.ts';
import { scoreOnePass } from './onePass.ts';
import type { PipelineAccess, PipelineProbe } from './pipelineInternals.ts';
import { forcedOnly, judgeOnePass, type Tolerance } from './scoringCheck.ts';

type ScorerState = { kind: 'unchecked'; access: PipelineAccess } | { kind: 'one-pass'; access: PipelineAccess; check: ScoringCheck } | { kind: 'forced'; check: ScoringCheck };

export interface ScoredBy {
  logprobs: number[][];
  method: 'one-pass' | 'forced-decode';
  check: ScoringCheck | undefined;
  /** Token positions run through the model (the check's extra work included). */
  forwardTokens: number;
}

/** How many answers of the first request take part in the check (one preference pair). */
const CHECKED_CONTINUATIONS = 2;

export class WebLlmScorer {
  #state: ScorerState;
  readonly #decoder: ForcedDecoder;
  readonly #tolerance: Tolerance;
  readonly #subject: string;

  constructor(decoder: Omit<ForcedDecoder, 'popTokens'>, probe: PipelineProbe, tolerance: Tolerance, subject: string) {
    this.#tolerance = tolerance;
    this.#subject = subject;
    this.#decoder = probe.ok ? { ...decoder, popTokens: (count) => probe.access.popTokens(count) } : decoder;
    if (!probe.ok) this.#state = { kind: 'forced', check: forcedOnly(probe.reason, subject) };
    else if (probe.access.onePassUnavailable) this.#state = { kind: 'forced', check: forcedOnly(probe.access.onePassUnavailable, subject) };
    else this.#state = { kind: 'unchecked', access: probe.access };
  }

  /** What `EngineInfo.scoringMethod` reports before the first score. */
  get plannedMethod(): string {
    return this.#state.kind === 'unchecked' ? 'one-pass (checked against forced decoding at the first score)' : this.#state.check.method;
  }

  async score(promptIds: readonly number[], continuations: readonly (readonly number[])[], signal?: CancelSignal): Promise<ScoredBy> {
    const state = this.#state;
    if (state.kind === 'unchecked') return this.#checkThenScore(state.access, promptIds, continuations, signal);
    if (state.kind === 'forced') return this.#forced(promptIds, continuations, signal, state.check);
    try {
      const logprobs = await this.#onePass(state.access, promptIds, continuations, signal);
      return { logprobs, method: 'one-pass', check: state.check, forwardTokens: onePassTokens(promptIds, continuations) };
    } catch (error) {
      if (isCancelled(error)) throw error;
      const check = forcedOnly(`it failed on this GPU after passing its check: ${messageOf(error)}`, this.#subject);
      this.#state = { kind: 'forced', check };
      return this.#forced(promptIds, continuations, signal, check);
    }
  }

  /** Forced decoding regardless of the check (the load's warm-up step). */
  forced(promptIds: readonly number[], continuations: readonly (readonly number[])[], signal?: CancelSignal): Promise<number[][]> {
    return scoreForcedDecode(this.#decoder, promptIds, continuations, signal);
  }

  async #checkThenScore(access: PipelineAccess, promptIds: readonly number[], continuations: readonly (readonly number[])[], signal: CancelSignal | undefined): Promise<ScoredBy> {
    const checked = continuations.slice(0, CHECKED_CONTINUATIONS);
    const forced = await scoreForcedDecode(this.#decoder, promptIds, checked, signal);
    let check: ScoringCheck;
    let onePass: number[][] = [];
    try {
      onePass = await this.#onePass(access, promptIds, [...checked, checked[0] as readonly number[]], signal);
      check = judgeOnePass(forced, onePass, this.#tolerance, this.#subject);
    } catch (error) {
      if (isCancelled(error)) throw error;
      check = forcedOnly(`it failed on this GPU: ${messageOf(error)}`, this.#subject);
    }
    this.#state = check.method === 'one-pass' ? { kind: 'one-pass', access, check } : { kind: 'forced', check };
    const head = check.method === 'one-pass' ? onePass.slice(0, checked.length) : forced;
    const rest = continuations.slice(checked.length);
    const tail = rest.length === 0 ? { logprobs: [], forwardTokens: 0 } : await this.score(promptIds, rest, signal);
    const checkTokens = this.#forcedTokens(promptIds, checked) + (onePass.length > 0 ? onePassTokens(promptIds, [...checked, checked[0] as readonly number[]]) : 0);
    return { logprobs: [...head, ...tail.logprobs], method: check.method === 'one-pass' ? 'one-pass' : 'forced-decode', check, forwardTokens: checkTokens + tail.forwardTokens };
  }

  #onePass(access: PipelineAccess, promptIds: readonly number[], continuations: readonly (readonly number[])[], signal: CancelSignal | undefined): Promise<number[][]> {
    const { engine, call } = this.#decoder;
    return scoreOnePass(access, () => call(() => engine.resetChat()), promptIds, continuations, signal);
  }

  async #forced(promptIds: readonly number[], continuations: readonly (readonly number[])[], signal: CancelSignal | undefined, check: ScoringCheck): Promise<ScoredBy> {
    const logprobs = await scoreForcedDecode(this.#decoder, promptIds, continuations, signal);
    return { logprobs, method: 'forced-decode', check, forwardTokens: this.#forcedTokens(promptIds, continuations) };
  }

  /** Forced decoding feeds the prompt once (once per answer without popping) and each answer but its last token. */
  #forcedTokens(promptIds: readonly number[], continuations: readonly (readonly number[])[]): number {
    const prompts = this.#decoder.popTokens ? 1 : continuations.length;
    return prompts * promptIds.length + continuations.reduce((sum, c) => sum + c.length - 1, 0);
  }
}

/** One pass feeds the prompt but its last token once, then each answer behind that token. */
function onePassTokens(promptIds: readonly number[], continuations: readonly (readonly number[])[]): number {
  return promptIds.length - 1 + continuations.reduce((sum, c) => sum + c.length, 0);
}

function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
