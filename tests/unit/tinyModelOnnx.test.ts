/**
 * onnx/model.onnx run directly in onnxruntime-node (CPU) against the independent float64
 * reference: full sequence, KV-cache decoding, left-padded batches, num_logits_to_keep, the
 * transformers.js I/O contract, and next-token distributions that are far from uniform.
 */
import { AutoTokenizer, env } from '@huggingface/transformers';
import pkg from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadReferenceLlama, logSoftmax, positionIdsFromMask, argmax } from '../support/llamaReference.ts';
import type { ReferenceCache, ReferenceLlama } from '../support/llamaReference.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';

env.allowRemoteModels = false;
env.useFSCache = false;

const VOCAB = 32000;
const LAYERS = 2;
const KV_HEADS = 2;
const HEAD_DIM = 16;
const PAD_ID = 2;
/** float32 graph vs float64 reference. */
const TOLERANCE = 1e-4;

const { onnx } = pkg;

let modelPath: string;
let session: ort.InferenceSession;
let reference: ReferenceLlama;
/** A Zephyr-formatted chat from the real tokenizer. */
let chatIds: number[];
/** Reference logits of `chatIds` in one unpadded pass. */
let chatLogits: Float64Array[];

beforeAll(async () => {
  const dir = await ensureTinyModel();
  modelPath = join(dir, 'onnx', 'model.onnx');
  session = await ort.InferenceSession.create(modelPath, { executionProviders: ['cpu'] });
  reference = await loadReferenceLlama(dir);
  const tokenizer = await AutoTokenizer.from_pretrained(dir);
  const chat = [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: 'Name three colours of the rainbow.' },
  ];
  chatIds = tokenizer.apply_chat_template(chat, { add_generation_prompt: true, return_tensor: false, return_dict: false }) as number[];
  chatLogits = reference.forward([chatIds], [chatIds.map(() => 1)]).logits[0] as Float64Array[];
});

type Feeds = Record<string, ort.Tensor>;

interface OnnxStep {
  logits: ort.Tensor;
  /** The `present.*` outputs renamed to `past_key_values.*`, ready to feed back. */
  past: Feeds;
}

function int64Tensor(rows: number[][]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0]?.length ?? 0]);
}

function emptyPast(batch: number): Feeds {
  const past: Feeds = {};
  for (let layer = 0; layer < LAYERS; layer++) {
    for (const kind of ['key', 'value']) past[`past_key_values.${layer}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [batch, KV_HEADS, 0, HEAD_DIM]);
  }
  return past;
}

/** One session run with transformers.js-style position ids derived from the mask. */
async function runOnnx(inputIds: number[][], attentionMask: number[][], past: Feeds = emptyPast(inputIds.length), logitsToKeep = 0): Promise<OnnxStep> {
  const positionIds = attentionMask.map((row, b) => positionIdsFromMask(row, (inputIds[b] as number[]).length));
  const outputs = await session.run({
    input_ids: int64Tensor(inputIds),
    attention_mask: int64Tensor(attentionMask),
    position_ids: int64Tensor(positionIds),
    num_logits_to_keep: new ort.Tensor('int64', BigInt64Array.of(BigInt(logitsToKeep)), []),
    ...past,
  });
  const nextPast: Feeds = {};
  for (const [name, tensor] of Object.entries(outputs)) {
    if (name.startsWith('present.')) nextPast[name.replace('present', 'past_key_values')] = tensor;
  }
  return { logits: outputs.logits as ort.Tensor, past: nextPast };
}

/** Logits of one (row, position) of a [B, S, V] tensor. */
function logitsAt(logits: ort.Tensor, row: number, position: number): Float32Array {
  const positions = logits.dims[1] as number;
  const start = (row * positions + position) * VOCAB;
  return (logits.data as Float32Array).subarray(start, start + VOCAB);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

/** Largest difference between ORT positions [from, from + expected.length) of a row and the expected rows. */
function maxDiffFromRow(logits: ort.Tensor, row: number, from: number, expected: Float64Array[]): number {
  return Math.max(...expected.map((e, i) => maxAbsDiff(logitsAt(logits, row, from + i), e)));
}

/** A reference cache layer as the ONNX [B, KV, T, D] layout. */
function flattenCache(cache: ReferenceCache, layer: number, kind: 'key' | 'value'): Float64Array {
  return Float64Array.from(cache.flatMap((row) => (row[layer] as (typeof row)[number])[kind].flatMap((head) => head.flatMap((v) => [...v]))));
}

describe('tiny model ONNX graph', () => {
  it('is IR 8 / opset 17 with standard-domain operators only', async () => {
    const model = onnx.ModelProto.decode(await readFile(modelPath));
    expect(Number(model.irVersion)).toBe(8);
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 17]]);
    const nodes = model.graph?.node ?? [];
    expect(nodes.length).toBeGreaterThan(0);
    expect(nodes.filter((node) => node.domain)).toEqual([]);
    // Weights are embedded: the browser would need extra loader flags for external data.
    const initializers = model.graph?.initializer ?? [];
    expect(initializers.filter((tensor) => (tensor.externalData ?? []).length > 0)).toEqual([]);
  });

  it('declares the input and output contract transformers.js expects', () => {
    const pastNames = [0, 1].flatMap((l) => [`past_key_values.${l}.key`, `past_key_values.${l}.value`]);
    expect(session.inputNames).toEqual(['input_ids', 'attention_mask', 'position_ids', ...pastNames, 'num_logits_to_keep']);
    expect(session.outputNames).toEqual(['logits', ...[0, 1].flatMap((l) => [`present.${l}.key`, `present.${l}.value`])]);
    const shapes = Object.fromEntries(session.inputMetadata.map((m) => [m.name, m.isTensor ? m.shape : null]));
    expect(shapes.input_ids).toEqual(['batch_size', 'sequence_length']);
    expect(shapes.attention_mask).toEqual(['batch_size', 'total_sequence_length']);
    expect(shapes['past_key_values.1.value']).toEqual(['batch_size', KV_HEADS, 'past_sequence_length', HEAD_DIM]);
    expect(shapes.num_logits_to_keep).toEqual([]);
  });

  it('matches the float64 reference on a full chat sequence', async () => {
    expect(chatIds.length).toBeGreaterThanOrEqual(20);
    expect(chatIds.length).toBeLessThanOrEqual(40);
    const { logits } = await runOnnx([chatIds], [chatIds.map(() => 1)]);
    expect(logits.dims).toEqual([1, chatIds.length, VOCAB]);
    expect(maxDiffFromRow(logits, 0, 0, chatLogits)).toBeLessThan(TOLERANCE);
  });

  it('matches the reference when decoding incrementally with the KV cache', async () => {
    const prefixLength = 15;
    let step = await runOnnx([chatIds.slice(0, prefixLength)], [Array(prefixLength).fill(1)]);
    expect(maxDiffFromRow(step.logits, 0, 0, chatLogits.slice(0, prefixLength))).toBeLessThan(TOLERANCE);
    let referenceStep = reference.forward([chatIds.slice(0, prefixLength)], [Array(prefixLength).fill(1)]);

    const chunkSizes = [1, 3, 1, 2, 5, 1];
    let seen = prefixLength;
    for (let c = 0; seen < chatIds.length; c++) {
      const chunk = chatIds.slice(seen, seen + (chunkSizes[c % chunkSizes.length] as number));
      const mask = [Array(seen + chunk.length).fill(1)];
      step = await runOnnx([chunk], mask, step.past);
      referenceStep = reference.forward([chunk], mask, referenceStep.present);
      const expected = chatLogits.slice(seen, seen + chunk.length);
      expect(maxDiffFromRow(step.logits, 0, 0, expected)).toBeLessThan(TOLERANCE);
      // The reference's own cache path must agree with its one-pass result to float64 precision.
      expect(Math.max(...expected.map((e, i) => maxAbsDiff(referenceStep.logits[0]?.[i] as Float64Array, e)))).toBeLessThan(1e-9);
      seen += chunk.length;
    }
    for (let layer = 0; layer < LAYERS; layer++) {
      for (const kind of ['key', 'value'] as const) {
        const present = step.past[`past_key_values.${layer}.${kind}`] as ort.Tensor;
        expect(present.dims).toEqual([1, KV_HEADS, chatIds.length, HEAD_DIM]);
        expect(maxAbsDiff(present.data as Float32Array, flattenCache(referenceStep.present, layer, kind))).toBeLessThan(TOLERANCE);
      }
    }
  });

  it('handles a left-padded batch, including a cached decoding step after it', async () => {
    const short = chatIds.slice(0, chatIds.length - 9);
    const padding = chatIds.length - short.length;
    const inputIds = [chatIds, [...Array(padding).fill(PAD_ID), ...short]];
    const mask = [chatIds.map(() => 1), [...Array(padding).fill(0), ...short.map(() => 1)]];
    const shortLogits = reference.forward([short], [short.map(() => 1)]).logits[0] as Float64Array[];

    const prompt = await runOnnx(inputIds, mask);
    expect(maxDiffFromRow(prompt.logits, 0, 0, chatLogits)).toBeLessThan(TOLERANCE);
    expect(maxDiffFromRow(prompt.logits, 1, padding, shortLogits)).toBeLessThan(TOLERANCE);
    const referencePadded = reference.forward(inputIds, mask);
    const paddedRow = referencePadded.logits[1]?.slice(padding) as Float64Array[];
    expect(Math.max(...paddedRow.map((l, i) => maxAbsDiff(l, shortLogits[i] as Float64Array)))).toBeLessThan(1e-9);

    const nextTokens = [523, 1976];
    const nextMask = mask.map((row) => [...row, 1]);
    const decoded = await runOnnx(nextTokens.map((t) => [t]), nextMask, prompt.past);
    const unpadded = [
      reference.forward([[...chatIds, nextTokens[0] as number]], [Array(chatIds.length + 1).fill(1)]),
      reference.forward([[...short, nextTokens[1] as number]], [Array(short.length + 1).fill(1)]),
    ];
    for (const row of [0, 1]) {
      const expectedRows = unpadded[row]?.logits[0] as Float64Array[];
      expect(maxAbsDiff(logitsAt(decoded.logits, row, 0), expectedRows[expectedRows.length - 1] as Float64Array)).toBeLessThan(TOLERANCE);
    }
  });

  it('num_logits_to_keep = k returns the last k rows of the full logits', async () => {
    const mask = [chatIds.map(() => 1)];
    const full = await runOnnx([chatIds], mask);
    for (const keep of [1, 4]) {
      const { logits } = await runOnnx([chatIds], mask, emptyPast(1), keep);
      expect(logits.dims).toEqual([1, keep, VOCAB]);
      for (let i = 0; i < keep; i++) {
        expect(maxAbsDiff(logitsAt(logits, 0, i), logitsAt(full.logits, 0, chatIds.length - keep + i))).toBeLessThan(1e-5);
      }
    }
  });

  it('gives peaked, context-dependent next-token distributions', () => {
    const logProbs = chatLogits.map((l) => logSoftmax(l));
    const entropies = logProbs.map((lp) => lp.reduce((h, v) => h - Math.exp(v) * v, 0));
    const meanEntropy = entropies.reduce((a, b) => a + b, 0) / entropies.length;
    expect(meanEntropy).toBeLessThan(8);
    const meanMaxProbability = logProbs.reduce((sum, lp) => sum + Math.exp(lp[argmax(lp)] as number), 0) / logProbs.length;
    expect(meanMaxProbability).toBeGreaterThan(100 / VOCAB);
    expect(new Set(chatLogits.map((l) => argmax(l))).size).toBeGreaterThan(chatLogits.length / 2);
  });
});
