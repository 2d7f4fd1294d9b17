/** The catalog entry that loads the tiny Llama through the WebLLM adapter on the stand-in. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WebLlmCatalogEntry, findEntry, parseCatalog, type ModelCatalog } from '../../src/core/catalog.ts';
import { STAND_IN_LIB_URL, STAND_IN_MODEL_URL } from './webllmStandInUrls.ts';

export { STAND_IN_LIB_URL, STAND_IN_MODEL_URL } from './webllmStandInUrls.ts';

export async function readCatalog(): Promise<ModelCatalog> {
  return parseCatalog(await readFile(join(import.meta.dirname, '../../public/models.json'), 'utf8'));
}

export function tinyWebLlmEntry(catalog: ModelCatalog, patch: Record<string, unknown> = {}): WebLlmCatalogEntry {
  // The Zephyr conversation override exactly as public/models.json ships it for TinyLlama.
  const tinyLlama = findEntry(catalog, 'tinyllama-1.1b-chat-v1.0-q4f32_1') as WebLlmCatalogEntry;
  return WebLlmCatalogEntry.parse({
    id: 'tiny-llama-webllm',
    label: 'Tiny Llama (stand-in)',
    engine: 'webllm',
    modelId: 'tiny-llama-q0f32-MLC',
    quantization: 'q0f32',
    prebuilt: false,
    modelUrl: STAND_IN_MODEL_URL,
    modelLibUrl: STAND_IN_LIB_URL,
    sizes: { parameters: 4170048, downloadMB: 19 },
    vramMB: 64,
    requiredFeatures: [],
    contextWindow: 2048,
    chatTemplate: 'zephyr',
    overrides: tinyLlama.overrides,
    ...patch,
  });
}
