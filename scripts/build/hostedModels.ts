/**
 * Build-time model URLs: when PLAYGROUND_WEBLLM_MODEL_HOST names the host the "Build Zephyr for
 * WebLLM" workflow published to (e.g. https://huggingface.co/<user>/<repo>/resolve/main/), the
 * built page's models.json carries the URLs of every hosted build (catalog `hostedBuild`), so
 * those models load on the hosted page with no URL to type. Unset, models.json ships as it is.
 * The filled URLs pass the same checks as URLs a user enters (core `withHostedBuilds`).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Plugin } from 'vite';
import { parseCatalog, withHostedBuilds } from '../../src/core/catalog.ts';

export const MODEL_HOST_VARIABLE = 'PLAYGROUND_WEBLLM_MODEL_HOST';

/** Rewrites a built models.json with the hosted builds' URLs under `host`. */
export async function fillHostedModelUrls(catalogPath: string, host: string): Promise<string[]> {
  const catalog = withHostedBuilds(parseCatalog(JSON.parse(await readFile(catalogPath, 'utf8'))), host);
  await writeFile(catalogPath, `${JSON.stringify(catalog, null, 2)}\n`);
  return catalog.models.filter((entry) => entry.engine === 'webllm' && entry.hostedBuild && entry.modelUrl?.startsWith(host.trim())).map((entry) => entry.id);
}

export function hostedModelUrls(host: string | undefined = process.env[MODEL_HOST_VARIABLE]): Plugin {
  let outDir = 'dist';
  return {
    name: 'playground-hosted-model-urls',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    async writeBundle() {
      if (!host) return;
      const filled = await fillHostedModelUrls(join(outDir, 'models.json'), host);
      this.info(`models.json: ${filled.join(', ') || 'no hosted build'} loads from ${host}`);
    },
  };
}
