/**
 * The command line's engine registry (scripts/lib/eval/engines/): every kind parses through its
 * own adapter, the registry's type ties each adapter to its kind, and `?name=value` options are
 * checked by the adapter's schema with messages that say what to write.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import type { EngineAdapter } from '../../scripts/lib/eval/engines/adapter.ts';
import { ENGINE_KINDS, ENGINE_SPEC_SYNTAX, parseEngineSpec, parseWith, type CliEngineSpec, type EngineKind } from '../../scripts/lib/eval/engines/registry.ts';

describe('engine registry', () => {
  it('has one adapter per kind, each parsing to a spec of its own kind', () => {
    expectTypeOf<CliEngineSpec['kind']>().toEqualTypeOf<EngineKind>();
    const examples: Record<EngineKind, string> = {
      local: 'local:models/zephyr',
      openai: 'openai:http://127.0.0.1:8000/v1#zephyr',
      webllm: 'webllm:smollm2',
      browser: 'browser:tiny@webgpu',
    };
    for (const kind of ENGINE_KINDS) expect(parseEngineSpec(examples[kind]).kind).toBe(kind);
    expect(ENGINE_SPEC_SYNTAX).toBe('local:<model dir>, openai:<baseUrl>#<model>, webllm:<catalog id> or browser:<catalog id>[@wasm|@webgpu]');
  });

  it('says how to write a kind whose body does not fit', () => {
    expect(() => parseEngineSpec('local:')).toThrow('Engine "local:": write local:<model dir>, e.g. local:models/zephyr-7b-beta-onnx.');
    expect(() => parseEngineSpec('openai:ftp://x/v1#m')).toThrow(/write openai:<baseUrl>#<model>, e.g. openai:http:\/\/127\.0\.0\.1:8000\/v1#HuggingFaceH4\/zephyr-7b-beta\./);
  });

  it('refuses an option the kind does not take, naming the ones it does', () => {
    expect(() => parseEngineSpec('openai:http://127.0.0.1:8000/v1#zephyr?temperature=1')).toThrow('Engine "openai:http://127.0.0.1:8000/v1#zephyr?temperature=1": unknown option "temperature"; openai: takes no options.');
  });

  // An adapter with options, as a new option would be added: one schema field, used in open().
  const Spec = z.strictObject({ kind: z.literal('test'), text: z.string(), model: z.string().min(1), bosTokenId: z.coerce.number().int().optional() });
  const withOptions: EngineAdapter<z.infer<typeof Spec>> = {
    syntax: 'test:<model>',
    example: 'test:m',
    spec: Spec,
    fields: (body) => ({ model: body }),
    open: () => Promise.reject(new Error('not opened in this test')),
  };

  it('reads options after "?" into the adapter\u2019s schema, coercing their text', () => {
    expect(parseWith(withOptions, 'test', 'm?bosTokenId=1', 'test:m?bosTokenId=1')).toEqual({ kind: 'test', text: 'test:m?bosTokenId=1', model: 'm', bosTokenId: 1 });
    expect(parseWith(withOptions, 'test', 'm', 'test:m')).toEqual({ kind: 'test', text: 'test:m', model: 'm' });
  });

  it('names the option whose value is wrong and lists the known ones for an unknown name', () => {
    expect(() => parseWith(withOptions, 'test', 'm?bosTokenId=one', 'test:m?bosTokenId=one')).toThrow(/^Engine "test:m\?bosTokenId=one": option "bosTokenId": .*number/);
    expect(() => parseWith(withOptions, 'test', 'm?bos=1', 'test:m?bos=1')).toThrow('Engine "test:m?bos=1": unknown option "bos"; test: takes bosTokenId.');
  });

  it('never lets an option overwrite a field of the body', () => {
    expect(parseWith(withOptions, 'test', 'm?model=other', 'test:m?model=other')).toMatchObject({ model: 'm' });
  });
});
