/**
 * An independent float64 sentence embedding for the tiny sentence-transformer folder: the tiny
 * encoder's forward pass in plain TypeScript, from the weights the generator also writes to
 * `model.safetensors` (ONNX initializer names, linear weights [in, out]), then what
 * `SentenceTransformer.encode` does: mean pooling, the Dense layer from `2_Dense/` (torch layout
 * [out, in]) with its configured bias and activation, L2 normalisation.
 *
 * One text at a time, never padded, so a padding or masking mistake in the code under test shows
 * up as a difference. Truncation keeps the first `max_seq_length` token ids: right for this
 * tokenizer, which adds only a leading BOS (a tokenizer that appends EOS would keep it last).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readSafetensors, type ReferenceTensor } from './llamaReference.ts';

export interface EncoderReference {
  /** The sentence embedding of token ids `ids` (truncated here to max_seq_length). */
  embed(ids: readonly number[]): Float64Array;
  maxSeqLength: number;
}

const ACTIVATIONS: Record<string, (x: number) => number> = {
  'torch.nn.modules.linear.Identity': (x) => x,
  'torch.nn.modules.activation.Tanh': Math.tanh,
};

function tensor(tensors: Map<string, ReferenceTensor>, name: string): ReferenceTensor {
  const found = tensors.get(name);
  if (!found) throw new Error(`no tensor ${name}`);
  return found;
}

/** x [n, in] · W [in, out] + b. */
function linear(x: Float64Array[], w: ReferenceTensor, b: ReferenceTensor): Float64Array[] {
  const [inputs = 0, outputs = 0] = w.shape;
  return x.map((row) => {
    const out = Float64Array.from(b.data);
    for (let i = 0; i < inputs; i++) for (let o = 0; o < outputs; o++) out[o] = (out[o] as number) + (row[i] as number) * (w.data[i * outputs + o] as number);
    return out;
  });
}

function layerNorm(x: Float64Array[], weight: ReferenceTensor, bias: ReferenceTensor, eps: number): Float64Array[] {
  return x.map((row) => {
    const mean = row.reduce((a, b) => a + b, 0) / row.length;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / row.length;
    return row.map((value, h) => ((value - mean) / Math.sqrt(variance + eps)) * (weight.data[h] as number) + (bias.data[h] as number));
  });
}

const add = (a: Float64Array[], b: Float64Array[]) => a.map((row, t) => row.map((value, h) => value + ((b[t] as Float64Array)[h] as number)));

export async function loadEncoderReference(dir: string): Promise<EncoderReference> {
  const weights = await readSafetensors(join(dir, 'model.safetensors'));
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { hidden_size: number; layer_norm_eps: number };
  const { max_seq_length: maxSeqLength } = JSON.parse(await readFile(join(dir, 'sentence_bert_config.json'), 'utf8')) as { max_seq_length: number };
  const dense = JSON.parse(await readFile(join(dir, '2_Dense', 'config.json'), 'utf8')) as { in_features: number; out_features: number; bias: boolean; activation_function: string };
  const denseWeights = await readSafetensors(join(dir, '2_Dense', 'model.safetensors'));
  const activation = ACTIVATIONS[dense.activation_function];
  if (!activation) throw new Error(`reference: no activation ${dense.activation_function}`);
  const w = (name: string) => tensor(weights, name);
  const eps = config.layer_norm_eps;
  const hidden = config.hidden_size;

  const encode = (ids: readonly number[]): Float64Array[] => {
    const word = w('embeddings.word_embeddings.weight');
    const position = w('embeddings.position_embeddings.weight');
    const embedded = ids.map((id, t) => Float64Array.from({ length: hidden }, (_, h) => (word.data[id * hidden + h] as number) + (position.data[t * hidden + h] as number)));
    const x = layerNorm(embedded, w('embeddings.LayerNorm.weight'), w('embeddings.LayerNorm.bias'), eps);
    const q = linear(x, w('attention.self.query.weight'), w('attention.self.query.bias'));
    const k = linear(x, w('attention.self.key.weight'), w('attention.self.key.bias'));
    const v = linear(x, w('attention.self.value.weight'), w('attention.self.value.bias'));
    const attended = q.map((query) => {
      const scores = k.map((key) => query.reduce((sum, value, h) => sum + value * (key[h] as number), 0) / Math.sqrt(hidden));
      const max = Math.max(...scores);
      const exps = scores.map((score) => Math.exp(score - max));
      const total = exps.reduce((a, b) => a + b, 0);
      const out = new Float64Array(hidden);
      exps.forEach((e, s) => {
        for (let h = 0; h < hidden; h++) out[h] = (out[h] as number) + (e / total) * ((v[s] as Float64Array)[h] as number);
      });
      return out;
    });
    const a = layerNorm(add(x, linear(attended, w('attention.output.dense.weight'), w('attention.output.dense.bias'))), w('attention.output.LayerNorm.weight'), w('attention.output.LayerNorm.bias'), eps);
    const intermediate = linear(a, w('intermediate.dense.weight'), w('intermediate.dense.bias')).map((row) => row.map((value) => Math.max(0, value)));
    return layerNorm(add(a, linear(intermediate, w('output.dense.weight'), w('output.dense.bias'))), w('output.LayerNorm.weight'), w('output.LayerNorm.bias'), eps);
  };

  return {
    maxSeqLength,
    embed(ids) {
      const tokens = encode(ids.slice(0, maxSeqLength));
      const pooled = Float64Array.from({ length: hidden }, (_, h) => tokens.reduce((sum, row) => sum + (row[h] as number), 0) / tokens.length);
      const weight = tensor(denseWeights, 'linear.weight');
      const bias = dense.bias ? tensor(denseWeights, 'linear.bias') : undefined;
      const projected = Float64Array.from({ length: dense.out_features }, (_, o) => {
        let sum = bias ? (bias.data[o] as number) : 0;
        for (let i = 0; i < dense.in_features; i++) sum += (weight.data[o * dense.in_features + i] as number) * (pooled[i] as number);
        return activation(sum);
      });
      const norm = Math.sqrt(projected.reduce((sum, value) => sum + value * value, 0));
      return projected.map((value) => value / norm);
    },
  };
}
