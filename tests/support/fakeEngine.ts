/**
 * A deterministic in-memory Engine for tests of the worker host and client: it streams one
 * text delta per step (a real timer tick, so messages interleave as they would in a worker),
 * honours cancellation between steps, records what ran and how many calls overlapped, and can be
 * told to fail its next call.
 */
import { throwIfCancelled, type CancelSignal } from '../../src/core/cancel.ts';
import type { ChatMessage } from '../../src/core/chat.ts';
import { AppError } from '../../src/core/errors.ts';
import type { SpecOptions } from '../../src/core/protocol.ts';
import type { EngineFactories } from '../../workers/engineHost.ts';
import {
  GenerateOptions,
  type Engine,
  type EngineInfo,
  type GenerateOptionsInput,
  type GenerateResult,
  type ScoreRequest,
  type ScoreResult,
  type ScoringCheck,
  type TokenListener,
} from '../../src/core/engine.ts';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function fakeInfo(model: string): EngineInfo {
  return {
    backend: 'transformers',
    model,
    device: 'wasm',
    dtype: 'fp32',
    contextWindow: 2048,
    bosTokenId: 1,
    eosTokenId: 2,
    chatTemplate: { name: 'zephyr' },
    scoringMethod: 'fake',
  };
}

/** The log-probs FakeEngine.score returns, so tests can state expected values. */
export function fakeLogprobs(request: ScoreRequest): number[][] {
  return request.continuations.map((continuation) => continuation.map((token, t) => -((token % 7) + 1) - t / 10));
}

export class FakeEngine implements Engine {
  readonly info: EngineInfo;
  /** `<method>` when a call starts, `<method>:end` when it ends, `dispose`. */
  readonly log: string[] = [];
  active = 0;
  maxActive = 0;
  disposed = false;
  /** Thrown by the next generate/score/tokenize call, then cleared. */
  failNext: unknown;
  /** Sent with every score, as an engine that checks its scoring method on the user's machine does. */
  scoringCheck: ScoringCheck | undefined;

  constructor(
    model = 'fake-model',
    private readonly stepMs = 1,
  ) {
    this.info = fakeInfo(model);
  }

  async generate(
    messages: readonly ChatMessage[],
    optionsInput: GenerateOptionsInput,
    onToken: TokenListener = () => {},
    signal?: CancelSignal,
  ): Promise<GenerateResult> {
    return this.#run('generate', async () => {
      const options = GenerateOptions.parse(optionsInput);
      const tokenIds: number[] = [];
      let text = '';
      let finishReason: GenerateResult['finishReason'] = 'length';
      for (let step = 0; step < options.maxNewTokens; step++) {
        await sleep(this.stepMs);
        if (signal?.aborted) {
          finishReason = 'aborted';
          break;
        }
        const piece = ` w${step}`;
        tokenIds.push(100 + step);
        text += piece;
        onToken(piece, tokenIds.length);
      }
      return { text, tokenIds, promptTokenCount: messages.length, finishReason, prompt: messages.map((m) => m.content).join('\n') };
    });
  }

  async score(request: ScoreRequest, signal?: CancelSignal): Promise<ScoreResult> {
    return this.#run('score', async () => {
      await sleep(this.stepMs);
      throwIfCancelled(signal);
      return { logprobs: fakeLogprobs(request), method: this.scoringCheck?.method ?? 'fake', ...(this.scoringCheck && { check: this.scoringCheck }) };
    });
  }

  async tokenize(text: string): Promise<number[]> {
    return this.#run('tokenize', async () => Array.from(text, (char) => char.codePointAt(0) ?? 0));
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.log.push('dispose');
  }

  async #run<T>(method: string, work: () => Promise<T>): Promise<T> {
    this.log.push(method);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      if (this.failNext !== undefined) {
        const error = this.failNext;
        this.failNext = undefined;
        throw error;
      }
      return await work();
    } finally {
      this.active--;
      this.log.push(`${method}:end`);
    }
  }
}

export interface FakeFactories {
  factories: EngineFactories;
  /** Every engine made, in order. */
  engines: FakeEngine[];
  /** The spec of every Transformers.js load. */
  created: SpecOptions<'transformers'>[];
}

/**
 * The worker's engine factories with FakeEngine as the Transformers.js backend (it reports a fetch,
 * then one step later ready) and no WebLLM; `overrides` replace a backend.
 */
export function fakeEngineFactories(overrides: Partial<EngineFactories> = {}, stepMs = 1): FakeFactories {
  const engines: FakeEngine[] = [];
  const created: SpecOptions<'transformers'>[] = [];
  const factories: EngineFactories = {
    transformers: async () => ({
      async create(spec, onProgress) {
        created.push(spec);
        onProgress({ stage: 'fetch', file: 'onnx/model.onnx', fraction: 0.5, text: 'Fetching onnx/model.onnx' });
        await sleep(1);
        onProgress({ stage: 'ready', fraction: 1, text: 'Ready' });
        const engine = new FakeEngine(spec.model, stepMs);
        engines.push(engine);
        return engine;
      },
    }),
    webllm: async () => {
      throw new AppError('unsupported', 'This build has no WebLLM engine: choose the Transformers.js engine.');
    },
    ...overrides,
  };
  return { factories, engines, created };
}
