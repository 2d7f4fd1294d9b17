/**
 * Loads the Transformers.js engine in Node from a model folder (or a hub id when the folder
 * does not exist), checking the folder first so a missing file is named before ONNX Runtime
 * starts. Progress goes to the reporter.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AppError } from '../../src/core/errors.ts';
import type { Engine } from '../../src/core/engine.ts';
import { createTransformersEngine, type TransformersEngineOptions } from '../../src/engines/transformers.ts';
import type { Reporter } from './reporter.ts';

const DTYPE_SUFFIX: Record<string, string> = { fp32: '', fp16: '_fp16', q8: '_quantized', q4: '_q4' };

export async function loadLocalEngine(
  model: string,
  options: { device: 'cpu' | 'cuda'; dtype: 'fp32' | 'fp16' | 'q8' | 'q4'; promptCache?: boolean },
  reporter: Reporter,
): Promise<Engine> {
  const folder = resolve(model);
  const isFolder = existsSync(folder) && statSync(folder).isDirectory();
  if (isFolder) assertModelFolder(folder, options.dtype);
  const engineOptions: TransformersEngineOptions = {
    model: isFolder ? folder : model,
    device: options.device,
    dtype: options.dtype,
    allowRemote: !isFolder,
    ...(options.promptCache === undefined ? {} : { promptCache: options.promptCache }),
  };
  let lastFile = '';
  return createTransformersEngine(engineOptions, (progress) => {
    if (progress.stage === 'fetch' && progress.file && progress.file !== lastFile && progress.fraction === undefined) {
      lastFile = progress.file;
      reporter.info(`Loading ${progress.file}`);
    }
  });
}

export function assertModelFolder(folder: string, dtype: string): void {
  const required = ['config.json', 'tokenizer.json', 'tokenizer_config.json', `onnx/model${DTYPE_SUFFIX[dtype] ?? ''}.onnx`];
  const missing = required.filter((file) => !existsSync(join(folder, file)));
  if (missing.length > 0) {
    throw new AppError(
      'model-files-missing',
      `${folder} lacks ${missing.join(', ')}: point --model at a Transformers.js model folder (e.g. one made by make-tiny-model).`,
    );
  }
}
