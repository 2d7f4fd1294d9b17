/**
 * Reading sentence-transformers module folders (scripts/lib/sentenceTransformers.ts): the pooling
 * modes against hand-computed values, safetensors in F32/F16/BF16, and the clear refusals of what
 * is not supported. The whole embedder against a float64 computation is in localProviders.test.ts.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_EMBEDDING_PIPELINE, embedFromTokens, readEmbeddingPipeline, readSafetensors, type EmbeddingPipeline } from '../../scripts/lib/sentenceTransformers.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'st-modules-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A safetensors file with one tensor of raw little-endian values in `dtype`. */
function safetensors(name: string, dtype: string, shape: number[], raw: Uint8Array): Uint8Array {
  const header = Buffer.from(JSON.stringify({ [name]: { dtype, shape, data_offsets: [0, raw.byteLength] } }));
  const out = new Uint8Array(8 + header.byteLength + raw.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.byteLength), true);
  out.set(header, 8);
  out.set(raw, 8 + header.byteLength);
  return out;
}

const u16 = (values: number[]) => new Uint8Array(Uint16Array.from(values).buffer);

async function writeModules(modules: { path: string; type: string }[], files: Record<string, unknown> = {}): Promise<void> {
  await writeFile(join(dir, 'modules.json'), JSON.stringify(modules));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), content instanceof Uint8Array ? content : JSON.stringify(content));
  }
}

const TRANSFORMER = { path: '', type: 'sentence_transformers.models.Transformer' };
const POOLING = { path: '1_Pooling', type: 'sentence_transformers.models.Pooling' };
const DENSE = { path: '2_Dense', type: 'sentence_transformers.models.Dense' };

describe('pooling', () => {
  // Two texts of hidden size 2, the second left-padded: tokens [pad, (1,2), (3,6)] and [(1,0), (2,0), (6,3)].
  const tokens = Float32Array.from([9, 9, 1, 2, 3, 6, 1, 0, 2, 0, 6, 3]);
  const mask = [0, 1, 1, 1, 1, 1];
  const run = (pooling: EmbeddingPipeline['pooling']) => embedFromTokens(tokens, [2, 3, 2], mask, { ...DEFAULT_EMBEDDING_PIPELINE, pooling, steps: [] });

  it('computes every mode over real tokens only, counting positions from the first one', () => {
    expect(run(['mean'])).toEqual([[2, 4], [3, 1]]);
    expect(run(['cls'])).toEqual([[1, 2], [1, 0]]);
    expect(run(['lasttoken'])).toEqual([[3, 6], [6, 3]]);
    expect(run(['max'])).toEqual([[3, 6], [6, 3]]);
    expect(run(['mean_sqrt_len_tokens'])).toEqual([[4 / Math.SQRT2, 8 / Math.SQRT2], [9 / Math.sqrt(3), 3 / Math.sqrt(3)]]);
    // Weights 1, 2, … from the first real token: (1·1 + 2·3) / 3, (1·1 + 2·2 + 3·6) / 6.
    expect(run(['weightedmean'])).toEqual([[7 / 3, 14 / 3], [23 / 6, 9 / 6]]);
    expect(run(['cls', 'mean'])).toEqual([[1, 2, 2, 4], [1, 0, 3, 1]]);
  });

  it('normalises with torch\u2019s epsilon, so a zero vector stays zero', () => {
    const zero = embedFromTokens(new Float32Array(2), [1, 1, 2], [1], DEFAULT_EMBEDDING_PIPELINE);
    expect(zero).toEqual([[0, 0]]);
    expect(embedFromTokens(Float32Array.from([3, 4]), [1, 1, 2], [1], DEFAULT_EMBEDDING_PIPELINE)).toEqual([[0.6, 0.8]]);
  });
});

describe('safetensors', () => {
  it('reads F32, F16 and BF16 tensors as float32', async () => {
    await writeFile(join(dir, 'f32.safetensors'), safetensors('t', 'F32', [2], new Uint8Array(Float32Array.from([1.5, -2]).buffer)));
    // Half: 1.0 = 0x3c00, -2.5 = 0xc100, 2^-24 (smallest subnormal) = 0x0001. BF16: the top half of float32 1.0 and -2.5.
    await writeFile(join(dir, 'f16.safetensors'), safetensors('t', 'F16', [3], u16([0x3c00, 0xc100, 0x0001])));
    await writeFile(join(dir, 'bf16.safetensors'), safetensors('t', 'BF16', [2], u16([0x3f80, 0xc020])));
    expect(Array.from(readSafetensors(join(dir, 'f32.safetensors')).get('t')?.data ?? [])).toEqual([1.5, -2]);
    expect(Array.from(readSafetensors(join(dir, 'f16.safetensors')).get('t')?.data ?? [])).toEqual([1, -2.5, Math.fround(2 ** -24)]);
    expect(Array.from(readSafetensors(join(dir, 'bf16.safetensors')).get('t')?.data ?? [])).toEqual([1, -2.5]);
  });

  it('refuses other dtypes and a size that does not fit the shape', async () => {
    await writeFile(join(dir, 'i8.safetensors'), safetensors('t', 'I8', [2], new Uint8Array(2)));
    await writeFile(join(dir, 'short.safetensors'), safetensors('t', 'F32', [3], new Uint8Array(8)));
    expect(() => readSafetensors(join(dir, 'i8.safetensors'))).toThrow(/tensor t is I8; F32, F16 and BF16 are read/);
    expect(() => readSafetensors(join(dir, 'short.safetensors'))).toThrow(/tensor t has 8 bytes for shape \[3\]/);
  });
});

describe('module folders', () => {
  const pooling = { pooling_mode_mean_tokens: true, pooling_mode_cls_token: false };

  it('keeps the default without modules.json', () => {
    expect(readEmbeddingPipeline(dir)).toBe(DEFAULT_EMBEDDING_PIPELINE);
  });

  it('reads a Dense layer in F16 with its activation, and the Transformer\u2019s length limit', async () => {
    await writeModules([TRANSFORMER, POOLING, DENSE, { path: '3_Normalize', type: 'sentence_transformers.models.Normalize' }], {
      'sentence_bert_config.json': { max_seq_length: 256, do_lower_case: true },
      '1_Pooling/config.json': pooling,
      '2_Dense/config.json': { in_features: 2, out_features: 1, bias: false, activation_function: 'torch.nn.modules.linear.Identity' },
      '2_Dense/model.safetensors': safetensors('linear.weight', 'F16', [1, 2], u16([0x3c00, 0xc000])),
    });
    const pipeline = readEmbeddingPipeline(dir);
    expect(pipeline).toMatchObject({ source: 'modules.json', maxSeqLength: 256, doLowerCase: true, pooling: ['mean'] });
    expect(pipeline.steps.map((step) => step.kind)).toEqual(['dense', 'normalize']);
    // mean (1, 2) → 1·1 − 2·2 = −3 → normalised −1.
    expect(embedFromTokens(Float32Array.from([1, 2]), [1, 1, 2], [1], pipeline)).toEqual([[-1]]);
  });

  it('says how to convert Dense weights that exist only as pytorch_model.bin', async () => {
    await writeModules([TRANSFORMER, POOLING, DENSE], { '1_Pooling/config.json': pooling, '2_Dense/config.json': { in_features: 2, out_features: 1 }, '2_Dense/pytorch_model.bin': new Uint8Array(4) });
    expect(() => readEmbeddingPipeline(dir)).toThrow(/only in pytorch_model\.bin.*save_file\(torch\.load\(/);
  });

  it('refuses what it cannot run, naming the module and the file', async () => {
    await writeModules([TRANSFORMER, POOLING, { path: '2_LayerNorm', type: 'sentence_transformers.models.LayerNorm' }], { '1_Pooling/config.json': pooling });
    expect(() => readEmbeddingPipeline(dir)).toThrow(/the module sentence_transformers\.models\.LayerNorm is not supported/);
    await writeModules([{ path: '0_Transformer', type: 'sentence_transformers.models.Transformer' }, POOLING], { '1_Pooling/config.json': pooling });
    expect(() => readEmbeddingPipeline(dir)).toThrow(/Transformer module is in "0_Transformer\/"/);
    await writeModules([TRANSFORMER, POOLING, DENSE], { '1_Pooling/config.json': pooling, '2_Dense/config.json': { in_features: 2, out_features: 1, activation_function: 'torch.nn.modules.activation.GELU' } });
    expect(() => readEmbeddingPipeline(dir)).toThrow(/activation torch\.nn\.modules\.activation\.GELU is not supported/);
    await writeModules([TRANSFORMER, POOLING], { '1_Pooling/config.json': { pooling_mode_mean_tokens: 'yes' } });
    expect(() => readEmbeddingPipeline(dir)).toThrow(/1_Pooling\/config\.json \(the Pooling module config\) is not what sentence-transformers writes/);
    await writeModules([TRANSFORMER, POOLING, DENSE], { '1_Pooling/config.json': pooling, '2_Dense/config.json': { in_features: 2, out_features: 3 }, '2_Dense/model.safetensors': safetensors('linear.weight', 'F32', [3, 2], new Uint8Array(24)) });
    expect(() => readEmbeddingPipeline(dir)).toThrow(/asks for a bias, but linear\.bias of shape \[3\] is missing/);
  });
});
