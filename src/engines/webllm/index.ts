/**
 * WebLLM engine (browser only, WebGPU), hosted inside our own worker: an in-thread `MLCEngine`
 * from @mlc-ai/web-llm 0.2.86. The worker imports this entry; the folder splits the adapter by
 * responsibility:
 * - options.ts: options (zod) and the seams (WebLLM's engine surface, cache helpers, probes)
 * - appConfig.ts: the catalog entry and the AppConfig WebLLM loads it with
 * - preflight.ts: WebGPU, shader-f16 and storage checks before anything downloads
 * - progress.ts / errors.ts: WebLLM's progress and errors mapped to ours
 * - modelFiles.ts / prompt.ts: mlc-chat-config.json, the tokenizer, WebLLM's prompt rendering
 * - teacherForcing.ts / forcedDecode.ts: forced decoding through a LogitProcessor
 * - pipelineInternals.ts / onePass.ts: one-pass scoring (the only place touching WebLLM internals)
 * - scoringCheck.ts / scoring.ts: the run-time check that chooses between them on this GPU
 * - engine.ts: the loaded model as an Engine; cache.ts: the worker protocol's cache calls
 *
 * Failures handled here: a failed load unloads the engine so the GPU memory is freed and the
 * worker can load another model; every error is mapped by `classifyWebLlmError`.
 */
import { needsUrls, weightsBaseUrl } from '../../core/catalog.ts';
import type { ProgressListener } from '../../core/engine.ts';
import { buildAppConfig, defaultBaseUrl, missingUrlsError, resolveEntry } from './appConfig.ts';
import { browserDeps } from './browserDeps.ts';
import { callMappingErrors, classifyWebLlmError, type ErrorContext } from './errors.ts';
import { LoadedWebLlmEngine, type WebLlmEngine } from './engine.ts';
import { mapInitProgress } from './progress.ts';
import { loadModelFiles } from './modelFiles.ts';
import { parseOptions, type WebLlmDeps, type WebLlmEngineOptions, type WebLlmEngineSurface } from './options.ts';
import { probePipeline } from './pipelineInternals.ts';
import { checkStorageQuota, preflightGpu } from './preflight.ts';
import { WebLlmScorer } from './scoring.ts';
import { toleranceFor } from './scoringCheck.ts';
import { TeacherForcingProcessor } from './teacherForcing.ts';

export { buildAppConfig } from './appConfig.ts';
export { cacheStatus, deleteCache, deleteCachedModel, isModelCached } from './cache.ts';
export type { WebLlmEngine } from './engine.ts';
export { classifyWebLlmError } from './errors.ts';
export type * from './options.ts';
export { WebLlmEngineOptions } from './options.ts';
export { mapInitProgress } from './progress.ts';
export { renderWebLlmPrompt, type ConvTemplate } from './prompt.ts';
export type { ScoringComparison, WebLlmScoringMethod } from './scoring.ts';

/** Loads the entry's model into a fresh in-thread MLCEngine and returns it as an Engine. */
export async function createWebLlmEngine(input: WebLlmEngineOptions, onProgress: ProgressListener = () => {}, depsOverride: Partial<WebLlmDeps> = {}): Promise<WebLlmEngine> {
  const options = parseOptions(input);
  const deps: WebLlmDeps = { ...browserDeps(options.cacheBackend), ...depsOverride };
  const baseUrl = options.baseUrl ?? defaultBaseUrl();
  const entry = await resolveEntry(options, deps, baseUrl);
  const context: ErrorContext = { model: entry.label, vramMB: entry.vramMB };
  if (needsUrls(entry)) throw missingUrlsError(entry);
  const appConfig = buildAppConfig(entry, { cacheBackend: options.cacheBackend, ...(baseUrl ? { baseUrl } : {}) });

  await preflightGpu(entry, deps.gpu);
  if (options.checkStorageQuota) await checkStorageQuota(entry, appConfig, deps);

  const processor = new TeacherForcingProcessor();
  let engine: WebLlmEngineSurface | undefined;
  try {
    engine = await deps.createEngine({
      appConfig,
      initProgressCallback: (report) => onProgress(mapInitProgress(report)),
      // Must be in place before reload(): WebLLM reads it once, when it builds the pipeline.
      logitProcessorRegistry: new Map([[entry.modelId, processor]]),
      logLevel: options.logLevel,
    });
    await engine.reload(entry.modelId);
    const files = await loadModelFiles(entry, weightsBaseUrl(entry.modelUrl as string, baseUrl), deps);
    const version = await deps.webLlmModelVersion();
    const scorer = new WebLlmScorer(
      { engine, processor, call: callMappingErrors(context), modelId: entry.modelId },
      probePipeline(engine, entry.modelId, version),
      toleranceFor(entry.quantization),
      `${entry.modelId} with ${appConfig.model_list[0]?.model_lib ?? 'its library'} on WebLLM ${version}`,
    );
    const webllm = new LoadedWebLlmEngine(engine, processor, entry, files, context, scorer);
    onProgress({ stage: 'warmup', text: 'Warming up' });
    await webllm.warmUp();
    onProgress({ stage: 'ready', fraction: 1, text: 'Ready' });
    return webllm;
  } catch (error) {
    // Free whatever the failed load holds on the GPU, so the worker can load another model.
    await engine?.unload().catch(() => {});
    throw classifyWebLlmError(error, context);
  }
}
