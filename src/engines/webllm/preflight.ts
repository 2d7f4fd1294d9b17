/**
 * Checks made before anything is downloaded: a WebGPU adapter, shader-f16 for f16 builds, and
 * enough browser storage for the weights. Each failure is an AppError saying what to do.
 */
import type { AppConfig } from '@mlc-ai/web-llm';
import type { WebLlmCatalogEntry } from '../../core/catalog.ts';
import { AppError } from '../../core/errors.ts';
import { classifyWebLlmError } from './errors.ts';
import type { GpuProbe, WebLlmDeps } from './options.ts';

const MB = 1024 * 1024;
/** Library, config and tokenizer files on top of the weights, for the quota check. */
const OVERHEAD_MB = 64;

export async function preflightGpu(entry: WebLlmCatalogEntry, gpu: GpuProbe | undefined): Promise<void> {
  // WebLLM only notices a missing GPU after downloading the config and the library; checking
  // first saves that download and gives a clearer message.
  const adapter = await gpu?.requestAdapter().catch(() => null);
  if (!adapter) {
    throw classifyWebLlmError(new Error('Unable to find a compatible GPU (navigator.gpu.requestAdapter() returned nothing).'), { model: entry.label });
  }
  // WebLLM checks `required_features` only, and several prebuilt f16 records omit it, so the
  // quantization decides too.
  const needsF16 = entry.requiredFeatures.includes('shader-f16') || /f16/.test(entry.quantization);
  if (needsF16 && !adapter.features.has('shader-f16')) {
    const error = new Error('This model requires WebGPU extension shader-f16, which is not enabled in this browser.');
    error.name = 'ShaderF16SupportError';
    throw classifyWebLlmError(error, { model: entry.label });
  }
}

export async function checkStorageQuota(entry: WebLlmCatalogEntry, appConfig: AppConfig, deps: WebLlmDeps): Promise<void> {
  if (!deps.storage) return;
  const cached = await deps.cache.hasModelInCache(entry.modelId, appConfig).catch(() => false);
  if (cached) return;
  const estimate = await deps.storage.estimate().catch(() => undefined);
  if (estimate?.quota === undefined) return;
  const availableMB = Math.max(0, (estimate.quota - (estimate.usage ?? 0)) / MB);
  const neededMB = entry.sizes.downloadMB + OVERHEAD_MB;
  if (neededMB > availableMB) {
    throw new AppError(
      'quota-exceeded',
      `${entry.label} needs about ${Math.ceil(neededMB)} MB of browser storage, but only ${Math.floor(availableMB)} MB is available (quota ${Math.floor(estimate.quota / MB)} MB, ${Math.ceil((estimate.usage ?? 0) / MB)} MB used): delete cached models you no longer need, leave private/incognito mode (it has a much smaller quota), or choose a smaller model.`,
    );
  }
  // Persistent storage makes eviction of a 4 GB download under storage pressure less likely.
  await deps.storage.persist?.().catch(() => false);
}
