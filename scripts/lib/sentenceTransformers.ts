/**
 * What `SentenceTransformer.encode` does around the transformer, read from a model folder's
 * sentence-transformers module files, so the local embedder embeds as the authors did (their
 * sentence-t5-xxl: Transformer → Pooling (mean) → Dense (1024 → 768, no bias, identity) → Normalize).
 *
 * Read here (each file zod-checked, every problem named with its file):
 * - `modules.json`: the module list, in order. Types are matched by class name, so
 *   `sentence_transformers.models.Dense` and later package paths both work.
 * - Transformer: must sit at the folder root (path ""), where the ONNX export is; its
 *   `sentence_bert_config.json` gives `max_seq_length` (tokens kept, as `encode` truncates) and
 *   `do_lower_case`.
 * - Pooling (`1_Pooling/config.json`): cls, max, mean, mean_sqrt_len_tokens, weightedmean and
 *   lasttoken, concatenated in sentence-transformers' order. Positions count from a text's first real
 *   token, so results match sentence-transformers' right padding whichever side pads.
 * - Dense (`2_Dense/config.json` + `model.safetensors`, tensors `linear.weight` [out, in] and
 *   `linear.bias` [out], F32/F16/BF16): y = activation(W x + b), activations Identity, Tanh, ReLU
 *   and Sigmoid, applied to the sentence embedding.
 * - Normalize: x / max(‖x‖₂, 1e-12), as torch's `F.normalize`.
 * - Dropout: nothing at inference.
 * Not supported, refused with the reason: other module types (LayerNorm, WordWeights, CNN, LSTM,
 * Router/Asym, StaticEmbedding, CLIP…), a Transformer module in a subfolder, Dense weights only in
 * `pytorch_model.bin` (a pickle: convert it to safetensors, command in the message), Dense on token
 * embeddings (`module_input_name`), other activations. Prompts (`config_sentence_transformers.json`)
 * are not applied: the authors' `encode` calls used none.
 *
 * A folder without `modules.json` keeps the embedder's earlier behaviour: mean pooling, then L2
 * normalisation, with the tokenizer's own length limit.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { AppError } from '../../src/core/errors.ts';

export const POOLING_MODES = ['cls', 'max', 'mean', 'mean_sqrt_len_tokens', 'weightedmean', 'lasttoken'] as const;
export type PoolingMode = (typeof POOLING_MODES)[number];

export const DENSE_ACTIVATIONS = {
  Identity: (x: number) => x,
  Tanh: Math.tanh,
  ReLU: (x: number) => Math.max(0, x),
  Sigmoid: (x: number) => 1 / (1 + Math.exp(-x)),
} as const satisfies Record<string, (x: number) => number>;
export type DenseActivation = keyof typeof DENSE_ACTIVATIONS;

export interface DenseStep {
  kind: 'dense';
  path: string;
  inFeatures: number;
  outFeatures: number;
  activation: DenseActivation;
  /** Row-major [outFeatures, inFeatures], as torch's nn.Linear stores it. */
  weight: Float32Array;
  bias?: Float32Array;
}

export type ModuleStep = DenseStep | { kind: 'normalize' };

export interface EmbeddingPipeline {
  /** Where the steps come from: the folder's modules.json, or the default for a folder without one. */
  source: 'modules.json' | 'default';
  /** Tokens kept per text; undefined: the tokenizer's own limit. */
  maxSeqLength?: number;
  doLowerCase: boolean;
  pooling: PoolingMode[];
  /** After pooling, in order. */
  steps: ModuleStep[];
}

const ModulesFile = z.array(z.object({ idx: z.number().int().optional(), name: z.string().optional(), path: z.string(), type: z.string() })).min(1);
const TransformerConfig = z.object({ max_seq_length: z.number().int().positive().nullish(), do_lower_case: z.boolean().optional() });
const PoolingConfig = z.object({
  pooling_mode_cls_token: z.boolean().optional(),
  pooling_mode_max_tokens: z.boolean().optional(),
  pooling_mode_mean_tokens: z.boolean().optional(),
  pooling_mode_mean_sqrt_len_tokens: z.boolean().optional(),
  pooling_mode_weightedmean_tokens: z.boolean().optional(),
  pooling_mode_lasttoken: z.boolean().optional(),
});
const DenseConfig = z.object({
  in_features: z.number().int().positive(),
  out_features: z.number().int().positive(),
  bias: z.boolean().default(true),
  activation_function: z.string().default('torch.nn.modules.activation.Tanh'),
  module_input_name: z.string().optional(),
  module_output_name: z.string().nullish(),
});

const POOLING_KEYS = {
  cls: 'pooling_mode_cls_token',
  max: 'pooling_mode_max_tokens',
  mean: 'pooling_mode_mean_tokens',
  mean_sqrt_len_tokens: 'pooling_mode_mean_sqrt_len_tokens',
  weightedmean: 'pooling_mode_weightedmean_tokens',
  lasttoken: 'pooling_mode_lasttoken',
} as const satisfies Record<PoolingMode, keyof z.infer<typeof PoolingConfig>>;

/** A folder without modules.json (and a hub id): mean pooling, then L2 normalisation. */
export const DEFAULT_EMBEDDING_PIPELINE: EmbeddingPipeline = { source: 'default', doLowerCase: false, pooling: ['mean'], steps: [{ kind: 'normalize' }] };

function readJson<T>(file: string, schema: z.ZodType<T>, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new AppError('invalid-input', `${file} (${what}) cannot be read: ${(error as Error).message}.`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new AppError('invalid-input', `${file} (${what}) is not what sentence-transformers writes: ${z.prettifyError(parsed.error).split('\n').join(' ')}`);
  return parsed.data;
}

const className = (type: string) => type.split('.').at(-1) ?? type;

/** The folder's embedding pipeline: from its modules.json, or the default when it has none. */
export function readEmbeddingPipeline(folder: string): EmbeddingPipeline {
  const modulesPath = join(folder, 'modules.json');
  if (!existsSync(modulesPath)) return DEFAULT_EMBEDDING_PIPELINE;
  const modules = readJson(modulesPath, ModulesFile, 'the sentence-transformers module list');
  const [first, ...rest] = modules;
  if (!first || className(first.type) !== 'Transformer') {
    throw new AppError('unsupported', `${modulesPath}: the first module must be a Transformer, got ${first ? first.type : 'none'}.`);
  }
  if (first.path !== '') {
    throw new AppError('unsupported', `${modulesPath}: the Transformer module is in "${first.path}/"; the embedder needs it at the folder root, where config.json, the tokenizer and onnx/ are.`);
  }
  const transformerConfig = join(folder, 'sentence_bert_config.json');
  const transformer = existsSync(transformerConfig) ? readJson(transformerConfig, TransformerConfig, 'the Transformer module config') : {};
  const pipeline: EmbeddingPipeline = { source: 'modules.json', doLowerCase: transformer.do_lower_case ?? false, pooling: [], steps: [] };
  if (transformer.max_seq_length) pipeline.maxSeqLength = transformer.max_seq_length;
  for (const module of rest) {
    const type = className(module.type);
    const dir = join(folder, module.path);
    if (type === 'Pooling') {
      if (pipeline.pooling.length > 0 || pipeline.steps.length > 0) throw new AppError('unsupported', `${modulesPath}: one Pooling module, right after the Transformer, is supported.`);
      const config = readJson(join(dir, 'config.json'), PoolingConfig, 'the Pooling module config');
      pipeline.pooling = POOLING_MODES.filter((mode) => config[POOLING_KEYS[mode]] === true);
      if (pipeline.pooling.length === 0) throw new AppError('unsupported', `${join(dir, 'config.json')}: no pooling mode is switched on.`);
    } else if (type === 'Dense') {
      pipeline.steps.push(readDense(dir));
    } else if (type === 'Normalize') {
      pipeline.steps.push({ kind: 'normalize' });
    } else if (type !== 'Dropout') {
      throw new AppError('unsupported', `${modulesPath}: the module ${module.type} is not supported (Transformer, Pooling, Dense, Normalize and Dropout are).`);
    }
  }
  if (pipeline.pooling.length === 0) throw new AppError('unsupported', `${modulesPath} has no Pooling module: token embeddings cannot be compared as sentences.`);
  return pipeline;
}

function readDense(dir: string): DenseStep {
  const configPath = join(dir, 'config.json');
  const config = readJson(configPath, DenseConfig, 'the Dense module config');
  if ((config.module_input_name ?? 'sentence_embedding') !== 'sentence_embedding' || (config.module_output_name ?? 'sentence_embedding') !== 'sentence_embedding') {
    throw new AppError('unsupported', `${configPath}: a Dense layer on ${config.module_input_name ?? ''} (not the sentence embedding) is not supported.`);
  }
  const activation = className(config.activation_function);
  if (!(activation in DENSE_ACTIVATIONS)) {
    throw new AppError('unsupported', `${configPath}: the activation ${config.activation_function} is not supported (${Object.keys(DENSE_ACTIVATIONS).join(', ')} are).`);
  }
  const weightsPath = join(dir, 'model.safetensors');
  if (!existsSync(weightsPath)) {
    const pickle = join(dir, 'pytorch_model.bin');
    throw new AppError(
      'model-files-missing',
      existsSync(pickle)
        ? `${dir} has its Dense weights only in pytorch_model.bin, a pickle this tool does not read: convert it once with python -c "import torch; from safetensors.torch import save_file; save_file(torch.load('${pickle}'), '${weightsPath}')".`
        : `${dir} has no model.safetensors with the Dense layer's weights.`,
    );
  }
  const tensors = readSafetensors(weightsPath);
  const weight = tensors.get('linear.weight');
  if (!weight || weight.shape.join(',') !== `${config.out_features},${config.in_features}`) {
    throw new AppError('invalid-input', `${weightsPath}: expected linear.weight of shape [${config.out_features}, ${config.in_features}], got ${weight ? `[${weight.shape.join(', ')}]` : 'none'}.`);
  }
  const step: DenseStep = { kind: 'dense', path: dir, inFeatures: config.in_features, outFeatures: config.out_features, activation: activation as DenseActivation, weight: weight.data };
  if (config.bias) {
    const bias = tensors.get('linear.bias');
    if (!bias || bias.shape.join(',') !== String(config.out_features)) throw new AppError('invalid-input', `${weightsPath}: the config asks for a bias, but linear.bias of shape [${config.out_features}] is missing.`);
    step.bias = bias.data;
  }
  return step;
}

const SafetensorsHeader = z.record(z.string(), z.unknown());
const TensorEntry = z.object({ dtype: z.string(), shape: z.array(z.number().int().nonnegative()), data_offsets: z.tuple([z.number().int(), z.number().int()]) });

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction === 0 ? sign * Infinity : Number.NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** The tensors of a safetensors file as float32 (F32, F16 and BF16 are read). */
export function readSafetensors(path: string): Map<string, { shape: number[]; data: Float32Array }> {
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = bytes.byteLength >= 8 ? Number(view.getBigUint64(0, true)) : Number.NaN;
  if (!(headerLength > 0 && 8 + headerLength <= bytes.byteLength)) throw new AppError('invalid-input', `${path} is not a safetensors file.`);
  const header = SafetensorsHeader.parse(JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')));
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const bfloat = new DataView(new ArrayBuffer(4));
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const entry = TensorEntry.parse(value);
    const [begin, end] = entry.data_offsets;
    const count = entry.shape.reduce((a, b) => a * b, 1);
    const width = { F32: 4, F16: 2, BF16: 2 }[entry.dtype];
    if (width === undefined) throw new AppError('unsupported', `${path}: tensor ${name} is ${entry.dtype}; F32, F16 and BF16 are read.`);
    if (end - begin !== count * width || dataStart + end > bytes.byteLength) throw new AppError('invalid-input', `${path}: tensor ${name} has ${end - begin} bytes for shape [${entry.shape.join(', ')}].`);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      const at = dataStart + begin + i * width;
      if (entry.dtype === 'F32') data[i] = view.getFloat32(at, true);
      else if (entry.dtype === 'F16') data[i] = halfToFloat(view.getUint16(at, true));
      else {
        // BF16 is the upper half of a float32.
        bfloat.setUint32(0, (view.getUint16(at, true) << 16) >>> 0, true);
        data[i] = bfloat.getFloat32(0, true);
      }
    }
    tensors.set(name, { shape: entry.shape, data });
  }
  return tensors;
}

/** The pipeline a model folder asks for (a hub id, not read here, gets the default), and its description for the card. */
export function embeddingPipelineOf(model: string): { pipeline: EmbeddingPipeline; description: string } {
  const folder = resolve(model);
  const pipeline = existsSync(folder) && statSync(folder).isDirectory() ? readEmbeddingPipeline(folder) : DEFAULT_EMBEDDING_PIPELINE;
  return { pipeline, description: describeEmbeddingPipeline(pipeline) };
}

/** "Transformer (≤ 256 tokens) → Pooling (mean) → Dense (1024 → 768, Identity) → Normalize", for the card. */
export function describeEmbeddingPipeline(pipeline: EmbeddingPipeline): string {
  const transformer = `Transformer${pipeline.maxSeqLength ? ` (≤ ${pipeline.maxSeqLength} tokens${pipeline.doLowerCase ? ', lower-cased' : ''})` : pipeline.doLowerCase ? ' (lower-cased)' : ''}`;
  const steps = pipeline.steps.map((step) => (step.kind === 'normalize' ? 'Normalize' : `Dense (${step.inFeatures} → ${step.outFeatures}, ${step.bias ? 'bias, ' : ''}${step.activation})`));
  const chain = [transformer, `Pooling (${pipeline.pooling.join(' + ')})`, ...steps].join(' → ');
  return pipeline.source === 'modules.json' ? `${chain} (modules.json)` : `${chain} (no modules.json: mean pooling and L2 normalisation)`;
}

/**
 * Sentence embeddings from token embeddings [batch, tokens, hidden] and their attention mask
 * (1 = real token), through the pipeline's pooling and steps, in float64.
 */
export function embedFromTokens(tokens: Float32Array, dims: readonly [number, number, number], mask: ArrayLike<number | bigint>, pipeline: EmbeddingPipeline): number[][] {
  const [batch, length, hidden] = dims;
  const out: number[][] = [];
  for (let b = 0; b < batch; b++) {
    const real: number[] = [];
    for (let t = 0; t < length; t++) if (Number(mask[b * length + t]) !== 0) real.push(t);
    const row = (t: number) => tokens.subarray((b * length + t) * hidden, (b * length + t + 1) * hidden);
    let vector = pipeline.pooling.flatMap((mode) => pool(mode, real, row, hidden));
    for (const step of pipeline.steps) vector = step.kind === 'normalize' ? normalize(vector) : dense(vector, step);
    out.push(vector);
  }
  return out;
}

function pool(mode: PoolingMode, real: readonly number[], row: (t: number) => Float32Array, hidden: number): number[] {
  const result = new Array<number>(hidden).fill(mode === 'max' ? -Infinity : 0);
  if (real.length === 0) return result.fill(0);
  if (mode === 'cls' || mode === 'lasttoken') return Array.from(row(real[mode === 'cls' ? 0 : real.length - 1] as number));
  let weightSum = 0;
  real.forEach((t, position) => {
    const weight = mode === 'weightedmean' ? position + 1 : 1;
    weightSum += weight;
    const values = row(t);
    for (let h = 0; h < hidden; h++) result[h] = mode === 'max' ? Math.max(result[h] as number, values[h] as number) : (result[h] as number) + weight * (values[h] as number);
  });
  if (mode === 'max') return result;
  const divisor = mode === 'mean_sqrt_len_tokens' ? Math.sqrt(weightSum) : weightSum;
  return result.map((value) => value / divisor);
}

function dense(vector: readonly number[], step: DenseStep): number[] {
  if (vector.length !== step.inFeatures) throw new AppError('invalid-input', `${step.path} expects ${step.inFeatures} inputs, got a ${vector.length}-dimensional embedding: the module files do not fit this model.`);
  const activate = DENSE_ACTIVATIONS[step.activation];
  return Array.from({ length: step.outFeatures }, (_, o) => {
    let sum = step.bias ? (step.bias[o] as number) : 0;
    for (let i = 0; i < step.inFeatures; i++) sum += (step.weight[o * step.inFeatures + i] as number) * (vector[i] as number);
    return activate(sum);
  });
}

function normalize(vector: readonly number[]): number[] {
  const norm = Math.max(Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0)), 1e-12);
  return vector.map((value) => value / norm);
}
