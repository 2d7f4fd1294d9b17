/**
 * `openai:<baseUrl>#<model>`: an OpenAI-compatible server that returns prompt log-probs (vLLM's
 * `prompt_logprobs`, or completions `echo` + `logprobs`; `npm run cli -- serve` is one). The engine
 * refuses a server without them, saying what to use instead.
 */
import { z } from 'zod';
import type { EngineAdapter } from './adapter.ts';

export const OpenAiEngineSpec = z.strictObject({
  kind: z.literal('openai'),
  text: z.string(),
  baseUrl: z.string().regex(/^https?:\/\//),
  model: z.string().min(1),
});
export type OpenAiEngineSpec = z.infer<typeof OpenAiEngineSpec>;

export const openAiAdapter: EngineAdapter<OpenAiEngineSpec> = {
  syntax: 'openai:<baseUrl>#<model>',
  example: 'openai:http://127.0.0.1:8000/v1#HuggingFaceH4/zephyr-7b-beta',
  spec: OpenAiEngineSpec,
  fields(body) {
    const hash = body.lastIndexOf('#');
    return hash === -1 ? undefined : { baseUrl: body.slice(0, hash), model: body.slice(hash + 1) };
  },
  async open(spec, options, reporter) {
    const { createOpenAiEngine } = await import('../../../../src/engines/openai.ts');
    const { readChatTemplateSetting } = await import('../../chatTemplateSetting.ts');
    return createOpenAiEngine(
      {
        baseUrl: spec.baseUrl,
        model: spec.model,
        ...(options.apiKeyEnv ? { apiKeyEnv: options.apiKeyEnv } : {}),
        ...(options.chatTemplate ? { chatTemplate: await readChatTemplateSetting(options.chatTemplate) } : {}),
        ...(options.bosTokenId === undefined ? {} : { bosTokenId: options.bosTokenId }),
        ...(options.eosTokenId === undefined ? {} : { eosTokenId: options.eosTokenId }),
      },
      undefined,
      (message) => reporter.warn(message),
    );
  },
};
