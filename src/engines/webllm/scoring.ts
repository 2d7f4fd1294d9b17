/**
 * Chooses how WebLLM scores on this machine, and keeps to it.
 *
 * The reference is forced decoding through WebLLM's public surface alone (one prompt prefill per
 * answer). Where WebLLM's internals allow it (pipelineInternals.ts) a faster path exists: one pass
 * (`batch_prefill`), or else forced decoding with the prompt prefilled once (`kv_state_popn`).
 * The first scoring request after a load scores its first pair both ways and compares them
 * (scoringCheck.ts); the fast path is used from then on only if they agree. A fast-path failure
 * later switches to the reference for good, saying why. Every result carries the check, so the
 * page shows it and runs store it.
 */
import { isCancelled, type CancelSignal } from '../../core/cancel.ts';
import { compareLogprobs } from '../../core/logits.ts';
import type { ScoringCheck } from '../../core/engine.ts';
import { scoreForcedDecode, type ForcedDecoder } from './forcedDecode.ts';
import { scoreOnePass } from './onePass.ts';
import type { PipelineAccess, PipelineProbe } from './pipelineInternals.ts';
import { judgeFastPath, referenceOnly, type Tolerance } from './scoringCheck.ts';

export type WebLlmScoringMethod = 'one-pass' | 'forced-decode-prompt-once' | 'forced-decode';

type Continuations = readonly (readonly number[])[];

/** One way of scoring: what it is called, how it runs, and how many tokens it feeds. */
interface ScoringPath {
  method: WebLlmScoringMethod;
  /** For messages: "One-pass scoring". */
  label: string;
  score(promptIds: readonly number[], continuations: Continuations, signal: CancelSignal | undefined): Promise<number[][]>;
  forwardTokens(promptIds: readonly number[], continuations: Continuations): number;
}

type ScorerState = { kind: 'unchecked'; fast: ScoringPath; unavailable: string | undefined } | { kind: 'chosen'; path: ScoringPath; check: ScoringCheck };

export interface ScoredBy {
  logprobs: number[][];
  method: WebLlmScoringMethod;
  check: ScoringCheck;
  /** Token positions run through the model (the check's extra work included). */
  forwardTokens: number;
}

/** Both paths timed on the same request, interleaved (reference, fast, reference, fast, …). */
export interface ScoringComparison {
  fastMethod: WebLlmScoringMethod;
  /** Milliseconds per round, each path once. */
  rounds: { referenceMs: number; fastMs: number }[];
  /** Median over rounds of reference time / fast time. */
  medianSpeedup: number;
  maxAbsDiff: number;
  meanAbsDiff: number;
  tokens: number;
}

/** How many answers of the first request take part in the check (one preference pair). */
const CHECKED_CONTINUATIONS = 2;

const answerTokens = (continuations: Continuations, less = 0) => continuations.reduce((sum, c) => sum + c.length - less, 0);

export class WebLlmScorer {
  #state: ScorerState;
  readonly #reference: ScoringPath;
  readonly #tolerance: Tolerance;
  readonly #subject: string;

  constructor(decoder: Omit<ForcedDecoder, 'popTokens'>, probe: PipelineProbe, tolerance: Tolerance, subject: string) {
    this.#tolerance = tolerance;
    this.#subject = subject;
    this.#reference = {
      method: 'forced-decode',
      label: 'Forced decoding',
      score: (promptIds, continuations, signal) => scoreForcedDecode(decoder, promptIds, continuations, signal),
      // The prompt once per answer, then each answer but its last token.
      forwardTokens: (promptIds, continuations) => continuations.length * promptIds.length + answerTokens(continuations, 1),
    };
    if (!probe.ok) {
      this.#state = { kind: 'chosen', path: this.#reference, check: referenceOnly(`One-pass scoring is unavailable (${probe.reason})`, subject) };
      return;
    }
    const { access } = probe;
    const unavailable = access.onePassUnavailable;
    this.#state = { kind: 'unchecked', fast: unavailable === undefined ? onePassPath(decoder, access) : promptOncePath(decoder, access), unavailable };
  }

  /** What `EngineInfo.scoringMethod` reports before the first score. */
  get plannedMethod(): string {
    const state = this.#state;
    return state.kind === 'unchecked' ? `${state.fast.method} (checked against forced decoding at the first score)` : state.path.method;
  }

  async score(promptIds: readonly number[], continuations: Continuations, signal?: CancelSignal): Promise<ScoredBy> {
    const state = this.#state;
    if (state.kind === 'unchecked') return this.#checkThenScore(state.fast, state.unavailable, promptIds, continuations, signal);
    try {
      return await this.#run(state.path, state.check, promptIds, continuations, signal);
    } catch (error) {
      if (isCancelled(error) || state.path === this.#reference) throw error;
      const check = referenceOnly(`${state.path.label} failed on this GPU after passing its check: ${messageOf(error)}`, this.#subject);
      this.#state = { kind: 'chosen', path: this.#reference, check };
      return this.#run(this.#reference, check, promptIds, continuations, signal);
    }
  }

  /** The reference path regardless of the check (the load's warm-up step). */
  forced(promptIds: readonly number[], continuations: Continuations, signal?: CancelSignal): Promise<number[][]> {
    return this.#reference.score(promptIds, continuations, signal);
  }

  /**
   * Times the reference and the fast path on the same request, interleaved round by round so a
   * busy machine slows both alike, and compares their log-probs. For `npm run smoke:webllm` and
   * the benchmark; undefined when no fast path exists here.
   */
  async compare(promptIds: readonly number[], continuations: Continuations, rounds: number): Promise<ScoringComparison | undefined> {
    const state = this.#state;
    const fast = state.kind === 'unchecked' ? state.fast : state.path === this.#reference ? undefined : state.path;
    if (!fast) return undefined;
    const timings: { referenceMs: number; fastMs: number }[] = [];
    let difference = compareLogprobs([], []);
    for (let round = 0; round < rounds; round++) {
      const referenceStart = performance.now();
      const expected = await this.#reference.score(promptIds, continuations, undefined);
      const fastStart = performance.now();
      const actual = await fast.score(promptIds, continuations, undefined);
      timings.push({ referenceMs: fastStart - referenceStart, fastMs: performance.now() - fastStart });
      difference = compareLogprobs(expected, actual);
    }
    const ratios = timings.map((t) => t.referenceMs / t.fastMs).sort((a, b) => a - b);
    return { fastMethod: fast.method, rounds: timings, medianSpeedup: median(ratios), ...difference };
  }

  async #checkThenScore(fast: ScoringPath, unavailable: string | undefined, promptIds: readonly number[], continuations: Continuations, signal: CancelSignal | undefined): Promise<ScoredBy> {
    const checked = continuations.slice(0, CHECKED_CONTINUATIONS);
    const repeated = [...checked, checked[0] as readonly number[]];
    const expected = await this.#reference.score(promptIds, checked, signal);
    let fastResult: number[][] = [];
    let check: ScoringCheck;
    try {
      fastResult = await fast.score(promptIds, repeated, signal);
      check = judgeFastPath({ method: fast.method, label: fast.label, unavailable }, expected, fastResult, this.#tolerance, this.#subject);
    } catch (error) {
      if (isCancelled(error)) throw error;
      check = referenceOnly(`${fast.label} failed on this GPU: ${messageOf(error)}`, this.#subject);
    }
    const path = check.method === fast.method ? fast : this.#reference;
    this.#state = { kind: 'chosen', path, check };
    const head = path === fast ? fastResult.slice(0, checked.length) : expected;
    const rest = continuations.slice(checked.length);
    const tail = rest.length === 0 ? { logprobs: [], forwardTokens: 0 } : await this.#run(path, check, promptIds, rest, signal);
    const checkTokens = this.#reference.forwardTokens(promptIds, checked) + (fastResult.length > 0 ? fast.forwardTokens(promptIds, repeated) : 0);
    return { logprobs: [...head, ...tail.logprobs], method: path.method, check, forwardTokens: checkTokens + tail.forwardTokens };
  }

  async #run(path: ScoringPath, check: ScoringCheck, promptIds: readonly number[], continuations: Continuations, signal: CancelSignal | undefined): Promise<ScoredBy> {
    const logprobs = await path.score(promptIds, continuations, signal);
    return { logprobs, method: path.method, check, forwardTokens: path.forwardTokens(promptIds, continuations) };
  }
}

function onePassPath(decoder: Omit<ForcedDecoder, 'popTokens'>, access: PipelineAccess): ScoringPath {
  const resetChat = () => decoder.call(() => decoder.engine.resetChat());
  return {
    method: 'one-pass',
    label: 'One-pass scoring',
    score: (promptIds, continuations, signal) => scoreOnePass(access, resetChat, promptIds, continuations, signal),
    // The prompt but its last token once, then each answer behind that token.
    forwardTokens: (promptIds, continuations) => promptIds.length - 1 + answerTokens(continuations),
  };
}

function promptOncePath(decoder: Omit<ForcedDecoder, 'popTokens'>, access: PipelineAccess): ScoringPath {
  const withPop: ForcedDecoder = { ...decoder, popTokens: (count) => access.popTokens(count) };
  return {
    method: 'forced-decode-prompt-once',
    label: 'Forced decoding with the prompt prefilled once',
    score: (promptIds, continuations, signal) => scoreForcedDecode(withPop, promptIds, continuations, signal),
    forwardTokens: (promptIds, continuations) => promptIds.length + answerTokens(continuations, 1),
  };
}

function median(sorted: readonly number[]): number {
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
