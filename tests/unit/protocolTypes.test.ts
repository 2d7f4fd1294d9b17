/**
 * Type-level tests of the worker protocol: each request kind is tied to its payload and its
 * result, the client is an Engine, and the protocol's copy of the Transformers.js options stays
 * assignable to the engine's own. These fail at type-check time (`tsc -p tsconfig.json`), not at run time.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type { ChatMessage } from '../../src/core/chat.ts';
import type { Engine, EngineInfo, GenerateResult, ScoreRequest, ScoreResult } from '../../src/core/engine.ts';
import type { SerializedError } from '../../src/core/errors.ts';
import {
  parseResult,
  type CacheStatus,
  type CancelResult,
  type EngineSpec,
  type RequestKind,
  type RequestPayload,
  type ResultMessage,
  type ResultOf,
  type SpecOptions,
  type TokenizeResult,
  type WorkerReply,
  type WorkerRequest,
} from '../../src/core/protocol.ts';
import type { TransformersEngineOptions } from '../../src/engines/transformers.ts';
import type { WorkerEngine } from '../../src/app/engine/workerEngine.ts';
import type { BackendModule, EngineFactories } from '../../workers/engineHost.ts';

describe('protocol types', () => {
  it('ties each request kind to its payload', () => {
    expectTypeOf<RequestPayload<'load'>>().toEqualTypeOf<EngineSpec>();
    expectTypeOf<RequestPayload<'score'>>().toEqualTypeOf<ScoreRequest>();
    expectTypeOf<RequestPayload<'generate'>['messages']>().toEqualTypeOf<ChatMessage[]>();
    expectTypeOf<RequestPayload<'tokenize'>>().toEqualTypeOf<{ text: string }>();
    expectTypeOf<RequestPayload<'cancel'>>().toEqualTypeOf<{ targetId: string }>();
    expectTypeOf<Extract<WorkerRequest, { kind: 'score' }>['payload']>().toEqualTypeOf<ScoreRequest>();
    expectTypeOf<WorkerRequest['kind']>().toEqualTypeOf<RequestKind>();
  });

  it('ties each request kind to its result', () => {
    expectTypeOf<ResultOf<'load'>>().toEqualTypeOf<EngineInfo>();
    expectTypeOf<ResultOf<'generate'>>().toEqualTypeOf<GenerateResult>();
    expectTypeOf<ResultOf<'score'>>().toEqualTypeOf<ScoreResult>();
    expectTypeOf<ResultOf<'tokenize'>>().toEqualTypeOf<TokenizeResult>();
    expectTypeOf<ResultOf<'cancel'>>().toEqualTypeOf<CancelResult>();
    expectTypeOf<ResultOf<'cacheStatus'>>().toEqualTypeOf<CacheStatus>();
    expectTypeOf<ResultOf<'crash'>>().toBeNever();
    expectTypeOf<Extract<ResultMessage, { request: 'score' }>['payload']>().toEqualTypeOf<ScoreResult>();
    expectTypeOf(parseResult<'load'>).returns.toEqualTypeOf<EngineInfo>();
    // @ts-expect-error a generate result is not a tokenize result
    const wrong: ResultOf<'tokenize'> = { text: '', tokenIds: [], promptTokenCount: 0, finishReason: 'eos', prompt: '' };
    void wrong;
  });

  it('narrows replies by kind, and only errors may lack an id', () => {
    expectTypeOf<Extract<WorkerReply, { kind: 'error' }>['error']>().toEqualTypeOf<SerializedError>();
    expectTypeOf<Extract<WorkerReply, { kind: 'error' }>['id']>().toEqualTypeOf<string | null>();
    expectTypeOf<Extract<WorkerReply, { kind: 'token' }>['id']>().toEqualTypeOf<string>();
    expectTypeOf<Extract<WorkerReply, { kind: 'result' }>>().toEqualTypeOf<ResultMessage>();
  });

  it('keeps the worker\'s Transformers.js options assignable to the engine\'s own', () => {
    expectTypeOf<SpecOptions<'transformers'>>().toExtend<TransformersEngineOptions>();
    expectTypeOf<keyof SpecOptions<'transformers'>>().toEqualTypeOf<keyof TransformersEngineOptions>();
  });

  it('makes the client an Engine and gives each backend factory its own options', () => {
    expectTypeOf<WorkerEngine>().toExtend<Engine>();
    expectTypeOf<Parameters<EngineFactories['webllm']>>().toEqualTypeOf<[]>();
    expectTypeOf<Awaited<ReturnType<EngineFactories['webllm']>>>().toEqualTypeOf<BackendModule<'webllm'>>();
    expectTypeOf<Parameters<BackendModule<'webllm'>['create']>[0]>().toEqualTypeOf<SpecOptions<'webllm'>>();
    expectTypeOf<Parameters<BackendModule<'transformers'>['create']>[0]>().toEqualTypeOf<SpecOptions<'transformers'>>();
  });
});
