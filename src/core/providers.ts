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
  /** Sample among the k most likely tokens only (Hugging Face `generate`'s default is 50); 0 or absent: no top-k. */
  topK?: number;
  maxTokens?: number;
  seed?: number;
  /** Completions wanted for the same messages (sampled independently). */
  n?: number;
}

/**
 * Hosts whose API has no `top_k` (OpenAI's, Azure OpenAI): requests there go without it. Servers
 * for open models (vLLM, SGLang, llama.cpp, our `serve`) take `top_k` as an extra body field.
 */
const HOSTS_WITHOUT_TOP_K = [/^api\.openai\.com$/u, /\.openai\.azure\.com$/u];

/** Whether an OpenAI-compatible endpoint at `baseUrl` accepts `top_k`. */
export function acceptsTopK(baseUrl: string): boolean {
  const host = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/@]*@)?([^/:?#]+)/iu.exec(baseUrl)?.[1]?.toLowerCase() ?? '';
  return !HOSTS_WITHOUT_TOP_K.some((pattern) => pattern.test(host));
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
