/**
 * Writes a catalog entry's conversation override into an mlc-chat-config.json made by
 * `mlc_llm gen_config`, so the published build renders the model's exact chat format on its own
 * (the page applies the same override at load time; other WebLLM apps then get it too).
 * Used by .github/workflows/webllm-zephyr.yml:
 *   npx tsx scripts/build/zephyrChatConfig.ts public/models.json <catalog id> <mlc-chat-config.json>
 */
import { readFile, writeFile } from 'node:fs/promises';
import { findEntry, parseCatalog, type ModelCatalog } from '../../src/core/catalog.ts';

/** mlc-chat-config.json with the entry's `conv_config` merged over its `conv_template` and its window settings. */
export function withConversationOverride(chatConfig: Record<string, unknown>, catalog: ModelCatalog, id: string): Record<string, unknown> {
  const entry = findEntry(catalog, id);
  if (!entry || entry.engine !== 'webllm') throw new Error(`public/models.json has no WebLLM entry "${id}".`);
  const { conv_config: conversation, ...overrides } = entry.overrides ?? {};
  const template = chatConfig.conv_template;
  if (typeof template !== 'object' || template === null) throw new Error('mlc-chat-config.json has no conv_template object.');
  return {
    ...chatConfig,
    ...overrides,
    context_window_size: entry.contextWindow,
    conv_template: { ...template, ...conversation },
  };
}

async function main(): Promise<void> {
  const [catalogPath, id, configPath] = process.argv.slice(2);
  if (!catalogPath || !id || !configPath) throw new Error('usage: zephyrChatConfig.ts <models.json> <catalog id> <mlc-chat-config.json>');
  const catalog = parseCatalog(JSON.parse(await readFile(catalogPath, 'utf8')));
  const config = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
  await writeFile(configPath, `${JSON.stringify(withConversationOverride(config, catalog, id), null, 2)}\n`);
  console.log(`${configPath}: conversation format of ${id} written`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 2;
  });
}
