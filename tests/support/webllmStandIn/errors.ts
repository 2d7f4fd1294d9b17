/**
 * WebLLM 0.2.86's errors as its in-thread MLCEngine throws them (an Error whose `name` is WebLLM's
 * class name, with WebLLM's text), and the model-record lookups that throw them.
 */
import type { AppConfig, ModelRecord } from '@mlc-ai/web-llm';

/** A WebLLM error: WebLLM's class name as `name`, its message text. */
export function webllmError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

export const modelNotLoaded = (requestName: string) =>
  webllmError(
    'ModelNotLoadedError',
    `Model not loaded before trying to complete ${requestName}. Please ensure you have called MLCEngine.reload(model) to load the model before initiating APIs, or initialize your engine using CreateMLCEngine() with a valid model configuration.`,
  );

/** WebLLM's `cleanModelUrl`: note `new URL()` without a base, so a relative URL throws. */
export function cleanModelUrl(modelUrl: string): string {
  let url = modelUrl.endsWith('/') ? modelUrl : `${modelUrl}/`;
  if (!/.+\/resolve\/.+\//.test(url)) url += 'resolve/main/';
  return new URL(url).href;
}

export function findRecord(modelId: string, appConfig: AppConfig | undefined): ModelRecord {
  const record = appConfig?.model_list.find((r) => r.model_id === modelId);
  if (!record) {
    throw webllmError(
      'ModelNotFoundError',
      `Cannot find model record in appConfig for ${modelId}. Please check if the model ID is correct and included in the model_list configuration.`,
    );
  }
  return record;
}

