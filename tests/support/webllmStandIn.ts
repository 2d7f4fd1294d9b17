/**
 * The WebLLM stand-in (./webllmStandIn/) in Node: the tiny Llama through onnxruntime-node and
 * its files from disk. The browser harness builds the same world over onnxruntime-web.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { OrtLike, OrtSession } from './webllmStandIn/kvSequence.ts';
import { standInFromModelFiles, type StandInOptions, type WebLlmStandIn } from './webllmStandIn/world.ts';

export type { StandInEngine } from './webllmStandIn/engine.ts';
export { webllmError } from './webllmStandIn/errors.ts';
export { DEFAULT_LIBRARY, TINYLLAMA_V1_CONV_TEMPLATE, WebLlmStandIn, type StandInOptions } from './webllmStandIn/world.ts';

/** onnxruntime-node's tensors, typed for the stand-in. */
export const nodeOrt: OrtLike = {
  tensor: (type: 'int64' | 'float32', data: BigInt64Array | Float32Array, dims: number[]) => new ort.Tensor(type, data, dims),
} as OrtLike;

export async function createNodeStandIn(options: StandInOptions & { modelDir: string }): Promise<WebLlmStandIn> {
  const modelPath = join(options.modelDir, 'onnx', 'model.onnx');
  const [session, onnx] = await Promise.all([ort.InferenceSession.create(modelPath, { executionProviders: ['cpu'] }), readFile(modelPath)]);
  const readModelFile = (name: string) => readFile(join(options.modelDir, name), 'utf8');
  return standInFromModelFiles({ ort: nodeOrt, session: session as unknown as OrtSession, modelBytes: onnx.byteLength, readModelFile }, options);
}
