/**
 * The in-page half of the WebLLM smoke test: scripts/smoke/webllm.ts bundles this module with
 * Vite, opens it in Chromium with WebGPU and calls `runSmoke`. It runs the real adapter
 * (src/engines/webllm.ts) on the real WebLLM and a real prebuilt model, and checks what the unit
 * tests can only check on the stand-in:
 * - forced decoding agrees with the raw logits WebLLM produced while it generated the same
 *   tokens (a spy LogitProcessor wrapped around the adapter's records them): an off-by-one,
 *   a stale KV cache or a processor that is not called would all show up here;
 * - it agrees with WebLLM's own `logprobs` of those tokens (temperature 1, no penalties);
 * - scoring continuations in either order gives identical numbers (the resets work);
 * - generation speed, with the scoring processor registered (it costs a logits copy per token);
 * - the run-time check's verdict, and forced decoding against the fast scoring path (one pass
 *   through batch_prefill) on a Zephyr-length pair: both timed, interleaved, and compared.
 *
 * Everything returned is plain JSON (it crosses Playwright's evaluate boundary).
 */
import type { LogitProcessor, MLCEngine } from '@mlc-ai/web-llm';
import type { WebLlmCatalogEntry } from '../../src/core/catalog.ts';
import { templateFromInfo } from '../../src/core/chatTemplate.ts';
import type { ScoringCheck } from '../../src/core/engine.ts';
import { toSerializedError, type SerializedError } from '../../src/core/errors.ts';
import { logSoftmaxAt } from '../../src/core/logits.ts';
import { planScoring } from '../../src/core/scoringInput.ts';
import { scorePair } from '../../src/core/scorer.ts';
import { createWebLlmEngine, type ScoringComparison } from '../../src/engines/webllm/index.ts';

export interface SmokeOptions {
  entry: WebLlmCatalogEntry;
  /** Greedy tokens generated for the speed measurement. */
  maxNewTokens: number;
  /** Tokens sampled for the agreement check. */
  referenceTokens: number;
  seed: number;
}

export interface GpuDescription {
  available: boolean;
  vendor?: string;
  architecture?: string;
  description?: string;
  shaderF16?: boolean;
}

export interface PairReport {
  id: string;
  chosenMean: number;
  rejectedMean: number;
  margin: number;
  correct: boolean;
  seconds: number;
  tokens: number;
}

export interface SmokeReport {
  gpu: GpuDescription;
  error?: SerializedError;
  loadSeconds?: number;
  generation?: { tokens: number; seconds: number; firstTokenSeconds: number | null; tokensPerSecond: number; decodeTokensPerSecond: number | null; finishReason: string };
  agreement?: {
    tokens: number;
    /** Forced decoding vs the raw logits WebLLM sampled from while generating the same tokens. */
    maxDiffRawLogits: number;
    /** Forced decoding vs WebLLM's own `logprobs` (null when WebLLM returned a different number of entries). */
    maxDiffWebLlmLogprobs: number | null;
    /** Prompt ids the adapter scores under, prefix ids (BOS) included. */
    adapterPromptTokens: number;
    /** WebLLM's `usage.prompt_tokens`, which leaves its prefix ids out. */
    webllmPromptTokens: number | null;
  };
  orderIndependent?: boolean;
  /** The run-time check the first score made, and both scoring paths on a long pair. */
  scoring?: { check: ScoringCheck | undefined; comparison: ScoringComparison | undefined; promptTokens: number; answerTokens: number[] };
  pairs?: PairReport[];
}

const PAIRS = [
  { id: 'cooking', userContent: 'What should I cook tonight?', chosen: 'A light vegetable curry with rice and lentils.', rejected: 'Order a pizza.' },
  { id: 'coffee', userContent: 'Is coffee healthy?', chosen: 'In moderation, yes: it is linked to a lower risk of some diseases.', rejected: 'No.' },
];

/** A long answer in the shape of Zephyr's (~320 tokens), for the speed comparison. */
const LONG_ANSWER = Array.from({ length: 16 }, (_, i) => `Point ${i + 1}: the sea keeps changing with the wind, the tides and the light over the water.`).join(' ');

/** Wraps the adapter's processor and keeps, for each sampled token, its log-prob under the raw logits. */
class SamplingSpy {
  #recording = false;
  #lastLogits: Float32Array | undefined;
  samples: { token: number; logprob: number }[] = [];

  wrap(inner: LogitProcessor): LogitProcessor {
    return {
      processLogits: (logits) => {
        // Copied before the adapter's processor sees them (it may mask them when scoring).
        if (this.#recording) this.#lastLogits = Float32Array.from(logits);
        return inner.processLogits(logits);
      },
      processSampledToken: (token) => {
        if (this.#recording && this.#lastLogits) this.samples.push({ token, logprob: logSoftmaxAt(this.#lastLogits, token) });
        inner.processSampledToken(token);
      },
      resetState: () => inner.resetState(),
    };
  }

  start(): void {
    this.samples = [];
    this.#recording = true;
  }

  stop(): { token: number; logprob: number }[] {
    this.#recording = false;
    return this.samples;
  }
}

export async function runSmoke(options: SmokeOptions): Promise<SmokeReport> {
  const gpu = await describeGpu();
  const report: SmokeReport = { gpu };
  if (!gpu.available) return report;
  const spy = new SamplingSpy();
  const captured: { mlc?: MLCEngine } = {};
  try {
    const loadStart = performance.now();
    let lastText = '';
    const engine = await createWebLlmEngine({ entry: options.entry, baseUrl: location.href }, (progress) => {
      if (progress.text !== lastText) console.log(`[load] ${progress.stage} ${progress.fraction === undefined ? '' : `${Math.round(progress.fraction * 100)}% `}${progress.text}`);
      lastText = progress.text;
    }, {
      createEngine: async (config) => {
        const { MLCEngine } = await import('@mlc-ai/web-llm');
        const registry = new Map([...(config.logitProcessorRegistry ?? new Map<string, LogitProcessor>())].map(([id, inner]) => [id, spy.wrap(inner)]));
        captured.mlc = new MLCEngine({ ...config, logitProcessorRegistry: registry });
        return captured.mlc;
      },
    });
    report.loadSeconds = (performance.now() - loadStart) / 1000;
    const mlc = captured.mlc as MLCEngine;

    try {
      // Speed: greedy generation through the adapter.
      const messages = [{ role: 'user' as const, content: 'Describe the sea in five sentences.' }];
      let firstAt: number | null = null;
      const generateStart = performance.now();
      const generated = await engine.generate(messages, { maxNewTokens: options.maxNewTokens, temperature: 0 }, () => {
        firstAt ??= performance.now();
      });
      const seconds = (performance.now() - generateStart) / 1000;
      const tokens = generated.tokenIds.length;
      const decodeSeconds = firstAt === null ? 0 : (performance.now() - firstAt) / 1000;
      report.generation = {
        tokens,
        seconds,
        firstTokenSeconds: firstAt === null ? null : (firstAt - generateStart) / 1000,
        tokensPerSecond: tokens / seconds,
        decodeTokensPerSecond: tokens > 1 && decodeSeconds > 0 ? (tokens - 1) / decodeSeconds : null,
        finishReason: generated.finishReason,
      };

      // Agreement: sample with WebLLM's own API, then score the same tokens teacher-forced.
      spy.start();
      const reference = await mlc.chat.completions.create({
        messages,
        stream: false,
        temperature: 1,
        top_p: 1,
        seed: options.seed,
        max_tokens: options.referenceTokens,
        logprobs: true,
        top_logprobs: 1,
        repetition_penalty: 1,
        frequency_penalty: 0,
        presence_penalty: 0,
      });
      const samples = spy.stop();
      const promptIds = await engine.promptTokenIds(messages);
      const forced = (await engine.score({ promptIds, continuations: [samples.map((s) => s.token)] })).logprobs[0] ?? [];
      const webllm = reference.choices[0]?.logprobs?.content?.map((entry) => entry.logprob) ?? [];
      report.agreement = {
        tokens: samples.length,
        maxDiffRawLogits: maxAbsDiff(forced, samples.map((s) => s.logprob)),
        maxDiffWebLlmLogprobs: webllm.length === forced.length ? maxAbsDiff(forced, webllm) : null,
        adapterPromptTokens: promptIds.length,
        webllmPromptTokens: reference.usage?.prompt_tokens ?? null,
      };

      // Resets: the same continuations scored in both orders must give identical numbers.
      const pair = PAIRS[0] as (typeof PAIRS)[number];
      const plan = await planScoring((text) => engine.tokenize(text), pair.userContent, [pair.chosen, pair.rejected], {
        convention: 'clean',
        template: templateFromInfo(engine.info.chatTemplate),
        special: { bos: engine.info.bosTokenId, eos: engine.info.eosTokenId },
      });
      const forward = await engine.score({ promptIds: plan.sharedPromptIds, continuations: plan.continuations });
      const backward = await engine.score({ promptIds: plan.sharedPromptIds, continuations: [...plan.continuations].reverse() });
      report.orderIndependent = JSON.stringify(forward.logprobs) === JSON.stringify([...backward.logprobs].reverse());

      // Scoring paths: the check the first score made, then forced decoding against the fast path.
      const long = await planScoring((text) => engine.tokenize(text), `${LONG_ANSWER}\nWhich point matters most?`, [LONG_ANSWER, LONG_ANSWER.split('').reverse().join('')], {
        convention: 'clean',
        template: templateFromInfo(engine.info.chatTemplate),
        special: { bos: engine.info.bosTokenId, eos: engine.info.eosTokenId },
      });
      const longRequest = { promptIds: long.sharedPromptIds, continuations: long.continuations };
      report.scoring = {
        check: forward.check,
        comparison: await engine.compareScoringPaths(longRequest, 3),
        promptTokens: long.sharedPromptIds.length,
        answerTokens: long.continuations.map((c) => c.length),
      };

      // Pair scoring as the page does it (reference-free reward, mean aggregation).
      report.pairs = [];
      for (const scored of PAIRS) {
        const start = performance.now();
        const result = await scorePair(engine, scored, { convention: 'clean', aggregation: 'mean' });
        report.pairs.push({
          id: scored.id,
          chosenMean: result.chosen.score,
          rejectedMean: result.rejected.score,
          margin: result.margin,
          correct: result.correct,
          seconds: (performance.now() - start) / 1000,
          tokens: result.chosen.ids.length + result.rejected.ids.length,
        });
      }
    } finally {
      await engine.dispose();
    }
  } catch (error) {
    report.error = toSerializedError(error);
  }
  return report;
}

async function describeGpu(): Promise<GpuDescription> {
  const adapter = await navigator.gpu?.requestAdapter().catch(() => null);
  if (!adapter) return { available: false };
  return {
    available: true,
    vendor: adapter.info.vendor,
    architecture: adapter.info.architecture,
    description: adapter.info.description,
    shaderF16: adapter.features.has('shader-f16'),
  };
}


function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length || a.length === 0) return Number.POSITIVE_INFINITY;
  return Math.max(...a.map((value, i) => Math.abs(value - (b[i] as number))));
}
