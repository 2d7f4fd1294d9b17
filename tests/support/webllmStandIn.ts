/**
 * The WebLLM stand-in (./webllmStandIn/) in Node: the tiny Llama through onnxruntime-node and
 * its files from disk. The browser harness builds the same world over onnxruntime-web.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { tinyDims, type OrtLike, type OrtSession } from './webllmStandIn/kvSequence.ts';
import { WebLlmStandIn, type StandInOptions } from './webllmStandIn/world.ts';

export { DEFAULT_LIBRARY, TINYLLAMA_V1_CONV_TEMPLATE, WebLlmStandIn, webllmError, type StandInEngine, type StandInOptions } from './webllmStandIn/world.ts';

/** onnxruntime-node's tensors, typed for the stand-in. */
export const nodeOrt: OrtLike = {
  tensor: (type: 'int64' | 'float32', data: BigInt64Array | Float32Array, dims: number[]) => new ort.Tensor(type, data, dims),
} as OrtLike;

export async function createNodeStandIn(options: StandInOptions & { modelDir: string }): Promise<WebLlmStandIn> {
  const read = (name: string) => readFile(join(options.modelDir, name), 'utf8');
  const [config, tokenizerJson, tokenizerConfig, session, onnx] = await Promise.all([
    read('config.json').then(JSON.parse) as Promise<Record<string, unknown>>,
    read('tokenizer.json').then(JSON.parse) as Promise<object>,
    read('tokenizer_config.json').then(JSON.parse) as Promise<object>,
    ort.InferenceSession.create(join(options.modelDir, 'onnx', 'model.onnx'), { executionProviders: ['cpu'] }),
    readFile(join(options.modelDir, 'onnx', 'model.onnx')),
  ]);
  return new WebLlmStandIn(
    {
      ort: nodeOrt,
      session: session as unknown as OrtSession,
      // tokenizers-cpp, which WebLLM uses, reads tokenizer.json as Hugging Face tokenizers does.
      tokenizer: new PreTrainedTokenizer(tokenizerJson, tokenizerConfig),
      dims: tinyDims(config),
      modelBytes: onnx.byteLength,
      readModelFile: read,
    },
    options,
  );
}
