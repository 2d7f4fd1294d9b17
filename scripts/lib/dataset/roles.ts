/**
 * The five roles of a build (generator, judge, baseline, reward, embedder) made from the config:
 * OpenAI-compatible endpoints through scripts/lib/providers.ts (request cache, retries, Retry-After,
 * per-endpoint concurrency) and local Transformers.js models. Each role is wrapped with its own
 * concurrency limit (p-limit: the configured `concurrency` for an endpoint, 1 for a local model,
 * whose sampler seed is global and whose compute is one process) and its own usage counters
 * (calls made, answered from the cache, failed; tokens; cost from the config's pricing). Local
 * reward and embedding results go through the request cache as well, so a cached re-run recomputes nothing.
 *
 * Relative model paths resolve against the config file's folder, so a config and its models can be
 * moved together. Models load lazily, on a role's first call: a build resumed at the judge stage
 * never loads the baseline model.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import pLimit, { type LimitFunction } from 'p-limit';
import { z } from 'zod';
import type { CancelSignal } from '../../../src/core/cancel.ts';
import { ROLE_NAMES, type BuildConfig, type ChatRoleConfig, type RoleName } from '../../../src/core/dataset/config.ts';
import { AppError } from '../../../src/core/errors.ts';
import { readEnvironment } from '../../../src/engines/openaiClient.ts';
import type { ChatProvider, ChatRequest, ChatResponse, EmbeddingProvider, RewardProvider } from '../../../src/core/providers.ts';
import { loadLocalEngine, locateModel } from '../localEngine.ts';
import {
  createHttpRewardProvider,
  createLocalChatProvider,
  createLocalEmbeddingProvider,
  createLocalRewardProvider,
  createOpenAiChatProvider,
} from '../providers.ts';
import type { Reporter } from '../reporter.ts';
import { openRequestCache, type RequestCache } from '../requestCache.ts';
import { embeddingPipelineOf } from '../sentenceTransformers.ts';
import { UsageCounter } from '../usage.ts';
import type { RoleUsage } from './usageLedger.ts';

export type { RoleUsage } from './usageLedger.ts';

function roleUsage(role: RoleName, provider: string, usage: UsageCounter): RoleUsage {
  const report: RoleUsage = { role, provider, calls: usage.calls, cached: usage.cacheHits, failed: usage.failures, items: usage.items, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens };
  const costUsd = usage.costUsd();
  if (costUsd !== undefined) report.costUsd = costUsd;
  return report;
}

/** A lazily created value, created once even when many callers ask at the same time. */
function lazy<T>(create: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= create());
}

export interface ChatRoleHandle {
  readonly role: RoleName;
  /** Requests in flight at once for this role. */
  readonly concurrency: number;
  /** The provider id, recorded in provenance (known before any call). */
  readonly id: string;
  chat(request: ChatRequest, signal?: CancelSignal): Promise<ChatResponse>;
  usage(): RoleUsage;
}

export interface RewardRoleHandle {
  readonly id: string;
  readonly concurrency: number;
  score(items: readonly { question: string; answer: string }[], signal?: CancelSignal): Promise<number[]>;
  usage(): RoleUsage;
}

export interface EmbedderRoleHandle {
  readonly id: string;
  /** What embedding means here (the folder's sentence-transformers modules, or the default), for the card. */
  readonly pipeline: string;
  readonly concurrency: number;
  embed(texts: readonly string[], signal?: CancelSignal): Promise<number[][]>;
  usage(): RoleUsage;
}

export interface Roles {
  generator: ChatRoleHandle;
  judge: ChatRoleHandle;
  baseline: ChatRoleHandle;
  reward: RewardRoleHandle;
  embedder: EmbedderRoleHandle;
  /** Provider ids per role, for provenance. */
  ids(): Record<RoleName, string>;
  usage(): RoleUsage[];
  close(): Promise<void>;
}

/** What a test or benchmark may substitute for the real providers. */
export interface RoleProviders {
  generator?: ChatProvider;
  judge?: ChatProvider;
  baseline?: ChatProvider;
  reward?: RewardProvider;
  embedder?: EmbeddingProvider;
}

/** A folder relative to the config file when one exists there; otherwise the text as given (a hub id such as "org/name"). */
export function modelPath(model: string, configDir: string): string {
  if (isAbsolute(model)) return model;
  const local = resolve(configDir, model);
  return existsSync(local) || model.startsWith('.') ? local : model;
}

/** What every role handle shares. `onUsage` hears a role's usage each time a call reaches its model (answered or failed). */
interface HandleContext {
  configDir: string;
  cache: RequestCache;
  reporter: Reporter;
  disposers: (() => Promise<void>)[];
  onUsage: (usage: RoleUsage) => void;
}

function chatHandle(role: RoleName, config: ChatRoleConfig, { configDir, cache, reporter, disposers, onUsage }: HandleContext, override?: ChatProvider): ChatRoleHandle {
  const concurrency = config.type === 'openai' ? config.concurrency : 1;
  const limit: LimitFunction = pLimit(concurrency);
  const usage = new UsageCounter(config.type === 'openai' ? config.pricing : undefined);
  const id = override?.id ?? (config.type === 'openai' ? `openai:${config.model}` : `local:${modelPath(config.model, configDir)}`);
  const provider = lazy<ChatProvider>(async () => {
    if (override) return override;
    if (config.type === 'openai') {
      return createOpenAiChatProvider({
        baseUrl: config.baseUrl,
        model: config.model,
        concurrency: config.concurrency,
        ...(config.apiKeyEnv !== undefined && { apiKeyEnv: config.apiKeyEnv }),
        ...(config.maxRetries !== undefined && { maxRetries: config.maxRetries }),
        ...(config.backoffMs !== undefined && { backoffMs: config.backoffMs }),
        ...(config.timeoutMs !== undefined && { timeoutMs: config.timeoutMs }),
        ...(config.maxTokensParameter !== undefined && { maxTokensParameter: config.maxTokensParameter }),
        cache,
        onRetry: (message) => reporter.warn(`${role}: ${message}`),
        onWarning: (message) => reporter.warn(`${role}: ${message}`),
      });
    }
    const engine = await loadLocalEngine(modelPath(config.model, configDir), { device: config.device, dtype: config.dtype }, reporter);
    disposers.push(() => engine.dispose());
    return createLocalChatProvider(engine, { cache });
  });
  return {
    role,
    concurrency,
    id,
    chat: (request, signal) =>
      limit(async () => {
        try {
          const response = await (await provider()).chat(request, signal);
          if (response.cached) usage.cacheHits++;
          else {
            usage.answered(response.usage);
            onUsage(roleUsage(role, id, usage));
          }
          return response;
        } catch (error) {
          usage.failures++;
          onUsage(roleUsage(role, id, usage));
          throw error;
        }
      }),
    usage: () => roleUsage(role, id, usage),
  };
}

const CHAT_ROLES = ['generator', 'judge', 'baseline'] as const satisfies readonly RoleName[];

/**
 * Checks every API key the config names before any work, so a missing one stops the build in one
 * line instead of at its first call. Roles a caller substitutes need none.
 */
export function assertApiKeys(config: BuildConfig, overrides: RoleProviders = {}): void {
  const rolesByVariable = new Map<string, RoleName[]>();
  for (const role of CHAT_ROLES) {
    const provider = config.providers[role];
    if (provider.type !== 'openai' || provider.apiKeyEnv === undefined || overrides[role] || readEnvironment(provider.apiKeyEnv) !== undefined) continue;
    rolesByVariable.set(provider.apiKeyEnv, [...(rolesByVariable.get(provider.apiKeyEnv) ?? []), role]);
  }
  if (rolesByVariable.size === 0) return;
  const named = [...rolesByVariable].map(([variable, roles]) => `${variable} (${roles.join(', ')})`);
  const [variables, verb] = named.length === 1 ? [`variable ${named[0]}`, 'is'] : [`variables ${named.slice(0, -1).join(', ')} and ${named.at(-1)}`, 'are'];
  throw new AppError('invalid-input', `The environment ${variables} ${verb} not set: export the API key there, or drop apiKeyEnv for a server without one. Nothing was called or written.`);
}

/**
 * Checks every local model folder the config names before any work: a missing folder or file is
 * found before the generator and judge are paid for, not when its stage comes.
 */
export function assertLocalModels(config: BuildConfig, configPath: string, overrides: RoleProviders = {}): void {
  const configDir = dirname(resolve(configPath));
  for (const role of ROLE_NAMES) {
    const provider = config.providers[role];
    if (provider.type !== 'local' || overrides[role]) continue;
    locateModel(modelPath(provider.model, configDir), provider.dtype, role === 'reward' || role === 'embedder' ? 'encoder' : 'causal-lm');
  }
}

export function createRoles(
  config: BuildConfig,
  options: { configPath: string; cachePath: string; reporter: Reporter; overrides?: RoleProviders; onUsage?: (usage: RoleUsage) => void },
): Roles {
  const configDir = dirname(resolve(options.configPath));
  const { providers } = config;
  const cache = openRequestCache(options.cachePath);
  const disposers: (() => Promise<void>)[] = [];
  const overrides = options.overrides ?? {};
  const onUsage = options.onUsage ?? (() => {});
  const handles: HandleContext = { configDir, cache, reporter: options.reporter, disposers, onUsage };
  const generator = chatHandle('generator', providers.generator, handles, overrides.generator);
  const judge = chatHandle('judge', providers.judge, handles, overrides.judge);
  const baseline = chatHandle('baseline', providers.baseline, handles, overrides.baseline);

  const rewardConfig = providers.reward;
  const rewardUsage = new UsageCounter(undefined);
  const rewardConcurrency = rewardConfig.type === 'http' ? rewardConfig.concurrency : 1;
  const rewardLimit = pLimit(rewardConcurrency);
  const rewardId = overrides.reward?.id ?? (rewardConfig.type === 'http' ? `reward:${rewardConfig.url}` : `local:${modelPath(rewardConfig.model, configDir)}`);
  const rewardProvider = lazy<RewardProvider>(async () => {
    if (overrides.reward) return overrides.reward;
    if (rewardConfig.type === 'http') {
      return createHttpRewardProvider({ url: rewardConfig.url, concurrency: rewardConfig.concurrency, cache, onRetry: (message) => options.reporter.warn(`reward: ${message}`) });
    }
    const local = await createLocalRewardProvider(modelPath(rewardConfig.model, configDir), { device: rewardConfig.device, dtype: rewardConfig.dtype });
    disposers.push(() => local.dispose());
    return local;
  });
  const rewardCached = rewardConfig.type === 'local' && !overrides.reward;

  const embedderConfig = providers.embedder;
  const embedderUsage = new UsageCounter(undefined);
  const embedderLimit = pLimit(1);
  const embedderId = overrides.embedder?.id ?? `local:${modelPath(embedderConfig.model, configDir)}`;
  const embedderProvider = lazy<EmbeddingProvider>(async () => {
    if (overrides.embedder) return overrides.embedder;
    const local = await createLocalEmbeddingProvider(modelPath(embedderConfig.model, configDir), { device: embedderConfig.device, dtype: embedderConfig.dtype });
    disposers.push(() => local.dispose());
    return local;
  });
  const embedderCached = !overrides.embedder;
  // Read before any call: the card states it, and vectors made by other module steps must not answer from the cache.
  const embedderPipeline = overrides.embedder ? undefined : embeddingPipelineOf(modelPath(embedderConfig.model, configDir));

  /**
   * Local models are cached here too (HTTP providers cache themselves), so a finished build re-run,
   * or a new folder over the same cache, recomputes nothing. The key covers the model and the inputs.
   */
  const counted = async <T>(
    usage: UsageCounter,
    request: { role: 'reward' | 'embedder'; providerId: string; cached: boolean; body: unknown; items: number; parse: (value: unknown) => T | undefined },
    run: () => Promise<T>,
  ): Promise<T> => {
    if (request.cached) {
      const hit = request.parse(cache.get(request.providerId, request.body));
      if (hit !== undefined) {
        usage.cacheHits++;
        return hit;
      }
    }
    try {
      const result = await run();
      usage.answered();
      usage.items += request.items;
      if (request.cached) cache.put(request.providerId, request.body, result);
      onUsage(roleUsage(request.role, request.providerId, usage));
      return result;
    } catch (error) {
      usage.failures++;
      onUsage(roleUsage(request.role, request.providerId, usage));
      throw error;
    }
  };
  /** A cached value read back through `schema`; one that no longer parses counts as absent. */
  const parsedAs =
    <T>(schema: z.ZodType<T>) =>
    (value: unknown): T | undefined => {
      const parsed = schema.safeParse(value);
      return parsed.success ? parsed.data : undefined;
    };

  const reward: RewardRoleHandle = {
    id: rewardId,
    concurrency: rewardConcurrency,
    score: (items, signal) =>
      rewardLimit(() =>
        counted(
          rewardUsage,
          { role: 'reward', providerId: rewardId, cached: rewardCached, body: { kind: 'reward', items: items.map(({ question, answer }) => ({ question, answer })) }, items: items.length, parse: parsedAs(z.array(z.number()).length(items.length)) },
          async () => (await rewardProvider()).score(items, signal),
        ),
      ),
    usage: () => roleUsage('reward', rewardId, rewardUsage),
  };
  const embedder: EmbedderRoleHandle = {
    id: embedderId,
    pipeline: embedderPipeline?.description ?? 'given by the caller',
    concurrency: 1,
    embed: (texts, signal) =>
      embedderLimit(() =>
        counted(
          embedderUsage,
          { role: 'embedder', providerId: embedderId, cached: embedderCached, body: { kind: 'embed', texts, ...(embedderPipeline?.pipeline.source === 'modules.json' && { modules: embedderPipeline.description }) }, items: texts.length, parse: parsedAs(z.array(z.array(z.number())).length(texts.length)) },
          async () => (await embedderProvider()).embed(texts, signal),
        ),
      ),
    usage: () => roleUsage('embedder', embedderId, embedderUsage),
  };

  return {
    generator,
    judge,
    baseline,
    reward,
    embedder,
    ids: () => ({ generator: generator.id, judge: judge.id, baseline: baseline.id, reward: reward.id, embedder: embedder.id }),
    usage: () => [generator.usage(), judge.usage(), baseline.usage(), reward.usage(), embedder.usage()],
    close: async () => {
      for (const dispose of disposers.splice(0)) await dispose();
      cache.close();
    },
  };
}
