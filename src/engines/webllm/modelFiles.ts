/**
 * The model files the adapter reads itself, beside WebLLM: mlc-chat-config.json (merged with the
 * record's overrides exactly as WebLLM merges them), the conversation template, and the
 * tokenizer (WebLLM exposes none; tokenizer.json runs through Transformers.js, which reproduces
 * Hugging Face tokenizers, what the paper's Python code used).
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { z } from 'zod';
import { WebLlmConvConfig, type WebLlmCatalogEntry } from '../../core/catalog.ts';
import { AppError } from '../../core/errors.ts';
import type { WebLlmCacheScope, WebLlmDeps } from './options.ts';
import { ConvTemplate } from './prompt.ts';

/** The parts of mlc-chat-config.json the adapter reads (after the record's overrides). */
const MlcChatConfig = z.looseObject({
  conv_template: z.looseObject({}),
  conv_config: WebLlmConvConfig.loose().optional(),
  context_window_size: z.number().int(),
  sliding_window_size: z.number().int().optional(),
  tokenizer_files: z.array(z.string()).default([]),
  bos_token_id: z.number().int().optional(),
  eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).optional(),
});


export interface ModelFiles {
  chatConfig: z.infer<typeof MlcChatConfig>;
  conv: ConvTemplate;
  tokenizer: PreTrainedTokenizer;
}

export async function loadModelFiles(entry: WebLlmCatalogEntry, base: string, deps: WebLlmDeps): Promise<ModelFiles> {
  const raw = await readJson(deps, `${base}mlc-chat-config.json`, 'webllm/config');
  // The same merge WebLLM does at reload: {...mlc-chat-config.json, ...record.overrides}.
  const chatConfig = MlcChatConfig.parse({ ...(raw as object), ...entry.overrides, context_window_size: entry.contextWindow });
  const conv = ConvTemplate.parse({ ...chatConfig.conv_template, ...chatConfig.conv_config });
  if (!chatConfig.tokenizer_files.includes('tokenizer.json')) {
    throw new AppError(
      'unsupported',
      `${entry.label} ships no tokenizer.json (only ${chatConfig.tokenizer_files.join(', ') || 'nothing'}): this app tokenizes for scoring with tokenizer.json; re-run mlc_llm gen_config on a model folder that has one.`,
    );
  }
  const [tokenizerJson, tokenizerConfig] = await Promise.all([
    readJson(deps, `${base}tokenizer.json`, 'webllm/model'),
    // WebLLM ignores tokenizer_config.json; it carries the special-token names and the chat template.
    readJson(deps, `${base}tokenizer_config.json`, 'webllm/model').catch(() => ({})),
  ]);
  const { PreTrainedTokenizer } = await import('@huggingface/transformers');
  return { chatConfig, conv, tokenizer: new PreTrainedTokenizer(tokenizerJson, tokenizerConfig) };
}

async function readJson(deps: WebLlmDeps, url: string, scope: WebLlmCacheScope): Promise<unknown> {
  const response = await deps.fetchFile(url, scope);
  if (!response.ok) throw new Error(`Request failed: ${response.status} ${response.statusText} for ${url}`);
  return response.json();
}

