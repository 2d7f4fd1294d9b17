/**
 * The Content-Security-Policy ships in the static build: a release build made here (as `npm run
 * build` makes dist/) carries the policy in index.html and driver.html, first after the charset
 * and ahead of everything it governs; the pages need nothing it forbids (no inline script or
 * style, nothing off-origin); the Trusted Types names match the policies the code creates,
 * Svelte's included; and only the dev server relaxes it. The browser tests show the policy at work.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRUSTED_TYPES_POLICIES } from '../../src/app/lib/trustedTypes.ts';
import { contentSecurityPolicy } from '../../vite.config.ts';
import { buildRelease } from '../support/releaseBuild.ts';
import { PROJECT_ROOT } from '../support/runCli.ts';

let dir: string;
let dist: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'csp-build-'));
  dist = join(dir, 'dist');
  await buildRelease(dist);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The policy of a built page, directive → sources, and the page's head in order. */
async function builtPage(name: string): Promise<{ html: string; head: string[]; policy: Map<string, string[]> }> {
  const html = await readFile(join(dist, name), 'utf8');
  const head = [...(html.match(/<head>([\s\S]*?)<\/head>/)?.[1] ?? '').matchAll(/<(meta|link|script|title|style)\b[^>]*>/g)].map((match) => match[0]);
  const metas = head.filter((tag) => /http-equiv="Content-Security-Policy"/i.test(tag));
  expect(metas, `${name} has one policy`).toHaveLength(1);
  const content = /content="([^"]*)"/.exec(metas[0] as string)?.[1] ?? '';
  const policy = new Map(
    content
      .split(';')
      .map((directive) => directive.trim().split(/\s+/))
      .filter((parts) => parts[0])
      .map(([directive, ...sources]) => [directive as string, sources]),
  );
  return { html, head, policy };
}

describe('the built pages carry the Content-Security-Policy', () => {
  for (const name of ['index.html', 'driver.html']) {
    it(`${name}: the policy comes right after the charset, before any script or stylesheet`, async () => {
      const { head } = await builtPage(name);
      expect(head[0]).toMatch(/^<meta charset=/i);
      expect(head[1]).toMatch(/http-equiv="Content-Security-Policy"/);
      expect(head.slice(2).some((tag) => /^<(script|link)\b/.test(tag))).toBe(true);
    });

    it(`${name}: no inline or eval'd script, no inline style, no connection or image off the page's origin`, async () => {
      const { policy } = await builtPage(name);
      expect(Object.fromEntries(policy)).toEqual({
        'default-src': ["'none'"],
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'connect-src': ["'self'"],
        'img-src': ["'self'", 'data:', 'blob:'],
        'worker-src': ["'self'", 'blob:'],
        'object-src': ["'none'"],
        'base-uri': ["'none'"],
        'form-action': ["'none'"],
        'require-trusted-types-for': ["'script'"],
        'trusted-types': ['playground-markdown', 'playground-worker', 'svelte-trusted-html'],
      });
    });

    it(`${name}: needs nothing the policy forbids`, async () => {
      const { html } = await builtPage(name);
      // Every script is a module file of the build; no inline script, handler or style.
      for (const script of html.match(/<script\b[^>]*>[\s\S]*?<\/script>/g) ?? []) expect(script).toMatch(/^<script type="module" crossorigin src="\.\/assets\/[\w-]+\.js"><\/script>$/);
      expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
      for (const [, url] of html.matchAll(/(?:src|href)="([^"]*)"/g)) expect(url).toMatch(/^(\.\/|data:)/);
    });
  }
});

describe('the Trusted Types policy names', () => {
  it("list Svelte's own template policy under the name Svelte creates it with", async () => {
    const reconciler = await readFile(join(PROJECT_ROOT, 'node_modules/svelte/src/internal/client/dom/reconciler.js'), 'utf8');
    expect([...reconciler.matchAll(/createPolicy\(\s*'([^']+)'/g)].map((match) => match[1])).toEqual([TRUSTED_TYPES_POLICIES.svelte]);
  });
});

describe('the dev server policy', () => {
  it('relaxes only styles (injected <style> elements) and Trusted Types (the error overlay), never scripts or connections', () => {
    const dev = contentSecurityPolicy('serve');
    expect(dev).toContain("script-src 'self';");
    expect(dev).toContain("connect-src 'self';");
    expect(dev).toContain("style-src 'self' 'unsafe-inline';");
    expect(dev).not.toMatch(/trusted-types|unsafe-eval/);
    expect(contentSecurityPolicy('build')).not.toMatch(/unsafe/);
  });
});
