/**
 * Chat roles of an evaluation (`--persona-model`, `--judge`) from engine specs:
 * `openai:<baseUrl>#<model>` through the resilient chat provider (retries with backoff,
 * Retry-After, per-endpoint concurrency, usage), any other kind as a local chat over its engine.
 */
import type { ChatProvider } from '../../../src/core/providers.ts';
import type { ProviderStats, WithStats } from '../providers.ts';
import type { Reporter } from '../reporter.ts';
import { openEngine, parseEngineSpec, type EngineOpenOptions } from './engines/registry.ts';

export type ChatRoleProvider = ChatProvider & WithStats & { close(): Promise<void> };

/** A chat role (`--persona-model`, `--judge`): an API model, or a local model through its engine. */
export async function openChatRole(
  text: string,
  options: EngineOpenOptions & { concurrency?: number },
  reporter: Reporter,
): Promise<ChatRoleProvider> {
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
