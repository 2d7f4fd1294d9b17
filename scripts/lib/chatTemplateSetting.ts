/**
 * `--chat-template` for openai: engines: the served model's chat template when the server cannot
 * report it. `zephyr` is the built-in; otherwise a file: the model's `tokenizer_config.json` (its
 * `chat_template` with the BOS and EOS strings the template uses) or a bare Jinja template.
 * Errors: a missing or unreadable file, or a tokenizer config without a template, in one line.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { z } from 'zod';
import { zephyrTemplate } from '../../src/core/chatTemplate.ts';
import type { ChatTemplateInfo } from '../../src/core/engine.ts';
import { AppError } from '../../src/core/errors.ts';
import { SpecialToken } from '../../src/engines/openaiServerFacts.ts';

/** The fields read from a tokenizer_config.json; `chat_template` may list named templates. */
const TokenizerConfig = z.object({
  chat_template: z.union([z.string(), z.array(z.object({ name: z.string(), template: z.string() }))]).optional(),
  bos_token: SpecialToken.nullish(),
  eos_token: SpecialToken.nullish(),
});

/** The template a `--chat-template` value names, as the engine takes it. */
export async function readChatTemplateSetting(value: string): Promise<ChatTemplateInfo> {
  if (value === zephyrTemplate.name) return { name: zephyrTemplate.name };
  let text: string;
  try {
    text = await readFile(value, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new AppError('invalid-input', `--chat-template ${value}: ${reason}. Give "zephyr", the model's tokenizer_config.json or a Jinja template file.`);
  }
  if (!value.endsWith('.json')) return { name: basename(value), source: text };
  let parsed: z.infer<typeof TokenizerConfig>;
  try {
    parsed = TokenizerConfig.parse(JSON.parse(text));
  } catch {
    throw new AppError('invalid-input', `--chat-template ${value} is not a tokenizer_config.json: give the model's tokenizer_config.json or a Jinja template file.`);
  }
  const template = typeof parsed.chat_template === 'string' ? parsed.chat_template : parsed.chat_template?.find((entry) => entry.name === 'default')?.template;
  if (template === undefined) throw new AppError('invalid-input', `${value} has no chat_template: give a Jinja template file instead.`);
  return {
    // The folder names the model: ".../zephyr-7b-beta/tokenizer_config.json".
    name: `${basename(dirname(resolve(value)))}/${basename(value)}`,
    source: template,
    ...(parsed.bos_token ? { bosToken: parsed.bos_token } : {}),
    ...(parsed.eos_token ? { eosToken: parsed.eos_token } : {}),
  };
}
