/**
 * Build-time model URLs (scripts/build/hostedModels.ts, core `withHostedBuilds`): a page built
 * with the model host the Zephyr build workflow published to loads the Zephyr entries with no URL
 * to type, and the filled URLs pass the same checks as a user's.
 */
import { copyFile, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findEntry, needsUrls, parseCatalog, weightsBaseUrl, withHostedBuilds, type WebLlmCatalogEntry } from '../../src/core/catalog.ts';
import { fillHostedModelUrls, hostedModelUrls } from '../../scripts/build/hostedModels.ts';
import { withConversationOverride } from '../../scripts/build/zephyrChatConfig.ts';
import { zephyrTemplate } from '../../src/core/chatTemplate.ts';
import { ConvTemplate, renderWebLlmPrompt } from '../../src/engines/webllm/prompt.ts';
import { TINYLLAMA_V1_CONV_TEMPLATE } from '../support/webllmStandIn.ts';
import { readCatalog } from '../support/webllmTinyEntry.ts';

const HOST = 'https://huggingface.co/wikipersona/zephyr-7b-beta-webllm/resolve/main/';

describe('hosted Zephyr builds', () => {
  it('fills both Zephyr builds under the host, leaves every other entry as it was', async () => {
    const catalog = await readCatalog();
    const filled = withHostedBuilds(catalog, HOST);
    const f16 = findEntry(filled, 'zephyr-7b-beta-q4f16_1') as WebLlmCatalogEntry;
    expect(f16.modelUrl).toBe(`${HOST}zephyr-7b-beta-q4f16_1-MLC/`);
    expect(f16.modelLibUrl).toBe(`${HOST}libs/zephyr-7b-beta-q4f16_1-ctx4k_cs1k-webgpu.wasm`);
    // A /resolve/<branch>/ URL is used as it is: WebLLM appends nothing.
    expect(weightsBaseUrl(f16.modelUrl as string)).toBe(f16.modelUrl);
    expect(needsUrls(findEntry(filled, 'zephyr-7b-beta-q4f32_1') as WebLlmCatalogEntry)).toBe(false);
    const untouched = filled.models.filter((entry) => !entry.id.startsWith('zephyr-7b-beta'));
    expect(untouched).toEqual(catalog.models.filter((entry) => !entry.id.startsWith('zephyr-7b-beta')));
    // The result is still a valid catalog.
    expect(parseCatalog(JSON.parse(JSON.stringify(filled)))).toEqual(filled);
  });

  it('keeps URLs already set, and refuses a host that is not an absolute http(s) URL', async () => {
    const catalog = await readCatalog();
    const set = { modelUrl: 'https://example.org/mine/resolve/main/', modelLibUrl: 'https://example.org/mine.wasm' };
    const own = { ...catalog, models: catalog.models.map((entry) => (entry.id === 'zephyr-7b-beta-q4f16_1' ? { ...entry, ...set } : entry)) };
    expect(findEntry(withHostedBuilds(own, HOST), 'zephyr-7b-beta-q4f16_1')).toMatchObject(set);
    for (const host of ['models/', 'ftp://host/x/', '//cdn.example/x/']) {
      expect(() => withHostedBuilds(catalog, host)).toThrow(/absolute http\(s\) URL/);
    }
  });

  it('the build plugin rewrites the built models.json, and does nothing without a host', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hosted-'));
    const path = join(dir, 'models.json');
    await copyFile(join(import.meta.dirname, '../../public/models.json'), path);
    const original = await readFile(path, 'utf8');
    const messages: string[] = [];
    const context = { info: (message: string) => messages.push(message) };
    const run = async (host: string | undefined) => {
      const plugin = hostedModelUrls(host);
      (plugin.configResolved as (config: unknown) => void)({ root: dir, build: { outDir: '.' } });
      await (plugin.writeBundle as unknown as (this: typeof context) => Promise<void>).call(context);
    };
    await run(undefined);
    expect(await readFile(path, 'utf8')).toBe(original);
    await run(HOST);
    const built = parseCatalog(JSON.parse(await readFile(path, 'utf8')));
    expect((findEntry(built, 'zephyr-7b-beta-q4f32_1') as WebLlmCatalogEntry).modelLibUrl).toBe(`${HOST}libs/zephyr-7b-beta-q4f32_1-ctx4k_cs1k-webgpu.wasm`);
    expect(messages).toEqual([`models.json: zephyr-7b-beta-q4f16_1, zephyr-7b-beta-q4f32_1 loads from ${HOST}`]);
    expect(await fillHostedModelUrls(path, HOST)).toEqual(['zephyr-7b-beta-q4f16_1', 'zephyr-7b-beta-q4f32_1']);
  });
});

describe('the published build carries Zephyr’s conversation format', () => {
  it('merges the catalog override into the conv_template gen_config wrote (tinyllama_v1_0), so WebLLM renders Zephyr’s exact prompt', async () => {
    const catalog = await readCatalog();
    const generated = { model_type: 'mistral', context_window_size: 4096, sliding_window_size: -1, conv_template: TINYLLAMA_V1_CONV_TEMPLATE, tokenizer_files: ['tokenizer.json'] };
    const written = withConversationOverride(generated, catalog, 'zephyr-7b-beta-q4f16_1');
    const conv = ConvTemplate.parse(written.conv_template);
    const prompt = renderWebLlmPrompt(conv, [{ role: 'user', content: 'Hi' }]);
    expect(prompt.prefixTokenIds).toEqual([1]);
    expect(prompt.text).toBe(zephyrTemplate.render([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true }));
    expect(written).toMatchObject({ sliding_window_size: -1, context_window_size: 4096, model_type: 'mistral' });
    expect(() => withConversationOverride(generated, catalog, 'no-such-model')).toThrow(/no WebLLM entry/);
  });
});
