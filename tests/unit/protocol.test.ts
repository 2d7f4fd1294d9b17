import { describe, expect, it } from 'vitest';
import {
  EngineSpec,
  RequestKind,
  RequestPayloads,
  ResultPayloads,
  WorkerReply,
  WorkerRequest,
  isTerminal,
  parseResult,
  readRequestId,
} from '../../src/core/protocol.ts';
import { fakeInfo } from '../support/fakeEngine.ts';

const generateResult = { text: ' hi', tokenIds: [5], promptTokenCount: 3, finishReason: 'eos', prompt: '<|user|>\nHi</s>\n<|assistant|>\n' };

describe('worker protocol: requests', () => {
  it('parses every request kind with its own payload', () => {
    const examples: unknown[] = [
      { id: 'a', kind: 'load', payload: { backend: 'transformers', options: { model: 'tiny-llama', device: 'webgpu' } } },
      { id: 'b', kind: 'load', payload: { backend: 'webllm', options: { modelId: 'Zephyr', modelUrl: 'https://x/', cacheBackend: 'indexeddb' } } },
      { id: 'c', kind: 'generate', payload: { messages: [{ role: 'user', content: 'Hi' }], options: { temperature: 0 } } },
      { id: 'd', kind: 'score', payload: { promptIds: [1, 2], continuations: [[3], [4, 5]] } },
      { id: 'e', kind: 'tokenize', payload: { text: '' } },
      { id: 'f', kind: 'unload', payload: {} },
      { id: 'g', kind: 'cancel', payload: { targetId: 'c' } },
      { id: 'h', kind: 'cacheStatus', payload: { backend: 'webllm', options: { modelId: 'Zephyr' } } },
      { id: 'i', kind: 'deleteCache', payload: { backend: 'webllm', options: { modelId: 'Zephyr' } } },
      { id: 'j', kind: 'ping', payload: {} },
      { id: 'k', kind: 'crash', payload: {} },
    ];
    const parsed = examples.map((example) => WorkerRequest.parse(example));
    expect([...new Set(parsed.map((request) => request.kind))]).toEqual(RequestKind.options);
  });

  it('applies generation defaults once, at the boundary', () => {
    const request = WorkerRequest.parse({ id: 'g', kind: 'generate', payload: { messages: [{ role: 'user', content: 'Hi' }], options: {} } });
    expect(request.kind === 'generate' && request.payload.options).toEqual({ maxNewTokens: 256, temperature: 1, topK: 0, topP: 1 });
  });

  it('rejects a payload of another kind, a missing id, an unknown kind, and a browser-less device', () => {
    const score = { promptIds: [1], continuations: [[2]] };
    expect(WorkerRequest.safeParse({ id: 'x', kind: 'generate', payload: score }).success).toBe(false);
    expect(WorkerRequest.safeParse({ kind: 'score', payload: score }).success).toBe(false);
    expect(WorkerRequest.safeParse({ id: '', kind: 'score', payload: score }).success).toBe(false);
    expect(WorkerRequest.safeParse({ id: 'x', kind: 'shutdown', payload: {} }).success).toBe(false);
    expect(WorkerRequest.safeParse({ id: 'x', kind: 'score', payload: { promptIds: [], continuations: [[2]] } }).success).toBe(false);
    // The worker runs in a browser: Node's devices are not part of the protocol.
    expect(EngineSpec.safeParse({ backend: 'transformers', options: { model: 'm', device: 'cpu' } }).success).toBe(false);
    expect(EngineSpec.safeParse({ backend: 'webllm', options: { modelId: 'm', cacheBackend: 'opfs' } }).success).toBe(false);
  });

  it('has a payload schema and a result schema for every kind, and nothing else', () => {
    expect(Object.keys(RequestPayloads).sort()).toEqual([...RequestKind.options].sort());
    expect(Object.keys(ResultPayloads).sort()).toEqual([...RequestKind.options].sort());
  });

  it('reads the id of a message that fails to parse, when it has one', () => {
    expect(readRequestId({ id: 'q7', kind: 'nonsense' })).toBe('q7');
    expect(readRequestId({ id: 7 })).toBeNull();
    expect(readRequestId('text')).toBeNull();
    expect(readRequestId(null)).toBeNull();
  });
});

describe('worker protocol: replies', () => {
  it('ties a result to the kind of request it answers', () => {
    expect(WorkerReply.parse({ id: 'a', kind: 'result', request: 'generate', payload: generateResult })).toMatchObject({ request: 'generate' });
    // The same payload labelled as another kind's result does not parse.
    expect(WorkerReply.safeParse({ id: 'a', kind: 'result', request: 'tokenize', payload: generateResult }).success).toBe(false);
    expect(WorkerReply.safeParse({ id: 'a', kind: 'result', request: 'load', payload: generateResult }).success).toBe(false);
    expect(WorkerReply.parse({ id: 'l', kind: 'result', request: 'load', payload: fakeInfo('m') })).toMatchObject({ payload: { model: 'm' } });
    // A crash request never has a result.
    expect(WorkerReply.safeParse({ id: 'k', kind: 'result', request: 'crash', payload: {} }).success).toBe(false);
  });

  it('parses a result payload for a given kind, and rejects another kind\'s', () => {
    expect(parseResult('tokenize', { ids: [1, 2] })).toEqual({ ids: [1, 2] });
    expect(parseResult('cancel', { found: true })).toEqual({ found: true });
    expect(() => parseResult('tokenize', { found: true })).toThrow();
    expect(() => parseResult('score', { logprobs: [[Number.NaN]], method: 'x' })).toThrow();
  });

  it('carries errors as serialized AppErrors, with a null id only for unreadable requests', () => {
    expect(WorkerReply.parse({ id: null, kind: 'error', error: { code: 'invalid-input', message: 'bad' } })).toMatchObject({ id: null });
    expect(WorkerReply.safeParse({ id: 'a', kind: 'error', error: { code: 'exploded', message: 'x' } }).success).toBe(false);
    expect(WorkerReply.safeParse({ id: null, kind: 'token', text: 'x' }).success).toBe(false);
  });

  it('knows which replies end a request', () => {
    const replies = [
      { id: 'a', kind: 'token', text: 'x' },
      { id: 'a', kind: 'progress', progress: { stage: 'fetch', text: 'Fetching' } },
      { id: 'a', kind: 'result', request: 'ping', payload: {} },
      { id: 'a', kind: 'error', error: { code: 'aborted', message: 'Cancelled.' } },
    ].map((reply) => WorkerReply.parse(reply));
    expect(replies.map(isTerminal)).toEqual([false, false, true, true]);
  });

  it('survives structured cloning unchanged (what postMessage does to it)', () => {
    const reply = WorkerReply.parse({ id: 's', kind: 'result', request: 'score', payload: { logprobs: [[-0.5, -1.25]], method: 'one-pass', forwardTokens: 4 } });
    expect(WorkerReply.parse(structuredClone(reply))).toEqual(reply);
  });
});
