/**
 * Engine specs on the command line and the engines they open:
 * - `local:<model dir or hub id>`: Transformers.js in Node (CPU, or CUDA with --device cuda);
 * - `openai:<baseUrl>#<model>`: an OpenAI-compatible server that returns prompt log-probs
 *   (vLLM's `prompt_logprobs`, or completions `echo` + `logprobs`; `npm run cli -- serve` is one);
 *   the engine refuses a server without them, saying what to use instead;
 * - `webllm:<catalog id>`: a WebLLM entry of public/models.json, in headless Chromium through the
 *   page's own worker (browserEngine.ts; opt-in, needs a GPU that Chromium exposes as WebGPU and
 *   `npm run build` output in dist/); forced decoding costs one GPU step per answer token;
 * - `browser:<catalog id>[@wasm|@webgpu]`: any catalog entry the same way (Transformers.js entries
 *   on WASM or WebGPU, default WebGPU when the browser has it), e.g. to check the page against Node.
 * Also role specs (`--persona-model`, `--judge`): `openai:<baseUrl>#<model>` through the resilient
 * chat provider (retries with backoff, Retry-After, per-endpoint concurrency, usage), or
 * `local:<dir>` over an engine.
 */
import { resolve } from 'node:path';
import { AppError } from '../../../src/core/errors.ts';
import type { Engine } from '../../../src/core/engine.ts';
import type { ChatProvider } from '../../../src/core/providers.ts';
import type { ProviderStats, WithStats } from '../providers.ts';
import type { Reporter } from '../reporter.ts';
import type { BrowserDevice } from './browserEngine.ts';

export type CliEngineSpec =
  | { kind: 'local'; model: string; text: string }
  | { kind: 'openai'; baseUrl: string; model: string; text: string }
  | { kind: 'webllm'; model: string; text: string }
  | { kind: 'browser'; model: string; device: BrowserDevice; text: string };

const SPEC_HELP = 'local:<model dir>, openai:<baseUrl>#<model>, webllm:<catalog id> or browser:<catalog id>[@wasm|@webgpu]';

export function parseEngineSpec(text: string): CliEngineSpec {
  const colon = text.indexOf(':');
  const kind = colon === -1 ? '' : text.slice(0, colon);
  const rest = text.slice(colon + 1);
  switch (kind) {
    case 'local':
    case 'webllm':
      if (rest === '') break;
      return { kind, model: rest, text };
    case 'browser': {
      const at = rest.lastIndexOf('@');
      const model = at === -1 ? rest : rest.slice(0, at);
      const device = at === -1 ? 'auto' : rest.slice(at + 1);
      if (model === '' || (device !== 'auto' && device !== 'wasm' && device !== 'webgpu')) {
        throw new AppError('invalid-input', `Engine "${text}": write browser:<catalog id>[@wasm|@webgpu], e.g. browser:tiny-llama-random@wasm.`);
      }
      return { kind, model, device, text };
    }
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

export async function openEngine(spec: CliEngineSpec, options: EngineOpenOptions, reporter: Reporter): Promise<Engine> {
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
    case 'browser':
      return openBrowserEngine(spec, reporter);
  }
}

/**
 * WebLLM exists only in a page with WebGPU, so these specs run the page's own worker in headless
 * Chromium. WebLLM entries keep a browser profile under .cache/ (on a fixed port, since the
 * browser caches per origin) so the weights download once. Environment: BROWSER_ENGINE_DIST, a
 * build other than dist/ (tests build into a temporary folder); BROWSER_ENGINE_CHROMIUM_ARGS, extra
 * Chromium flags (e.g. `--use-angle=vulkan` for a Linux GPU).
 */
async function openBrowserEngine(spec: Extract<CliEngineSpec, { kind: 'webllm' | 'browser' }>, reporter: Reporter): Promise<Engine> {
  const { createBrowserEngine } = await import('./browserEngine.ts');
  const webllm = spec.kind === 'webllm';
  let lastStage = '';
  return createBrowserEngine(
    {
      catalogId: spec.model,
      device: spec.kind === 'browser' ? spec.device : 'webgpu',
      ...(process.env.BROWSER_ENGINE_DIST ? { distDir: resolve(process.env.BROWSER_ENGINE_DIST) } : {}),
      ...(webllm ? { profileDir: resolve('.cache/browser-engine-profile'), port: WEBLLM_PORT } : {}),
      chromiumArgs: process.env.BROWSER_ENGINE_CHROMIUM_ARGS?.split(/\s+/).filter(Boolean) ?? [],
      onExternalRequest: (url, blocked) => {
        if (blocked) reporter.warn(`Blocked a request off 127.0.0.1: ${url}`);
      },
    },
    (progress) => {
      if (progress.stage === lastStage) return;
      lastStage = progress.stage;
      reporter.info(`${spec.text}: ${progress.text}`);
    },
  );
}

/** The port WebLLM runs are served on: the browser profile's cached weights belong to this origin. */
const WEBLLM_PORT = 4187;

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
