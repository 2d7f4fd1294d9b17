/**
 * The model catalog's WebLLM side (public/models.json): its entries, self-hosted builds' URLs and
 * their checks (validateCustomModel, withCustomUrls), and the types the adapter relies on (the real
 * MLCEngine and the stand-in both offer the surface it uses). Split from webllmEngine.test.ts,
 * which loads models; nothing here does.
 */
import type { MLCEngine } from '@mlc-ai/web-llm';
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  CatalogEntry,
  findEntry,
  needsUrls,
  parseCatalog,
  validateCustomModel,
  weightsBaseUrl,
  withCustomUrls,
  type ModelCatalog,
  type WebLlmCatalogEntry,
} from '../../src/core/catalog.ts';
import { AppError } from '../../src/core/errors.ts';
import type { WebLlmSpecOptions } from '../../src/core/protocol.ts';
import { buildAppConfig, type WebLlmEngineOptions, type WebLlmEngineSurface } from '../../src/engines/webllm/index.ts';
import type { StandInEngine } from '../support/webllmStandIn.ts';
import { readCatalog, tinyWebLlmEntry } from '../support/webllmTinyEntry.ts';

let catalog: ModelCatalog;

beforeAll(async () => {
  catalog = await readCatalog();
});

function tinyEntry(patch: Record<string, unknown> = {}): WebLlmCatalogEntry {
  return tinyWebLlmEntry(catalog, patch);
}

describe('model catalog (public/models.json)', () => {
  it('parses, with the paper baseline and an offline default', () => {
    expect(catalog.paperBaseline).toBe('zephyr-7b-beta-q4f16_1');
    const offline = findEntry(catalog, catalog.offlineDefault);
    expect(offline).toMatchObject({ engine: 'transformers', modelPath: 'models/tiny-llama', devices: ['webgpu', 'wasm'], chatTemplate: 'zephyr' });
    expect(offline?.notes).toMatch(/random weights: for testing the page, outputs are noise/i);
    for (const entry of catalog.models) expect(CatalogEntry.safeParse(entry).success).toBe(true);
  });

  it('lists every prebuilt model exactly as WebLLM 0.2.86 does (id, URLs, VRAM, features, window)', async () => {
    const { prebuiltAppConfig, modelVersion } = await import('@mlc-ai/web-llm');
    expect(modelVersion).toBe('v0_2_86/base');
    const prebuilt = catalog.models.filter((e): e is WebLlmCatalogEntry => e.engine === 'webllm' && e.prebuilt);
    expect(prebuilt.map((e) => e.modelId).sort()).toEqual([
      'Mistral-7B-Instruct-v0.3-q4f16_1-MLC',
      'Qwen2.5-0.5B-Instruct-q4f32_1-MLC',
      'SmolLM2-135M-Instruct-q0f32-MLC',
      'SmolLM2-360M-Instruct-q4f32_1-MLC',
      'TinyLlama-1.1B-Chat-v1.0-q4f16_1-MLC',
      'TinyLlama-1.1B-Chat-v1.0-q4f32_1-MLC',
    ]);
    for (const entry of prebuilt) {
      const record = prebuiltAppConfig.model_list.find((r) => r.model_id === entry.modelId);
      expect(record, entry.modelId).toBeDefined();
      expect(entry.modelUrl).toBe(record?.model);
      expect(entry.modelLibUrl).toBe(record?.model_lib);
      expect(entry.vramMB).toBe(record?.vram_required_MB);
      expect(entry.contextWindow).toBe(record?.overrides?.context_window_size);
      // WebLLM's record may omit the feature for an f16 build; the catalog never does.
      for (const feature of record?.required_features ?? []) expect(entry.requiredFeatures).toContain(feature);
      if (record?.overrides?.sliding_window_size !== undefined) expect(entry.overrides?.sliding_window_size).toBe(record.overrides.sliding_window_size);
    }
  });

  it('says where the Zephyr build’s URLs go and why the prebuilt Mistral library is not used', () => {
    for (const id of ['zephyr-7b-beta-q4f16_1', 'zephyr-7b-beta-q4f32_1']) {
      const zephyr = findEntry(catalog, id) as WebLlmCatalogEntry;
      expect(needsUrls(zephyr)).toBe(true);
      expect(zephyr).toMatchObject({ prebuilt: false, modelUrl: null, modelLibUrl: null, chatTemplate: 'zephyr', contextWindow: 4096 });
      expect(zephyr.overrides?.conv_config).toMatchObject({ seps: ['</s>\n'], system_prefix_token_ids: [1], stop_token_ids: [2] });
    }
    const zephyr = findEntry(catalog, 'zephyr-7b-beta-q4f16_1') as WebLlmCatalogEntry;
    expect(zephyr.notes).toMatch(/RoPE theta 1e6/);
    expect(zephyr.notes).toMatch(/set modelUrl .* and modelLibUrl .* in public\/models\.json, or in the page under Model → Custom model URLs/);
    const configured = withCustomUrls(zephyr, { modelUrl: 'https://huggingface.co/me/zephyr-7b-beta-q4f16_1-MLC', modelLibUrl: 'https://me.example/zephyr-7b-beta-q4f16_1_cs1k-webgpu.wasm' });
    expect(needsUrls(configured)).toBe(false);
    expect(buildAppConfig(configured).model_list[0]).toMatchObject({ model_id: 'zephyr-7b-beta-q4f16_1-MLC', required_features: ['shader-f16'], vram_required_MB: 4600 });
  });

  it('reports every problem with its path', () => {
    const raw = JSON.parse(JSON.stringify(catalog)) as { models: Record<string, unknown>[]; offlineDefault: string };
    (raw.models[2] as Record<string, unknown>).requiredFeatures = [];
    (raw.models[3] as Record<string, unknown>).vramMB = 'a lot';
    (raw.models[4] as Record<string, unknown>).id = (raw.models[5] as Record<string, unknown>).id;
    (raw.models[5] as Record<string, unknown>).modelLibUrl = 'https://example.com/lib.js';
    raw.offlineDefault = 'nope';
    let message = '';
    try {
      parseCatalog(raw);
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('invalid-input');
      message = (error as AppError).message;
    }
    expect(message).toMatch(/^The model catalog is invalid \(5 problems\)/);
    expect(message).toContain('models[2].requiredFeatures: q4f16_1 builds use f16 shaders: list "shader-f16" in requiredFeatures');
    expect(message).toMatch(/models\[3\]\.vramMB: Invalid input: expected number, received string/);
    expect(message).toContain('models[5].modelLibUrl: the model library is the .wasm file');
    expect(message).toContain('models[5].id: duplicate id "smollm2-360m-instruct-q4f32_1"');
    expect(message).toContain('offlineDefault: no model has id "nope"');
    expect(() => parseCatalog('{ "version": 1,')).toThrow(/The model catalog is not valid JSON/);
    expect(() => parseCatalog({ ...raw, version: 2 })).toThrow(/version/);
  });
});

describe('validateCustomModel', () => {
  const PAGE = 'https://playground.example/app/';
  const lib = 'https://cdn.example/zephyr-7b-beta-q4f16_1_cs1k-webgpu.wasm';

  it('accepts http(s) and same-origin URLs, showing where WebLLM will fetch from', () => {
    const hf = validateCustomModel({ modelUrl: 'https://huggingface.co/me/zephyr-MLC', modelLibUrl: lib }, PAGE);
    expect(hf).toMatchObject({ ok: true, weightsBaseUrl: 'https://huggingface.co/me/zephyr-MLC/resolve/main/' });
    expect(hf.ok && hf.warnings[0]).toMatch(/WebLLM appends "resolve\/main\/" to this URL: it will fetch https:\/\/huggingface\.co\/me\/zephyr-MLC\/resolve\/main\/mlc-chat-config\.json/);
    const pinned = validateCustomModel({ modelUrl: 'https://huggingface.co/me/zephyr-MLC/resolve/v2/', modelLibUrl: lib }, PAGE);
    expect(pinned).toEqual({ ok: true, modelUrl: 'https://huggingface.co/me/zephyr-MLC/resolve/v2/', modelLibUrl: lib, weightsBaseUrl: 'https://huggingface.co/me/zephyr-MLC/resolve/v2/', warnings: [] });
    const relative = validateCustomModel({ modelUrl: ' models/zephyr/resolve/main ', modelLibUrl: '/libs/zephyr.wasm' }, PAGE);
    expect(relative).toMatchObject({ ok: true, modelUrl: 'models/zephyr/resolve/main', weightsBaseUrl: 'https://playground.example/app/models/zephyr/resolve/main/' });
    expect(relative.ok && relative.warnings.join(' ')).toMatch(/Relative URLs are resolved against the page address/);
    expect(validateCustomModel({ modelUrl: 'http://localhost:8000/zephyr', modelLibUrl: 'http://127.0.0.1:8000/z.wasm' }, PAGE).ok).toBe(true);
  });

  it.each([
    [{ modelUrl: '', modelLibUrl: lib }, 'modelUrl', /Weights URL: Enter the URL of the folder/],
    [{ modelUrl: 'file:///home/me/zephyr', modelLibUrl: lib }, 'modelUrl', /only http\(s\) URLs or paths on this site can be loaded, not file: URLs/],
    [{ modelUrl: 'javascript:alert(1)', modelLibUrl: lib }, 'modelUrl', /not javascript: URLs/],
    [{ modelUrl: '//cdn.example/zephyr', modelLibUrl: lib }, 'modelUrl', /has no scheme: write it out as https:\/\/cdn\.example\/zephyr/],
    [{ modelUrl: 'https://huggingface.co/me/zephyr/tree/main', modelLibUrl: lib }, 'modelUrl', /repository web page/],
    [{ modelUrl: 'https://huggingface.co/me/zephyr/resolve/main/mlc-chat-config.json', modelLibUrl: lib }, 'modelUrl', /point at the folder that holds mlc-chat-config\.json/],
    [{ modelUrl: 'https://host/my model', modelLibUrl: lib }, 'modelUrl', /cannot contain spaces/],
    [{ modelUrl: 'http://models.example/zephyr', modelLibUrl: lib }, 'modelUrl', /served over https, so the browser blocks http:\/\/models\.example \(mixed content\)/],
    [{ modelUrl: 'https://huggingface.co/me/zephyr', modelLibUrl: '' }, 'modelLibUrl', /Model library URL: Enter the URL of the compiled model library/],
    [{ modelUrl: 'https://huggingface.co/me/zephyr', modelLibUrl: 'https://cdn.example/zephyr.js' }, 'modelLibUrl', /must end in \.wasm/],
    [{ modelUrl: 'https://huggingface.co/me/zephyr', modelLibUrl: 'https://github.com/me/libs/blob/main/z.wasm' }, 'modelLibUrl', /use the raw URL/],
  ])('refuses %j (%s)', (urls, field, message) => {
    const result = validateCustomModel(urls, PAGE);
    expect(result).toMatchObject({ ok: false, field, message: expect.stringMatching(message) });
  });

  it('mirrors WebLLM’s own cleanModelUrl', () => {
    expect(weightsBaseUrl('https://huggingface.co/mlc-ai/SmolLM2-360M-Instruct-q4f32_1-MLC')).toBe('https://huggingface.co/mlc-ai/SmolLM2-360M-Instruct-q4f32_1-MLC/resolve/main/');
    expect(weightsBaseUrl('https://host/x/resolve/v1')).toBe('https://host/x/resolve/v1/');
    expect(() => withCustomUrls(tinyEntry(), { modelUrl: 'ftp://x', modelLibUrl: lib })).toThrow(AppError);
  });
});

describe('types', () => {
  it('the real MLCEngine and the stand-in both have the surface the adapter uses', () => {
    expectTypeOf<MLCEngine>().toExtend<WebLlmEngineSurface>();
    expectTypeOf<StandInEngine>().toExtend<WebLlmEngineSurface>();
  });

  it("accepts the worker protocol's WebLLM load options as they are", () => {
    expectTypeOf<WebLlmSpecOptions>().toExtend<WebLlmEngineOptions>();
  });
});
