/**
 * Engine specs on the command line and the engines they open:
 * - `local:<model dir or hub id>`: Transformers.js in Node (CPU, or CUDA with --device cuda);
 * - `openai:<baseUrl>#<model>`: an OpenAI-compatible server that returns prompt log-probs
 *   (vLLM's `prompt_logprobs`, or completions `echo` + `logprobs`; `npm run cli -- serve` is one);
 *   the engine refuses a server without them, saying what to use instead;
 * - `webllm:<catalog id>`: refused, see `openEngine`.
 * Also role specs (`--persona-model`, `--judge`): `openai:<baseUrl>#<model>` through the resilient
 * chat provider (retries with backoff, Retry-After, per-endpoint concurrency, usage), or
 * `local:<dir>` over an engine.
 */
import { AppError } from '../../../src/core/errors.ts';
import type { Engine } from '../../../src/core/engine.ts';
import type { ChatProvider } from '../../../src/core/providers.ts';
import type { ProviderStats, WithStats } from '../providers.ts';
import type { Reporter } from '../reporter.ts';

export type EngineSpec =
  | { kind: 'local'; model: string; text: string }
  | { kind: 'openai'; baseUrl: string; model: string; text: string }
  | { kind: 'webllm'; model: string; text: string };

const SPEC_HELP = 'local:<model dir>, openai:<baseUrl>#<model> or webllm:<catalog id>';

export function parseEngineSpec(text: string): EngineSpec {
  const colon = text.indexOf(':');
  const kind = colon === -1 ? '' : text.slice(0, colon);
  const rest = text.slice(colon + 1);
  switch (kind) {
    case 'local':
    case 'webllm':
      if (rest === '') break;
      return { kind, model: rest, text };
    case 'openai': {
      const hash = rest.lastIndexOf('#');
      const baseUrl = hash === -1 ? '' : rest.slice(0, hash);
      const model = hash === -1 ? '' : rest.slice(hash + 1);
      if (!/^https?:\/\//.test(baseUrl) || model === '') {
        throw new AppError('invalid-input', `Engine "${text}": write openai:<baseUrl>#<model>, e.g. openai:http://127.0.0.1:8000/v1#HuggingFaceH4/zephyr-7b-beta.`);
      }
      return { kind, baseUrl, model, text };
    }
  }
  throw new AppError('invalid-input', `Engine "${text}": expected ${SPEC_HELP}.`);
}

export interface EngineOpenOptions {
  device: 'cpu' | 'cuda';
  dtype: 'fp32' | 'fp16' | 'q8' | 'q4';
  /** false: every answer scored from scratch (the naive path the benchmark compares with). */
  promptCache?: boolean;
  /** Name of the environment variable holding an API key for openai: specs. */
  apiKeyEnv?: string;
}

export async function openEngine(spec: EngineSpec, options: EngineOpenOptions, reporter: Reporter): Promise<Engine> {
  switch (spec.kind) {
    // Imported when used: ONNX Runtime and the OpenAI SDK take seconds to load, which commands
    // that only report or refuse should not pay.
    case 'local': {
      const { loadLocalEngine } = await import('../localEngine.ts');
      return loadLocalEngine(spec.model, { device: options.device, dtype: options.dtype, ...(options.promptCache === undefined ? {} : { promptCache: options.promptCache }) }, reporter);
    }
    case 'openai': {
      const { createOpenAiEngine } = await import('../../../src/engines/openai.ts');
      return createOpenAiEngine({ baseUrl: spec.baseUrl, model: spec.model, ...(options.apiKeyEnv ? { apiKeyEnv: options.apiKeyEnv } : {}) });
    }
    case 'webllm':
      // WebLLM runs only in a page with WebGPU; driving the page's worker from Node needs a page
      // that exposes it to Chromium (only the test build's harness does, with Transformers.js),
      // and its forced decoding costs one GPU step per answer token. Refused rather than half-done.
      throw new AppError(
        'unsupported',
        `Engine "${spec.text}": WebLLM scoring from the command line is not available (it needs the page in Chromium with WebGPU). Score the same model with local:<ONNX export folder>, or serve it with vLLM and use openai:<baseUrl>#<model>; the page scores with WebLLM interactively.`,
      );
  }
}

export type ChatRole = ChatProvider & WithStats & { close(): Promise<void> };

/** A chat role (`--persona-model`, `--judge`): an API model, or a local model through its engine. */
export async function openChatRole(
  text: string,
  options: EngineOpenOptions & { concurrency?: number },
  reporter: Reporter,
): Promise<ChatRole> {
  const spec = parseEngineSpec(text);
  const { createLocalChatProvider, createOpenAiChatProvider } = await import('../providers.ts');
  if (spec.kind === 'openai') {
    const provider = createOpenAiChatProvider({
      baseUrl: spec.baseUrl,
      model: spec.model,
      ...(options.apiKeyEnv ? { apiKeyEnv: options.apiKeyEnv } : {}),
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      onRetry: (message) => reporter.warn(message),
    });
    return { ...provider, id: provider.id, chat: provider.chat.bind(provider), stats: provider.stats.bind(provider), close: async () => {} };
  }
  const engine = await openEngine(spec, options, reporter);
  const provider = createLocalChatProvider(engine);
  return { id: provider.id, chat: provider.chat.bind(provider), stats: provider.stats.bind(provider), close: () => engine.dispose() };
}

export function formatStats(id: string, stats: ProviderStats): string {
  const cost = stats.estimatedCostUsd === null ? '' : `, ~$${stats.estimatedCostUsd.toFixed(2)}`;
  return `${id}: ${stats.calls} call(s), ${stats.retries} retr${stats.retries === 1 ? 'y' : 'ies'}, ${stats.failures} failed, ${stats.promptTokens}+${stats.completionTokens} tokens${cost}`;
}
