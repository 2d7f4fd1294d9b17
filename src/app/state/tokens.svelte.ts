/**
 * The per-token view of one scored pair: each answer's scored tokens with their log-probs,
 * grouped into the text they cover (see lib/tokenSpans.ts), and, when the run also scored the
 * pair without a prefix, how much each token's log-prob moved under the prefix.
 *
 * Text needs the run's model loaded (its tokenizer maps text to tokens); without it the view
 * shows token ids only and says so.
 */
import { toSerializedError } from '../../core/errors.ts';
import { applyPrefix, type PrefixKind, type PrefixSpec } from '../../core/prefixes.ts';
import { scoringTexts } from '../../core/scoringInput.ts';
import { alignAnswerTokens, type TokenSpan } from '../lib/tokenSpans.ts';
import type { PairResult, ScoredAnswerRecord, ScoringRun } from '../storage/records.ts';
import type { ModelController } from './model.svelte.ts';

export interface SpanView extends TokenSpan {
  logprobs: number[];
  /** Per token: log-prob under the prefix minus without it; absent when not comparable. */
  delta?: number[];
}

export interface AnswerView {
  side: 'chosen' | 'rejected';
  spans: SpanView[];
  aligned: boolean;
  score: number;
  tokens: number;
  /** Sum of the deltas, when comparable. */
  totalDelta?: number;
}

export interface TokenTarget {
  runId: string;
  pairId: string;
  kind: PrefixKind;
}

export class TokenViewController {
  readonly #model: ModelController;
  #target = $state<TokenTarget | null>(null);
  #answers = $state.raw<AnswerView[] | null>(null);
  #loading = $state(false);
  #note = $state<string | null>(null);
  #error = $state<string | null>(null);
  /** Bumped on every open/close, so a slow alignment for an older target is dropped. */
  #generation = 0;

  constructor(model: ModelController) {
    this.#model = model;
  }

  get target(): TokenTarget | null {
    return this.#target;
  }
  get answers(): readonly AnswerView[] | null {
    return this.#answers;
  }
  get loading(): boolean {
    return this.#loading;
  }
  get note(): string | null {
    return this.#note;
  }
  get error(): string | null {
    return this.#error;
  }

  close(): void {
    this.#generation++;
    this.#target = null;
    this.#answers = null;
  }

  async open(run: ScoringRun, results: readonly PairResult[], pairId: string, kind: PrefixKind): Promise<void> {
    const generation = ++this.#generation;
    this.#target = { runId: run.id, pairId, kind };
    this.#answers = null;
    this.#note = null;
    this.#error = null;
    const pair = run.pairs.find((candidate) => candidate.id === pairId);
    const result = results.find((candidate) => candidate.pairId === pairId && candidate.kind === kind);
    const prefix = run.prefixes.find((candidate) => candidate.kind === kind);
    if (!pair || !result || !prefix) return;
    if (!result.ok) {
      this.#error = `This pair failed to score: ${result.error.message}`;
      return;
    }
    const base = kind === 'none' ? undefined : results.find((candidate) => candidate.pairId === pairId && candidate.kind === 'none');
    const baseline = base?.ok ? base : undefined;
    if (kind !== 'none' && !baseline) this.#note = 'Score with "None" too to see how each token moves under the prefix.';
    const engine = this.#model.engine;
    const sameModel = engine !== null && this.#model.stamp?.id === run.model.id;
    this.#loading = true;
    try {
      const answers: AnswerView[] = [];
      for (const side of ['chosen', 'rejected'] as const) {
        const scored = result[side];
        const reference = baseline?.[side];
        let spans: TokenSpan[];
        let aligned = false;
        if (sameModel && engine) {
          const { templateFromInfo } = await import('../../core/chatTemplate.ts');
          const template = templateFromInfo(engine.info.chatTemplate);
          const texts = scoringTexts(applyPrefix(prefix.spec as PrefixSpec, pair.prompt), pair[side], run.convention, template);
          const alignment = await alignAnswerTokens((text) => engine.tokenize(text), texts.prompt, texts.answer, scored.ids, engine.info.eosTokenId);
          spans = alignment.spans;
          aligned = alignment.aligned;
        } else {
          spans = scored.ids.map((id, i) => ({ text: '', ids: [id], start: i }));
        }
        answers.push(toAnswerView(side, spans, aligned, scored, reference));
      }
      if (this.#generation !== generation) return;
      if (!sameModel) this.#note = `Token ids only: load ${run.model.label} to see the text each token covers.${this.#note ? ` ${this.#note}` : ''}`;
      else if (answers.some((answer) => !answer.aligned)) this.#note = 'The tokens could not be matched to the text here, so token ids are shown.';
      this.#answers = answers;
    } catch (error) {
      if (this.#generation === generation) this.#error = toSerializedError(error).message;
    } finally {
      if (this.#generation === generation) this.#loading = false;
    }
  }
}

function toAnswerView(side: 'chosen' | 'rejected', spans: TokenSpan[], aligned: boolean, scored: ScoredAnswerRecord, reference: ScoredAnswerRecord | undefined): AnswerView {
  const comparable = reference !== undefined && reference.ids.length === scored.ids.length && reference.ids.every((id, i) => scored.ids[i] === id);
  const views = spans.map((span): SpanView => {
    const logprobs = scored.logprobs.slice(span.start, span.start + span.ids.length);
    if (!comparable || !reference) return { ...span, logprobs };
    const before = reference.logprobs.slice(span.start, span.start + span.ids.length);
    return { ...span, logprobs, delta: logprobs.map((value, i) => value - (before[i] ?? value)) };
  });
  const totalDelta = comparable && reference ? scored.logprobs.reduce((total, value, i) => total + value - (reference.logprobs[i] ?? value), 0) : undefined;
  return { side, spans: views, aligned, score: scored.score, tokens: scored.ids.length, ...(totalDelta !== undefined && { totalDelta }) };
}
