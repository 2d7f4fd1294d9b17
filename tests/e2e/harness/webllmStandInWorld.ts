/**
 * The WebLLM stand-in (tests/support/webllmStandIn/) inside a browser worker: the tiny Llama
 * through onnxruntime-web (the build Transformers.js uses, self-hosted under ort/, on the CPU) and
 * its files from the test build's models/tiny-llama/. Test builds only.
 */
import * as ort from 'onnxruntime-web/webgpu';
import type { OrtLike, OrtSession } from '../../support/webllmStandIn/kvSequence.ts';
import { standInFromModelFiles, type StandInOptions, type WebLlmStandIn } from '../../support/webllmStandIn/world.ts';

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
  const onnx = await (await file('onnx/model.onnx')).arrayBuffer();
  const session = await ort.InferenceSession.create(new Uint8Array(onnx), { executionProviders: ['wasm'] });
  return standInFromModelFiles(
    { ort: webOrt, session: session as unknown as OrtSession, modelBytes: onnx.byteLength, readModelFile: async (name) => (await file(name)).text() },
    options,
  );
}
