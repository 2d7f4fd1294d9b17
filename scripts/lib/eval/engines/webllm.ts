/**
 * `webllm:<catalog id>`: a WebLLM entry of public/models.json. WebLLM exists only in a page with
 * WebGPU, so this runs the page's own worker in headless Chromium (opt-in: needs a GPU that
 * Chromium exposes as WebGPU and `npm run build` output in dist/). Forced decoding costs one GPU
 * step per answer token. The browser profile lives under .cache/ on a fixed port, so the weights
 * download once.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import type { EngineAdapter } from './adapter.ts';
import { openInChromium } from './browser.ts';

export const WebLlmEngineSpec = z.strictObject({ kind: z.literal('webllm'), text: z.string(), model: z.string().min(1) });
export type WebLlmEngineSpec = z.infer<typeof WebLlmEngineSpec>;

/** The port WebLLM runs are served on: the browser profile's cached weights belong to this origin. */
const WEBLLM_PORT = 4187;

export const webLlmAdapter: EngineAdapter<WebLlmEngineSpec> = {
  syntax: 'webllm:<catalog id>',
  example: 'webllm:smollm2-360m-instruct-q4f32_1',
  spec: WebLlmEngineSpec,
  fields: (body) => ({ model: body }),
  open: (spec, _options, reporter) => openInChromium(spec, 'webgpu', reporter, { profileDir: resolve('.cache/browser-engine-profile'), port: WEBLLM_PORT }),
};
