/**
 * Loads the Transformers.js engine in Node from a model folder, checking the folder first so a
 * missing file is named before ONNX Runtime starts. A name with no folder behind it is fetched
 * from the Hugging Face hub only when it is shaped like a hub id ("org/name"); anything else, and
 * a hub fetch that fails, stops with one line saying how to get a model folder. Progress goes to
 * the reporter.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { AppError } from '../../src/core/errors.ts';
import type { Engine } from '../../src/core/engine.ts';
import { createTransformersEngine, type TransformersEngineOptions } from '../../src/engines/transformers.ts';
import type { Reporter } from './reporter.ts';

const DTYPE_SUFFIX: Record<string, string> = { fp32: '', fp16: '_fp16', q8: '_quantized', q4: '_q4' };

/** "org/name" as the hub spells ids; paths that start at the root, a dot or home are never hub ids. */
const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;

/** Where a model comes from: a checked folder, or the hub. */
export interface ModelLocation {
  path: string;
  isFolder: boolean;
}

/** Causal LMs may start from the generated tiny Llama; encoders (reward, embedder) need an export. */
type ModelKind = 'causal-lm' | 'encoder';

function noModelFolder(model: string, kind: ModelKind): string {
  const make = kind === 'causal-lm' ? `make one with \`npm run cli -- make-tiny-model --out ${model}\`, or ` : '';
  return `no model folder at ${resolve(model)}: ${make}give the folder of a Transformers.js export (config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx)`;
}

/** The folder `model` names (checked for its files), or the hub id it is; anything else stops here. */
export function locateModel(model: string, dtype: string, kind: ModelKind = 'causal-lm'): ModelLocation {
  const folder = resolve(model);
  if (existsSync(folder)) {
    if (!statSync(folder).isDirectory()) throw new AppError('model-files-missing', `${folder} is a file: give the model's folder (with config.json, tokenizer files and onnx/model.onnx).`);
    assertModelFolder(folder, dtype);
    return { path: folder, isFolder: true };
  }
  if (isAbsolute(model) || !HUB_ID.test(model)) throw new AppError('model-files-missing', `${noModelFolder(model, kind)}.`);
  return { path: model, isFolder: false };
}

/** What a failed load of a hub id means: most often there is no such folder and no network. */
export function hubLoadError(model: string, error: unknown, kind: ModelKind = 'causal-lm'): AppError {
  const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
  return new AppError('model-files-missing', `${noModelFolder(model, kind)}; fetching "${model}" from the Hugging Face hub failed too (${reason}).`);
}

export async function loadLocalEngine(
  model: string,
  options: { device: 'cpu' | 'cuda'; dtype: 'fp32' | 'fp16' | 'q8' | 'q4'; promptCache?: boolean },
  reporter: Reporter,
): Promise<Engine> {
  const { path, isFolder } = locateModel(model, options.dtype);
  const engineOptions: TransformersEngineOptions = {
    model: path,
    device: options.device,
    dtype: options.dtype,
    allowRemote: !isFolder,
    ...(options.promptCache === undefined ? {} : { promptCache: options.promptCache }),
  };
  let lastFile = '';
  try {
    return await createTransformersEngine(engineOptions, (progress) => {
      if (progress.stage === 'fetch' && progress.file && progress.file !== lastFile && progress.fraction === undefined) {
        lastFile = progress.file;
        reporter.info(`Loading ${progress.file}`);
      }
    });
  } catch (error) {
    throw isFolder ? error : hubLoadError(model, error);
  }
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
