/**
 * Roles a dataset build or an evaluation calls out to: a chat model (generator, judge,
 * baseline), a reward model and a sentence embedder. Each is an interface here so the
 * pipeline stays pure; the OpenAI-compatible HTTP client, the local Transformers.js engine and
 * test doubles implement them.
 */
import type { CancelSignal } from './cancel.ts';
import type { ChatMessage } from './chat.ts';

export interface ChatRequest {
  messages: ChatMessage[];
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  seed?: number;
  /** Completions wanted for the same messages (sampled independently). */
  n?: number;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface ChatResponse {
  texts: string[];
  usage: TokenUsage;
  /** Answered from the request cache: no call was made. */
  cached: boolean;
}

export interface ChatProvider {
  /** Stable name recorded in provenance, e.g. "openai:gpt-4-0613" or "local:/models/zephyr". */
  readonly id: string;
  chat(request: ChatRequest, signal?: CancelSignal): Promise<ChatResponse>;
}

export interface RewardProvider {
  readonly id: string;
  /** One scalar reward per (question, answer). */
  score(items: readonly { question: string; answer: string }[], signal?: CancelSignal): Promise<number[]>;
}

export interface EmbeddingProvider {
  readonly id: string;
  /** One vector per text (not necessarily normalised). */
  embed(texts: readonly string[], signal?: CancelSignal): Promise<number[][]>;
}
