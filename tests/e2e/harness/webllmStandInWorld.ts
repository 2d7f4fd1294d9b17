/**
 * The WebLLM stand-in (tests/support/webllmStandIn/) inside a browser worker: the tiny Llama
 * through onnxruntime-web (the build Transformers.js uses, self-hosted under ort/, on the CPU) and
 * its files from the test build's models/tiny-llama/. Test builds only.
 */
import { PreTrainedTokenizer } from '@huggingface/transformers';
import * as ort from 'onnxruntime-web/webgpu';
import { tinyDims, type OrtLike, type OrtSession } from '../../support/webllmStandIn/kvSequence.ts';
import { WebLlmStandIn, type StandInOptions } from '../../support/webllmStandIn/world.ts';

/** Where the test build serves the tiny model and ONNX Runtime's files, relative to the site root. */
const MODEL_PATH = 'models/tiny-llama/';
const ORT_PATH = 'ort/';

const webOrt: OrtLike = {
  tensor: (type: 'int64' | 'float32', data: BigInt64Array | Float32Array, dims: number[]) => new ort.Tensor(type, data, dims),
} as OrtLike;

export async function createBrowserStandIn(siteRoot: string, options: StandInOptions): Promise<WebLlmStandIn> {
  ort.env.wasm.wasmPaths = new URL(ORT_PATH, siteRoot).href;
  // Not cross-origin isolated: one thread.
  ort.env.wasm.numThreads = 1;
  const file = async (name: string) => {
    const response = await fetch(new URL(MODEL_PATH + name, siteRoot));
    if (!response.ok) throw new Error(`stand-in: ${name} is missing from the test build (${response.status})`);
    return response;
  };
  const readModelFile = async (name: string) => (await file(name)).text();
  const [config, tokenizerJson, tokenizerConfig, onnx] = await Promise.all([
    readModelFile('config.json').then(JSON.parse) as Promise<Record<string, unknown>>,
    readModelFile('tokenizer.json').then(JSON.parse) as Promise<object>,
    readModelFile('tokenizer_config.json').then(JSON.parse) as Promise<object>,
    file('onnx/model.onnx').then((response) => response.arrayBuffer()),
  ]);
  const session = await ort.InferenceSession.create(new Uint8Array(onnx), { executionProviders: ['wasm'] });
  return new WebLlmStandIn(
    {
      ort: webOrt,
      session: session as unknown as OrtSession,
      tokenizer: new PreTrainedTokenizer(tokenizerJson, tokenizerConfig),
      dims: tinyDims(config),
      modelBytes: onnx.byteLength,
      readModelFile,
    },
    options,
  );
}
