/**
 * The Engine contract every backend implements (Transformers.js, WebLLM, OpenAI-compatible
 * HTTP) and the worker client too, so callers never know which one, or whether a worker, is
 * behind it. Small required surface: generate, score, tokenize, info, dispose.
 *
 * `score` takes token ids, not strings: tokenization, the boundary rule and truncation live in
 * the core (`scoringInput.ts`), so every engine scores exactly the same tokens.
 */
import { z } from 'zod';
import type { CancelSignal } from './cancel.ts';
import type { ChatMessage } from './chat.ts';
import { assertFitsContext } from './errors.ts';

export const EngineBackend = z.enum(['transformers', 'webllm', 'openai']);
export type EngineBackend = z.infer<typeof EngineBackend>;

export const ChatTemplateInfo = z.object({
  name: z.string(),
  /** Jinja source; absent for the built-in Zephyr template. */
  source: z.string().optional(),
  bosToken: z.string().optional(),
  eosToken: z.string().optional(),
});
export type ChatTemplateInfo = z.infer<typeof ChatTemplateInfo>;

export const EngineInfo = z.object({
  backend: EngineBackend,
  model: z.string(),
  device: z.string(),
  dtype: z.string().optional(),
  contextWindow: z.number().int().positive(),
  bosTokenId: z.number().int(),
  eosTokenId: z.number().int(),
  /** The chat template the engine applies to messages: Zephyr's, or the model's own Jinja source. */
  chatTemplate: ChatTemplateInfo,
  /** How `score` computes log-probs, reported with results (e.g. "one-pass", "forced-decode"). */
  scoringMethod: z.string(),
});
export type EngineInfo = z.infer<typeof EngineInfo>;

export const LoadStage = z.enum(['fetch', 'compile', 'init', 'warmup', 'ready']);
export type LoadStage = z.infer<typeof LoadStage>;

/** One progress type onto which every backend's load reports map. */
export const LoadProgress = z.object({
  stage: LoadStage,
  /** 0..1 when known. */
  fraction: z.number().min(0).max(1).optional(),
  loadedBytes: z.number().nonnegative().optional(),
  totalBytes: z.number().nonnegative().optional(),
  file: z.string().optional(),
  text: z.string(),
});
export type LoadProgress = z.infer<typeof LoadProgress>;

export const GenerateOptions = z.object({
  maxNewTokens: z.number().int().positive().default(256),
  /** 0 means greedy decoding. */
  temperature: z.number().min(0).default(1),
  topK: z.number().int().nonnegative().default(0),
  topP: z.number().gt(0).max(1).default(1),
  seed: z.number().int().optional(),
});
export type GenerateOptions = z.infer<typeof GenerateOptions>;
export type GenerateOptionsInput = z.input<typeof GenerateOptions>;

export const FinishReason = z.enum(['eos', 'length', 'aborted']);
export type FinishReason = z.infer<typeof FinishReason>;

export const GenerateResult = z.object({
  text: z.string(),
  tokenIds: z.array(z.number().int()),
  promptTokenCount: z.number().int().nonnegative(),
  finishReason: FinishReason,
  /** The exact prompt string the model saw, chat template applied. */
  prompt: z.string(),
});
export type GenerateResult = z.infer<typeof GenerateResult>;

export const ScoreRequest = z.object({
  /** Conditioning tokens shared by all continuations (BOS included): computed once. */
  promptIds: z.array(z.number().int()).min(1),
  continuations: z.array(z.array(z.number().int()).min(1)).min(1),
});
export type ScoreRequest = z.infer<typeof ScoreRequest>;

/** Checked before any work: the prompt plus the longest continuation must fit the model's context (its window of tokens). */
export function assertScoreFits(request: ScoreRequest, model: string, contextWindow: number): void {
  const longest = Math.max(...request.continuations.map((c) => c.length));
  assertFitsContext('The prompt plus the longest answer', request.promptIds.length + longest, model, contextWindow);
}

/**
 * How an engine proved its fast scoring path on this machine: the fast path's per-token log-probs
 * against the reference path's on one real pair (WebLLM: one pass against forced decoding), and
 * the method chosen from that. Reported with scores, stored with runs and written in exports.
 */
export const ScoringCheck = z.object({
  /** The method used after the check (e.g. "one-pass", "forced-decode"). */
  method: z.string(),
  /** Largest |fast − reference| over the compared tokens; null when no comparison ran. */
  maxAbsDiff: z.number().nonnegative().nullable(),
  meanAbsDiff: z.number().nonnegative().nullable(),
  /** The fast path scoring the same answer twice (a stale KV cache shows here); null when not run. */
  repeatMaxAbsDiff: z.number().nonnegative().nullable(),
  tokens: z.number().int().nonnegative(),
  /** The agreement required, for the build's precision. */
  tolerance: z.object({ precision: z.string(), maxAbsDiff: z.number(), meanAbsDiff: z.number() }).optional(),
  /** Why this method, in words a user can read. */
  reason: z.string(),
  /** What was checked: model, model library and engine version (a change means checking again). */
  subject: z.string(),
});
export type ScoringCheck = z.infer<typeof ScoringCheck>;

export const ScoreResult = z.object({
  /** Per continuation, per token: log p(token | prompt, earlier continuation tokens), teacher-forced. */
  logprobs: z.array(z.array(z.number())),
  method: z.string(),
  /** Token positions run through the model for this request (cost accounting), when the engine knows. */
  forwardTokens: z.number().int().nonnegative().optional(),
  /** The run-time check behind `method`, from engines that choose their method on the user's hardware. */
  check: ScoringCheck.optional(),
});
export type ScoreResult = z.infer<typeof ScoreResult>;

/** A scored position with its competitors: what vLLM reports per prompt position. */
export const RankedLogprob = z.object({
  /** log p(token | context), as `score` gives it. */
  logprob: z.number(),
  /** How many vocabulary tokens are at least as likely as this one (1 = the most likely), as vLLM counts. */
  rank: z.number().int().positive(),
  /** The most likely tokens at this position, most likely first. */
  top: z.array(z.object({ tokenId: z.number().int().nonnegative(), logprob: z.number() })),
});
export type RankedLogprob = z.infer<typeof RankedLogprob>;

/**
 * Streamed text as it is decoded, with the number of tokens generated so far when the engine
 * counts them (the page's live tokens/s); deltas need not be one token each.
 */
export type TokenListener = (text: string, tokensSoFar?: number) => void;

/**
 * One loaded model. Errors are AppErrors whose code says what happened (src/core/errors.ts);
 * each backend adds its own (an unreachable server, a lost graphics device, `worker-crashed` behind
 * the worker client).
 *
 * Cancellation: methods that take a `signal` check it before any work and reject with AppError
 * `aborted` when it is already aborted. During the work an abort stops it at the next step the
 * backend can interrupt (a generated token, a forward pass, an HTTP request); `generate` then
 * resolves with what it has, `score` rejects with `aborted`. Behind the worker client, a newer
 * `generate` supersedes a pending one (which rejects with `aborted`) unless it queues.
 */
export interface Engine {
  /** What was loaded: backend, model, device, context length, special tokens, chat template, scoring method. Fixed for the engine's life. */
  readonly info: EngineInfo;
  /**
   * Renders `messages` with `info.chatTemplate` (generation prompt added) and samples a reply.
   * `onToken` receives the reply's text in pieces as they are decoded. Resolves with the reply's
   * text and token ids, the prompt's token count, the exact prompt string, and why it stopped:
   * `eos`, `length` (maxNewTokens or `info.contextWindow`) or `aborted` (the signal fired
   * mid-generation; `text` holds what was generated until then). A `seed` makes sampling
   * repeatable where the backend supports it (temperature 0 is greedy).
   * @throws AppError `aborted` when the signal is aborted before generation starts;
   *   `context-exceeded` when the prompt does not fit `info.contextWindow`.
   */
  generate(
    messages: readonly ChatMessage[],
    options: GenerateOptionsInput,
    onToken?: TokenListener,
    signal?: CancelSignal,
  ): Promise<GenerateResult>;
  /**
   * Teacher-forced log-probabilities of each continuation given the shared prompt: for each
   * continuation, one log p(token | prompt, earlier tokens of that continuation) per token, in
   * order, never sampled. The prompt is computed once where the backend allows. Resolves with
   * `logprobs` (one array per continuation, each as long as it), `method` (how they were
   * computed, as `info.scoringMethod`) and, when the engine counts them, `forwardTokens`.
   * @throws AppError `context-exceeded` before any work when the prompt plus the longest
   *   continuation exceed `info.contextWindow` (see `assertScoreFits`); `aborted` when the signal
   *   fires, before or during the work (no partial result); `unsupported` when the backend cannot
   *   score (e.g. a server without prompt log-probs).
   */
  score(request: ScoreRequest, signal?: CancelSignal): Promise<ScoreResult>;
  /**
   * Optional: continue raw token ids (BOS included, no chat template), as a completions API
   * does. Engines that only take chat messages leave it out. Resolves and fails as `generate`,
   * with `prompt` the decoded prompt ids.
   */
  generateFromIds?(
    promptIds: readonly number[],
    options: GenerateOptionsInput,
    onToken?: TokenListener,
    signal?: CancelSignal,
  ): Promise<GenerateResult>;
  /**
   * Optional: `score` plus each scored token's rank in the vocabulary and the `topK` most likely
   * tokens at its position (what a completions server needs for vLLM's prompt log-probs).
   */
  scoreRanked?(request: ScoreRequest, topK: number, signal?: CancelSignal): Promise<RankedLogprob[][]>;
  /**
   * Token ids of `text` with no special tokens added (no BOS): the core adds them where a prompt
   * needs them. Not cancellable: it is quick on every backend.
   * @throws AppError `unsupported` when the backend cannot tokenize (a server without `/tokenize`).
   */
  tokenize(text: string): Promise<number[]>;
  /**
   * Frees the model (device memory, ONNX sessions, the worker) and resolves once it is freed. Cancel
   * pending work first: the worker client and the OpenAI-compatible engine stop it themselves (a
   * running generation ends as a cancelled one, other calls reject), other backends may fail it
   * with a backend error. The engine is not used afterwards; calls that still arrive reject
   * (WebLLM: `not-loaded`, the worker client: `aborted`).
   */
  dispose(): Promise<void>;
}

export type ProgressListener = (progress: LoadProgress) => void;
