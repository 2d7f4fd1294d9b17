/** `local:<model dir or hub id>`: Transformers.js in Node (CPU, or CUDA with --device cuda). */
import { z } from 'zod';
import type { EngineAdapter } from './adapter.ts';

export const LocalEngineSpec = z.strictObject({ kind: z.literal('local'), text: z.string(), model: z.string().min(1) });
export type LocalEngineSpec = z.infer<typeof LocalEngineSpec>;

export const localAdapter: EngineAdapter<LocalEngineSpec> = {
  syntax: 'local:<model dir>',
  example: 'local:models/zephyr-7b-beta-onnx',
  spec: LocalEngineSpec,
  fields: (body) => ({ model: body }),
  async open(spec, options, reporter) {
    const { loadLocalEngine } = await import('../../localEngine.ts');
    return loadLocalEngine(spec.model, { device: options.device, dtype: options.dtype, ...(options.promptCache === undefined ? {} : { promptCache: options.promptCache }) }, reporter);
  },
};
