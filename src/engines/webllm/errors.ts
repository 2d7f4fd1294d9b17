/** Every WebLLM failure a user can meet, mapped to an AppError whose message says what to do next. */
import { AppError } from '../../core/errors.ts';


export interface ErrorContext {
  /** The model's label, for messages. */
  model?: string;
  vramMB?: number;
}

/**
 * Maps anything WebLLM throws to an AppError whose message says what to do. In-thread errors
 * are Error objects whose `name` is WebLLM's class name; through WebLLM's own worker proxy they
 * arrive as `"<Name>: <message>"` strings. Both forms are read.
 */
export function classifyWebLlmError(error: unknown, context: ErrorContext = {}): AppError {
  if (error instanceof AppError) return error;
  const { name, text } = describeError(error);
  const model = context.model ?? 'the model';
  const detail = text.length > 240 ? `${text.slice(0, 240)}…` : text;

  if (name === 'QuotaExceededError' || /QuotaExceeded|quota/i.test(text)) {
    return new AppError(
      'quota-exceeded',
      `The browser refused to store ${model}: its storage quota is used up (${detail}). Delete cached models you no longer need, leave private/incognito mode (it has a much smaller quota), or choose a smaller model.`,
    );
  }
  if (name === 'ContextWindowSizeExceededError') {
    const numbers = /prompt tokens: (\d+); context window size: (\d+)/.exec(text);
    const size = numbers ? ` (${numbers[1]} prompt tokens, window ${numbers[2]})` : '';
    return new AppError(
      'context-exceeded',
      `The prompt is longer than the context window of ${model}${size}: shorten the prefix or the question, or choose a model with a larger window.`,
    );
  }
  if (name === 'ShaderF16SupportError' || (name === 'FeatureSupportError' && /shader-f16/.test(text)) || /enable f16|extension f16|'f16'|shader-f16/i.test(text)) {
    return new AppError(
      'no-shader-f16',
      `This GPU or browser lacks the shader-f16 feature that ${model} (an f16 build) needs: choose a build marked "no shader-f16 needed" (q4f32_1 or q0f32, e.g. TinyLlama-1.1B q4f32_1 or SmolLM2-360M q4f32_1), or switch to the Transformers.js engine.`,
    );
  }
  if (name === 'FeatureSupportError') {
    return new AppError('unsupported', `${detail} Choose another model, or switch to the Transformers.js engine.`);
  }
  if (name === 'WebGPUNotAvailableError' || name === 'WebGPUNotFoundError' || /Unable to find a compatible GPU|Cannot find WebGPU/.test(text)) {
    return new AppError(
      'no-webgpu',
      `WebGPU is not available here (${detail}): use a recent Chrome or Edge (113+) on a machine with a supported GPU and hardware acceleration on, or switch to the Transformers.js engine (WASM), which runs on the CPU.`,
    );
  }
  const limit = /Cannot initialize runtime because of requested (\w+)/.exec(text);
  if (limit) {
    return new AppError(
      'no-webgpu',
      `This GPU's WebGPU limits are too small for WebLLM (${limit[1]}): switch to the Transformers.js engine (WASM), or use another GPU or browser.`,
    );
  }
  if (name === 'DeviceLostError' || /out of memory|OutOfMemory|\bOOM\b|Array buffer allocation failed|could not allocate memory/i.test(text)) {
    const need = context.vramMB ? ` (it needs about ${Math.round(context.vramMB)} MB of GPU memory)` : '';
    return new AppError(
      'out-of-memory',
      `The GPU ran out of memory loading ${model}${need}: choose a smaller model, a q4f16_1 build instead of q4f32_1, or a shorter context window. The engine was reset, so another model can be loaded right away.`,
    );
  }
  if (name === 'ModelNotLoadedError' || /device (was|is) lost|Device was lost/i.test(text)) {
    return new AppError(
      'device-lost',
      `The GPU device was lost and WebLLM unloaded ${model} (memory pressure, a driver reset, or the GPU process restarting): load the model again; if it keeps happening, choose a smaller model.`,
    );
  }
  if (
    /expected magic word|LinkError|CompileError|WebAssembly\.(instantiate|compile)|Cannot find global function|Cannot find .+ in (cache|exports)|unsatisfied constraint|shape mismatch|Check failed|TVMError|tensor-cache\.json|ndarray-cache/i.test(text) ||
    name === 'UnsupportedTokenizerFilesError'
  ) {
    return new AppError(
      'model-mismatch',
      `The model library (.wasm) does not match the weights or this WebLLM version (${detail}): use the library compiled from the same mlc-chat-config.json as the weights, with an mlc-llm/TVM from the period of WebLLM 0.2.86 (model version v0_2_86); weights converted by an older mlc-llm need ndarray-cache.json renamed to tensor-cache.json.`,
    );
  }
  if (name === 'NetworkError' || /NetworkError|Failed to fetch|network error|Load failed|ERR_(INTERNET|NETWORK|CONNECTION)|net::|Cannot fetch/i.test(text)) {
    return new AppError(
      'download-interrupted',
      `Downloading ${model} was interrupted (${detail}): check the connection and load again. Files that finished downloading stay cached, so the download resumes where it stopped; if it fails again at the same point, clear this model's cache and retry.`,
    );
  }
  if (name === 'MissingModelError' || /Request failed|\b404\b|\b403\b|Not Found/i.test(text)) {
    return new AppError(
      'model-files-missing',
      `A file of ${model} could not be downloaded (${detail}): check the weights URL and the model library URL (both must be reachable with CORS), then retry.`,
    );
  }
  return new AppError('internal', `WebLLM failed: ${detail}`);
}

function describeError(error: unknown): { name: string; text: string } {
  if (typeof error === 'string') {
    const named = /^([A-Za-z_$][\w$]*): /.exec(error);
    return { name: named?.[1] ?? '', text: error };
  }
  if (typeof error === 'object' && error !== null && 'message' in error) {
    const name = 'name' in error && typeof error.name === 'string' ? error.name : '';
    const message = String(error.message);
    return { name, text: name && name !== 'Error' ? `${name}: ${message}` : message };
  }
  return { name: '', text: String(error) };
}


/** Runs a WebLLM call, mapping whatever it throws with `classifyWebLlmError`. */
export function callMappingErrors(context: ErrorContext): <T>(run: () => Promise<T>) => Promise<T> {
  return async (run) => {
    try {
      return await run();
    } catch (error) {
      throw classifyWebLlmError(error, context);
    }
  };
}
