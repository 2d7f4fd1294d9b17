import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zephyrTemplate } from '../../src/core/chatTemplate.ts';
import type { Engine } from '../../src/core/engine.ts';
import { keepNucleus } from '../../src/core/logits.ts';
import { planScoring, type ScoringPlan } from '../../src/core/scoringInput.ts';
import { createTransformersEngine } from '../../src/engines/transformers.ts';
import { loadReferenceLlama, logSoftmax, type ReferenceLlama } from '../support/llamaReference.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';

const PAIRS = [
  { question: 'What should I cook tonight?', chosen: 'A light vegetable curry with rice and lentils.', rejected: 'Order a pizza.' },
  { question: 'Is coffee healthy?', chosen: 'In moderation, yes: it is linked to lower risk of some diseases.', rejected: 'No.' },
];

let dir: string;
let engine: Engine;
let fromScratch: Engine;
let reference: ReferenceLlama;

beforeAll(async () => {
  dir = await ensureTinyModel();
  [engine, fromScratch, reference] = await Promise.all([
    createTransformersEngine({ model: dir, device: 'cpu' }),
    createTransformersEngine({ model: dir, device: 'cpu', promptCache: false }),
    loadReferenceLlama(dir),
  ]);
});

afterAll(async () => {
  await engine?.dispose();
  await fromScratch?.dispose();
});

async function plan(question: string, answers: string[], convention: 'authors' | 'clean' = 'authors'): Promise<ScoringPlan> {
  return planScoring((text) => engine.tokenize(text), question, answers, { convention, template: zephyrTemplate, special: { bos: 1, eos: 2 } });
}

/** Float64 log p(token | everything before it) for each continuation token, from one full forward. */
function referenceLogprobs(promptIds: number[], continuation: number[], shift = 0): number[] {
  const sequence = [...promptIds, ...continuation];
  const { logits } = reference.forward([sequence], [sequence.map(() => 1)]);
  const rows = logits[0] as Float64Array[];
  return continuation.map((token, t) => logSoftmax(rows[promptIds.length - 1 + t + shift] as Float64Array)[token] as number);
}

describe('Transformers.js engine on the tiny Llama (Node, CPU)', () => {
  it('reports what it loaded', () => {
    expect(engine.info).toMatchObject({ backend: 'transformers', device: 'cpu', dtype: 'fp32', contextWindow: 2048, bosTokenId: 1, eosTokenId: 2 });
    expect(engine.info.scoringMethod).toBe('one-pass-cached-prompt');
    expect(fromScratch.info.scoringMethod).toBe('full-sequence');
  });

  it('tokenizes with the Zephyr vocabulary and no special tokens added', async () => {
    expect(await engine.tokenize('<|user|>')).toEqual([523, 28766, 1838, 28766, 28767]);
    expect(await engine.tokenize('</s>')).toEqual([2]);
  });

  it('scores with the prompt cached exactly as scoring each continuation from scratch (≤ 1e-5)', async () => {
    for (const { question, chosen, rejected } of PAIRS) {
      const p = await plan(question, [chosen, rejected]);
      const request = { promptIds: p.sharedPromptIds, continuations: p.continuations };
      const [cached, scratch] = await Promise.all([engine.score(request), fromScratch.score(request)]);
      expect(cached.logprobs.map((l) => l.length)).toEqual(p.continuations.map((c) => c.length));
      cached.logprobs.flat().forEach((value, i) => expect(Math.abs(value - (scratch.logprobs.flat()[i] as number))).toBeLessThanOrEqual(1e-5));
    }
  });

  it('gives per-token log-probs equal to an independent float64 forward pass (≤ 2e-3), and an off-by-one would not pass', async () => {
    for (const convention of ['authors', 'clean'] as const) {
      const { question, chosen, rejected } = PAIRS[0] as (typeof PAIRS)[number];
      const p = await plan(question, [chosen, rejected], convention);
      const { logprobs } = await engine.score({ promptIds: p.sharedPromptIds, continuations: p.continuations });
      p.continuations.forEach((continuation, i) => {
        const expected = referenceLogprobs(p.sharedPromptIds, continuation);
        const got = logprobs[i] as number[];
        expect(Math.max(...got.map((value, t) => Math.abs(value - (expected[t] as number))))).toBeLessThan(2e-3);
        // Reading the logits one position late changes the numbers far beyond the tolerance.
        const late = referenceLogprobs(p.sharedPromptIds, continuation.slice(0, -1), 1);
        expect(Math.max(...late.map((value, t) => Math.abs(value - (got[t] as number))))).toBeGreaterThan(0.1);
      });
    }
  });

  it('ranks each scored token in the vocabulary and lists the top-k as the float64 reference does', async () => {
    const { question, chosen } = PAIRS[0] as (typeof PAIRS)[number];
    const p = await plan(question, [chosen]);
    const continuation = p.continuations[0] as number[];
    const request = { promptIds: p.sharedPromptIds, continuations: [continuation] };
    const ranked = (await engine.scoreRanked?.(request, 3))?.[0] ?? [];
    const { logprobs } = await engine.score(request);
    // The log-probs are score's, bit for bit.
    expect(ranked.map((entry) => entry.logprob)).toEqual(logprobs[0]);
    const sequence = [...p.sharedPromptIds, ...continuation];
    const rows = reference.forward([sequence], [sequence.map(() => 1)]).logits[0] as Float64Array[];
    continuation.forEach((token, t) => {
      const expected = logSoftmax(rows[p.sharedPromptIds.length - 1 + t] as Float64Array);
      const order = Array.from(expected.keys()).sort((a, b) => (expected[b] as number) - (expected[a] as number));
      const entry = ranked[t];
      expect(entry?.top.map((top) => top.tokenId)).toEqual(order.slice(0, 3));
      expect(entry?.rank).toBe(order.indexOf(token) + 1);
      entry?.top.forEach((top) => expect(Math.abs(top.logprob - (expected[top.tokenId] as number))).toBeLessThan(2e-3));
    });
    // The random model does not always put the answer's token first: ranks above 1 are exercised.
    expect(ranked.some((entry) => entry.rank > 1)).toBe(true);
    expect((await engine.scoreRanked?.(request, 0))?.[0]?.every((entry) => entry.top.length === 0)).toBe(true);
  });

  it('refuses a token id outside the vocabulary before running the model', async () => {
    await expect(engine.score({ promptIds: [1, 32000], continuations: [[5]] })).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/Token id 32000 is outside the vocabulary .*0–31999/) });
    await expect(engine.generateFromIds?.([1, 99999], { maxNewTokens: 2 })).rejects.toMatchObject({ code: 'invalid-input' });
  });

  it('refuses a sequence longer than the context window with a message saying what to do', async () => {
    const promptIds = Array.from({ length: 2040 }, () => 100);
    await expect(engine.score({ promptIds, continuations: [Array.from({ length: 20 }, () => 200)] })).rejects.toMatchObject({
      code: 'context-exceeded',
      message: expect.stringMatching(/needs 2060 tokens .* context window of 2048: shorten/),
    });
  });

  it('generates greedily the same tokens as the float64 reference, streaming text deltas that add up', async () => {
    const messages = [{ role: 'user' as const, content: 'Tell me about the sea.' }];
    const deltas: string[] = [];
    const result = await engine.generate(messages, { maxNewTokens: 12, temperature: 0 }, (text) => deltas.push(text));
    const promptIds = [1, ...(await engine.tokenize(zephyrTemplate.render(messages, { addGenerationPrompt: true })))];
    expect(result.prompt).toBe('<|user|>\nTell me about the sea.</s>\n<|assistant|>\n');
    expect(result.promptTokenCount).toBe(promptIds.length);
    expect(result.tokenIds).toEqual(reference.greedyContinuation(promptIds, 12));
    expect(deltas.join('')).toBe(result.text);
    expect(result.finishReason).toBe(result.tokenIds.at(-1) === 2 ? 'eos' : 'length');
  });

  it('continues raw token ids (no chat template) greedily like the float64 reference', async () => {
    const promptIds = [1, ...(await engine.tokenize('Once upon a time'))];
    const result = await engine.generateFromIds?.(promptIds, { maxNewTokens: 10, temperature: 0 });
    expect(result?.tokenIds).toEqual(reference.greedyContinuation(promptIds, 10));
    expect(result?.prompt).toBe('<s> Once upon a time');
    expect(result?.promptTokenCount).toBe(promptIds.length);
  });

  it('samples reproducibly for a seed, with top-p', async () => {
    const messages = [{ role: 'user' as const, content: 'Hi' }];
    const options = { maxNewTokens: 16, temperature: 1, topP: 0.9, seed: 11 };
    const [a, b] = [await engine.generate(messages, options), await engine.generate(messages, options)];
    const c = await engine.generate(messages, { ...options, seed: 12 });
    expect(a.tokenIds).toEqual(b.tokenIds);
    expect(c.tokenIds).not.toEqual(a.tokenIds);
  });

  it('samples with top-k: k = 1 at a high temperature is the float64 greedy continuation', async () => {
    const promptIds = [1, ...(await engine.tokenize('Once upon a time'))];
    const result = await engine.generateFromIds?.(promptIds, { maxNewTokens: 10, temperature: 2, topK: 1, topP: 0.8, seed: 5 });
    expect(result?.tokenIds).toEqual(reference.greedyContinuation(promptIds, 10));
  });

  it('stops at the next token when cancelled mid-stream', async () => {
    const controller = new AbortController();
    let streamed = 0;
    const result = await engine.generate([{ role: 'user', content: 'Hi' }], { maxNewTokens: 200, temperature: 1, seed: 3 }, () => {
      if (++streamed === 3) controller.abort();
    }, controller.signal);
    expect(result.finishReason).toBe('aborted');
    expect(result.tokenIds.length).toBeLessThan(10);
  });
});

describe('keepNucleus (top-k, then top-p)', () => {
  it('runs top-k before top-p, as Hugging Face does, keeping ties with the k-th logit', () => {
    // Probabilities 0.3, 0.25, 0.2, 0.15, 0.1. Top-2 leaves 0.3 and 0.25, renormalised 0.545 and
    // 0.455, so top-p 0.5 keeps the first alone; top-p first would keep both (0.3 < 0.5).
    const row = Float32Array.from([0.3, 0.25, 0.2, 0.15, 0.1].map(Math.log));
    keepNucleus(row, 0.5, 2);
    expect(Array.from(row)).toEqual([Math.fround(Math.log(0.3)), -Infinity, -Infinity, -Infinity, -Infinity]);
    const ties = Float32Array.from([2, 1, 1, 0]);
    keepNucleus(ties, 1, 2);
    expect(Array.from(ties)).toEqual([2, 1, 1, -Infinity]);
    const kOnly = Float32Array.from([0, 3, 1, 2]);
    keepNucleus(kOnly, 1, 3);
    expect(Array.from(kOnly)).toEqual([-Infinity, 3, 1, 2]);
  });

  it('keeps the smallest set of tokens whose probability reaches p', () => {
    // Probabilities ∝ e^3, e^2, e^1, e^0 ≈ 0.644, 0.237, 0.087, 0.032.
    const row = Float32Array.from([1, 3, 0, 2]);
    keepNucleus(row, 0.85);
    expect(Array.from(row)).toEqual([-Infinity, 3, -Infinity, 2]);
    const all = Float32Array.from([1, 3, 0, 2]);
    keepNucleus(all, 1);
    expect(Array.from(all)).toEqual([1, 3, 0, 2]);
  });
});
