import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/core/engine.ts';
import type { EmbeddingProvider, RewardProvider } from '../../src/core/providers.ts';
import { createTransformersEngine } from '../../src/engines/transformers.ts';
import { createLocalChatProvider, createLocalEmbeddingProvider, createLocalRewardProvider } from '../../scripts/lib/providers.ts';
import { openRequestCache } from '../../scripts/lib/requestCache.ts';
import { AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';
import { embeddingPipelineOf, readSafetensors } from '../../scripts/lib/sentenceTransformers.ts';
import { encodeSafetensors } from '../../scripts/tinyModel/safetensors.ts';
import { buildEncoderOnnx, makeTinyEncoder } from '../../scripts/tinyModel/tinyEncoder.ts';
import { loadEncoderReference } from '../support/encoderReference.ts';
import { TINY_ENCODER_FIXTURES, ensureTinyEncoders } from '../../scripts/fixtures/tinyEncoderFixture.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';

type Disposable<T> = T & { dispose(): Promise<void> };

let embedder: Disposable<EmbeddingProvider>;
let reward: Disposable<RewardProvider>;
let decoderStyleReward: Disposable<RewardProvider>;
let engine: Engine;
let scratch: string;

beforeAll(async () => {
  const dirs = await ensureTinyEncoders();
  scratch = await mkdtemp(join(tmpdir(), 'local-providers-'));
  // The same reward model under a model_type Transformers.js has no sequence-classification class
  // for, as a decoder reward model's config would be: it must load through AutoModel instead.
  const decoderDir = join(scratch, 'decoder-style-reward');
  await cp(dirs.reward, decoderDir, { recursive: true });
  const config = JSON.parse(await readFile(join(decoderDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(decoderDir, 'config.json'), JSON.stringify({ ...config, model_type: 'tiny_decoder_reward', architectures: ['TinyDecoderReward'] }));
  [embedder, reward, decoderStyleReward, engine] = await Promise.all([
    createLocalEmbeddingProvider(dirs.embedder, { batchSize: 3 }),
    createLocalRewardProvider(dirs.reward, { batchSize: 2 }),
    createLocalRewardProvider(decoderDir),
    createTransformersEngine({ model: await ensureTinyModel(), device: 'cpu' }),
  ]);
});

afterAll(async () => {
  await Promise.all([embedder?.dispose(), reward?.dispose(), decoderStyleReward?.dispose(), engine?.dispose()]);
  await rm(scratch, { recursive: true, force: true });
});

const dot = (a: number[], b: number[]) => a.reduce((sum, value, i) => sum + value * (b[i] as number), 0);
const norm = (a: number[]) => Math.sqrt(dot(a, a));

describe('tiny encoder generator', () => {
  it('is deterministic for a seed and differs across seeds and kinds', () => {
    expect(Buffer.from(buildEncoderOnnx('embedder', 1)).equals(Buffer.from(buildEncoderOnnx('embedder', 1)))).toBe(true);
    expect(Buffer.from(buildEncoderOnnx('embedder', 1)).equals(Buffer.from(buildEncoderOnnx('embedder', 2)))).toBe(false);
    expect(Buffer.from(buildEncoderOnnx('embedder', 1)).equals(Buffer.from(buildEncoderOnnx('reward', 1)))).toBe(false);
  });
});

describe('local embedding provider', () => {
  const texts = [
    'I like lamps.',
    'I like lamps.',
    'A long walk on the beach at sunset, then dinner with friends.',
    'Quantum chromodynamics describes the strong interaction.',
    'I like lamps.',
  ];

  it('returns one L2-normalised vector per text, identical texts at cosine 1', async () => {
    const vectors = await embedder.embed(texts);
    expect(vectors).toHaveLength(texts.length);
    for (const vector of vectors) {
      expect(vector).toHaveLength(32);
      expect(Math.abs(norm(vector) - 1)).toBeLessThan(1e-5);
    }
    const [a, b, c, d, e] = vectors as [number[], number[], number[], number[], number[]];
    expect(dot(a, b)).toBeCloseTo(1, 6);
    // Across batches (batchSize 3) and padded to another length, the same text still gives the same vector.
    expect(dot(a, e)).toBeCloseTo(1, 6);
    expect(dot(a, c)).toBeLessThan(0.999);
    expect(dot(c, d)).toBeLessThan(0.999);
  });

  it('embeds a text the same alone as in a padded batch', async () => {
    const [alone] = await embedder.embed(['I like lamps.']);
    const [, inBatch] = await embedder.embed(['A much longer sentence that forces padding of the short one.', 'I like lamps.']);
    expect(Math.max(...(alone as number[]).map((value, i) => Math.abs(value - ((inBatch as number[])[i] as number))))).toBeLessThan(1e-5);
  });

  it('returns nothing for no texts', async () => {
    expect(await embedder.embed([])).toEqual([]);
  });
});

describe('local embedding provider on a sentence-transformers folder', () => {
  // Longer than max_seq_length (16 tokens) and shorter, so batches truncate and pad.
  const texts = [
    'I like lamps.',
    'A long walk on the beach at sunset, then dinner with friends, then a film that runs far too late into the night.',
    'Quantum chromodynamics describes the strong interaction.',
    'Yes.',
    'I like lamps.',
  ];
  let tokenizer: PreTrainedTokenizer;
  let folders: { modules: string; t5Shape: string; inGraph: string };
  let providers: Disposable<EmbeddingProvider>[];

  beforeAll(async () => {
    const dirs = await ensureTinyEncoders();
    tokenizer = await AutoTokenizer.from_pretrained(dirs.sentenceTransformer, { local_files_only: true });
    // sentence-t5's Dense: no bias, identity (the fixture's has both, so neither can be forgotten).
    const t5Shape = join(scratch, 'sentence-t5-shape');
    await cp(dirs.sentenceTransformer, t5Shape, { recursive: true });
    const dense = JSON.parse(await readFile(join(t5Shape, '2_Dense', 'config.json'), 'utf8')) as { in_features: number; out_features: number };
    await writeFile(join(t5Shape, '2_Dense', 'config.json'), JSON.stringify({ ...dense, bias: false, activation_function: 'torch.nn.modules.linear.Identity' }));
    const weight = readSafetensors(join(dirs.sentenceTransformer, '2_Dense', 'model.safetensors')).get('linear.weight');
    await writeFile(join(t5Shape, '2_Dense', 'model.safetensors'), encodeSafetensors(new Map([['linear.weight', weight as { shape: number[]; data: Float32Array }]]), { format: 'pt' }));
    const inGraph = join(scratch, 'sentence-transformer-export');
    await makeTinyEncoder({ outDir: inGraph, seed: TINY_ENCODER_FIXTURES['sentence-transformer'].seed, kind: 'sentence-transformer', modulesInGraph: true });
    folders = { modules: dirs.sentenceTransformer, t5Shape, inGraph };
    providers = await Promise.all([folders.modules, folders.t5Shape, folders.inGraph].map((dir) => createLocalEmbeddingProvider(dir, { batchSize: 3 })));
  });

  afterAll(async () => {
    await Promise.all((providers ?? []).map((provider) => provider.dispose()));
  });

  const maxDifference = (vectors: number[][], expected: Float64Array[]) => Math.max(...vectors.flatMap((vector, row) => vector.map((value, i) => Math.abs(value - ((expected[row] as Float64Array)[i] as number)))));

  it('truncates, pools, applies Dense and normalises as sentence-transformers does: equal to a float64 computation (≤ 1e-5)', async () => {
    for (const [index, dir] of [folders.modules, folders.t5Shape].entries()) {
      const reference = await loadEncoderReference(dir);
      const expected = texts.map((text) => reference.embed(tokenizer.encode(text)));
      expect(tokenizer.encode(texts[1] as string).length).toBeGreaterThan(reference.maxSeqLength);
      const vectors = await (providers[index] as EmbeddingProvider).embed(texts);
      expect(vectors.map((vector) => vector.length)).toEqual(texts.map(() => 24));
      expect(maxDifference(vectors, expected)).toBeLessThan(1e-5);
    }
  });

  it('uses a graph\u2019s own sentence_embedding output when the export ran the modules in-graph', async () => {
    const reference = await loadEncoderReference(folders.inGraph);
    const vectors = await (providers[2] as EmbeddingProvider).embed(texts);
    expect(maxDifference(vectors, texts.map((text) => reference.embed(tokenizer.encode(text))))).toBeLessThan(1e-5);
    // The same numbers as running the module files outside the graph.
    const outside = await (providers[0] as EmbeddingProvider).embed(texts);
    expect(maxDifference(vectors, outside.map((vector) => Float64Array.from(vector)))).toBeLessThan(1e-5);
  });

  it('describes the pipeline for the card: the modules, or the default without modules.json', async () => {
    expect(embeddingPipelineOf(folders.modules).description).toBe('Transformer (≤ 16 tokens) → Pooling (mean) → Dense (32 → 24, bias, Tanh) → Normalize (modules.json)');
    expect(embeddingPipelineOf(folders.t5Shape).description).toBe('Transformer (≤ 16 tokens) → Pooling (mean) → Dense (32 → 24, Identity) → Normalize (modules.json)');
    expect(embeddingPipelineOf((await ensureTinyEncoders()).embedder).description).toBe('Transformer → Pooling (mean) → Normalize (no modules.json: mean pooling and L2 normalisation)');
  });
});

describe('local reward provider', () => {
  const items = [
    { question: 'What should I cook tonight?', answer: 'A light vegetable curry with rice and lentils.' },
    { question: 'What should I cook tonight?', answer: 'Order a pizza.' },
    { question: 'Is coffee healthy?', answer: 'In moderation, yes.' },
    { question: 'What should I cook tonight?', answer: 'A light vegetable curry with rice and lentils.' },
    { question: 'Is coffee healthy?', answer: 'No.' },
  ];

  it('returns one finite raw scalar per item, differing between items and stable across batches', async () => {
    const rewards = await reward.score(items);
    expect(rewards).toHaveLength(items.length);
    expect(rewards.every(Number.isFinite)).toBe(true);
    // Raw logits, not a softmax over one label (which would be 1 for everything).
    expect(rewards.some((value) => Math.abs(value - 1) > 1e-3)).toBe(true);
    expect(new Set(rewards.map((value) => value.toFixed(6))).size).toBe(4);
    // Items 0 and 3 are equal but fall in different batches (batchSize 2) with different padding.
    expect(Math.abs((rewards[0] as number) - (rewards[3] as number))).toBeLessThan(1e-5);
    const alone = await reward.score([items[1] as (typeof items)[number]]);
    expect(Math.abs((alone[0] as number) - (rewards[1] as number))).toBeLessThan(1e-5);
  });

  it('loads a reward model with no sequence-classification class through AutoModel, with the same scores', async () => {
    const viaAutoModel = await decoderStyleReward.score(items);
    const viaClassifier = await reward.score(items);
    expect(Math.max(...viaAutoModel.map((value, i) => Math.abs(value - (viaClassifier[i] as number))))).toBeLessThan(1e-5);
  });

  it('names the missing files of a wrong folder', async () => {
    await expect(createLocalRewardProvider(scratch)).rejects.toMatchObject({ code: 'model-files-missing' });
  });
});

describe('local chat provider', () => {
  const request = { messages: [{ role: 'user' as const, content: 'Hi' }], temperature: 1, topP: 0.9, topK: 5, maxTokens: 8, seed: 40, n: 3 };

  it('makes n completions by repeated generation with seeds seed, seed+1, …, and counts usage', async () => {
    const provider = createLocalChatProvider(engine);
    const response = await provider.chat(request);
    const expected = [];
    for (const seed of [40, 41, 42]) expected.push(await engine.generate(request.messages, { maxNewTokens: 8, temperature: 1, topP: 0.9, topK: 5, seed }));
    expect(response.texts).toEqual(expected.map((result) => result.text));
    expect(response.cached).toBe(false);
    expect(response.usage).toEqual({ promptTokens: expected[0]?.promptTokenCount, completionTokens: expected.reduce((sum, result) => sum + result.tokenIds.length, 0) });
    expect(provider.id).toBe(`local:${engine.info.model}`);
    expect(provider.stats()).toMatchObject({ calls: 1, cacheHits: 0, estimatedCostUsd: null });
  });

  it('answers a repeated request from the cache without generating', async () => {
    let generations = 0;
    const counting: Engine = { info: engine.info, score: (r, s) => engine.score(r, s), tokenize: (t) => engine.tokenize(t), dispose: async () => {}, generate: (...args) => (generations++, engine.generate(...args)) };
    const cache = openRequestCache(':memory:');
    const first = await createLocalChatProvider(counting, { cache }).chat(request);
    expect(generations).toBe(3);
    const rerun = createLocalChatProvider(counting, { cache });
    const second = await rerun.chat(request);
    expect(generations).toBe(3);
    expect(second).toEqual({ ...first, cached: true });
    expect(rerun.stats().cacheHits).toBe(1);
    cache.close();
  });
});
