/**
 * `make-tiny-model`: writes a seeded random tiny Llama (Hugging Face layout plus onnx/model.onnx)
 * for tests and offline demos.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { resolve } from 'node:path';
import { ChatVariant } from '../tinyModel/chatVariants.ts';
import { DEFAULT_TINY_MODEL_SIZES, type TinyModelSizes } from '../tinyModel/config.ts';
import { makeTinyModel } from '../tinyModel/makeTinyModel.ts';

function parseNonNegativeInteger(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed)) throw new InvalidArgumentError('expected a non-negative integer');
  return parsed;
}

/** createRng takes a 32-bit seed; larger values would silently alias smaller ones. */
function parseSeed(value: string): number {
  const seed = parseNonNegativeInteger(value);
  if (seed > 0x7fffffff) throw new InvalidArgumentError('expected a seed below 2^31');
  return seed;
}

interface MakeTinyModelFlags extends TinyModelSizes {
  out: string;
  seed: number;
  chat: ChatVariant;
}

export function makeTinyModelCommand(): Command {
  const defaults = DEFAULT_TINY_MODEL_SIZES;
  return new Command('make-tiny-model')
    .description('Generate a seeded random tiny Llama (config, tokenizer, model.safetensors, onnx/model.onnx)')
    .requiredOption('--out <dir>', 'output folder')
    .option('--seed <n>', 'weight seed', parseSeed, 0)
    .option('--hidden <n>', 'hidden size', parseNonNegativeInteger, defaults.hidden)
    .option('--layers <n>', 'decoder layers', parseNonNegativeInteger, defaults.layers)
    .option('--heads <n>', 'attention heads', parseNonNegativeInteger, defaults.heads)
    .option('--kv-heads <n>', 'key/value heads (grouped-query attention)', parseNonNegativeInteger, defaults.kvHeads)
    .option('--intermediate <n>', 'MLP intermediate size', parseNonNegativeInteger, defaults.intermediate)
    .option('--max-positions <n>', 'max_position_embeddings (RoPE table length)', parseNonNegativeInteger, defaults.maxPositions)
    .addOption(
      new Option('--chat <format>', "chat template and special tokens: Zephyr's, Llama-3's (added tokens <|begin_of_text|>…<|eot_id|>) or Ministral's ([INST] … [/INST])")
        .choices(ChatVariant.options)
        .default('zephyr'),
    )
    .action(async (flags: MakeTinyModelFlags) => {
      const outDir = resolve(flags.out);
      const started = performance.now();
      const { seed, hidden, layers, heads, kvHeads, intermediate, maxPositions, chat } = flags;
      await makeTinyModel({ outDir, seed, chat, sizes: { hidden, layers, heads, kvHeads, intermediate, maxPositions } });
      console.log(`Wrote tiny Llama (seed ${seed}, ${chat} chat format) to ${outDir} in ${Math.round(performance.now() - started)} ms`);
    });
}
