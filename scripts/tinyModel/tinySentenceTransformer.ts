/**
 * The sentence-transformers half of the tiny sentence-transformer folder, laid out as
 * sentence-transformers saves sentence-t5: `modules.json` (Transformer at the root → 1_Pooling →
 * 2_Dense → 3_Normalize), `sentence_bert_config.json`, `1_Pooling/config.json`, and `2_Dense/`
 * with `config.json` and `model.safetensors` (`linear.weight` [out, in], `linear.bias` [out]), as
 * `Dense.save` writes them in sentence-transformers 3+. Normalize saves no files; its folder is made
 * anyway, as `SentenceTransformer.save` does.
 *
 * Unlike sentence-t5's Dense (1024 → 768, no bias, identity), this one has a bias and tanh (the
 * library's default activation), so a forgotten bias or activation changes the vectors; the tests
 * rewrite the files for the sentence-t5 shape. `max_seq_length` is short, so truncation is exercised.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRng, normal } from '../../src/core/random.ts';
import { encodeSafetensors } from './safetensors.ts';

export const TINY_SENTENCE_MAX_SEQ_LENGTH = 16;
const DENSE_OUT = 24;

export interface SentenceHead {
  inFeatures: number;
  outFeatures: number;
  /** Row-major [out, in] (torch's nn.Linear layout, what the safetensors file holds). */
  weight: Float32Array;
  /** The same matrix as [in, out], for an ONNX MatMul. */
  weightTransposed: Float32Array;
  bias: Float32Array;
}

/** The Dense layer's weights, drawn from their own stream so the encoder's weights stay the embedder's. */
export function sentenceHead(seed: number, inFeatures: number): SentenceHead {
  const rng = createRng(seed + 0x5e17);
  const weight = Float32Array.from({ length: DENSE_OUT * inFeatures }, () => normal(rng) / Math.sqrt(inFeatures));
  const weightTransposed = new Float32Array(weight.length);
  for (let o = 0; o < DENSE_OUT; o++) for (let i = 0; i < inFeatures; i++) weightTransposed[i * DENSE_OUT + o] = weight[o * inFeatures + i] as number;
  const bias = Float32Array.from({ length: DENSE_OUT }, () => 0.1 * normal(rng));
  return { inFeatures, outFeatures: DENSE_OUT, weight, weightTransposed, bias };
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

export async function writeSentenceTransformerModules(outDir: string, head: SentenceHead): Promise<void> {
  for (const dir of ['1_Pooling', '2_Dense', '3_Normalize']) await mkdir(join(outDir, dir), { recursive: true });
  await writeFile(
    join(outDir, 'modules.json'),
    json([
      { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
      { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
      { idx: 2, name: '2', path: '2_Dense', type: 'sentence_transformers.models.Dense' },
      { idx: 3, name: '3', path: '3_Normalize', type: 'sentence_transformers.models.Normalize' },
    ]),
  );
  await writeFile(join(outDir, 'sentence_bert_config.json'), json({ max_seq_length: TINY_SENTENCE_MAX_SEQ_LENGTH, do_lower_case: false }));
  await writeFile(
    join(outDir, '1_Pooling', 'config.json'),
    json({
      word_embedding_dimension: head.inFeatures,
      pooling_mode_cls_token: false,
      pooling_mode_mean_tokens: true,
      pooling_mode_max_tokens: false,
      pooling_mode_mean_sqrt_len_tokens: false,
      pooling_mode_weightedmean_tokens: false,
      pooling_mode_lasttoken: false,
      include_prompt: true,
    }),
  );
  await writeFile(join(outDir, '2_Dense', 'config.json'), json({ in_features: head.inFeatures, out_features: head.outFeatures, bias: true, activation_function: 'torch.nn.modules.activation.Tanh' }));
  const tensors = new Map([
    ['linear.weight', { shape: [head.outFeatures, head.inFeatures], data: head.weight }],
    ['linear.bias', { shape: [head.outFeatures], data: head.bias }],
  ]);
  await writeFile(join(outDir, '2_Dense', 'model.safetensors'), encodeSafetensors(tensors, { format: 'pt' }));
}
