/**
 * `browser:<catalog id>[@wasm|@webgpu]`: any entry of public/models.json run by the page's own
 * worker in headless Chromium (browserEngine.ts), e.g. to check the page against Node; default
 * WebGPU when the browser has it. Needs `npm run build` output in dist/.
 *
 * Environment: BROWSER_ENGINE_DIST, a build other than dist/ (tests build into a temporary
 * folder); BROWSER_ENGINE_CHROMIUM_ARGS, extra Chromium flags (e.g. `--use-angle=vulkan` for a
 * Linux GPU).
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import type { Engine } from '../../../../src/core/engine.ts';
import type { Reporter } from '../../reporter.ts';
import type { BrowserDevice } from '../browserEngine.ts';
import type { EngineAdapter } from './adapter.ts';

export const BrowserEngineSpec = z.strictObject({
  kind: z.literal('browser'),
  text: z.string(),
  model: z.string().min(1),
  device: z.enum(['auto', 'wasm', 'webgpu'] satisfies BrowserDevice[]),
});
export type BrowserEngineSpec = z.infer<typeof BrowserEngineSpec>;

export const browserAdapter: EngineAdapter<BrowserEngineSpec> = {
  syntax: 'browser:<catalog id>[@wasm|@webgpu]',
  example: 'browser:tiny-llama-random@wasm',
  spec: BrowserEngineSpec,
  fields(body) {
    const at = body.lastIndexOf('@');
    return at === -1 ? { model: body, device: 'auto' } : { model: body.slice(0, at), device: body.slice(at + 1) };
  },
  open: (spec, _options, reporter) => openInChromium(spec, spec.device, reporter),
};

/** Where a WebLLM run keeps its browser profile, so weights download once. */
export interface ChromiumProfile {
  profileDir: string;
  /** Fixed, since the browser caches per origin. */
  port: number;
}

/** Opens a catalog entry in the page's worker in headless Chromium; progress goes to the reporter, one line per stage. */
export async function openInChromium(spec: { model: string; text: string }, device: BrowserDevice, reporter: Reporter, profile?: ChromiumProfile): Promise<Engine> {
  const { createBrowserEngine } = await import('../browserEngine.ts');
  let lastStage = '';
  return createBrowserEngine(
    {
      catalogId: spec.model,
      device,
      ...(process.env.BROWSER_ENGINE_DIST ? { distDir: resolve(process.env.BROWSER_ENGINE_DIST) } : {}),
      ...(profile ?? {}),
      chromiumArgs: process.env.BROWSER_ENGINE_CHROMIUM_ARGS?.split(/\s+/).filter(Boolean) ?? [],
      onExternalRequest: (url, blocked) => {
        if (blocked) reporter.warn(`Blocked a request off 127.0.0.1: ${url}`);
      },
    },
    (progress) => {
      if (progress.stage === lastStage) return;
      lastStage = progress.stage;
      reporter.info(`${spec.text}: ${progress.text}`);
    },
  );
}
