/**
 * The page's Trusted Types policies. The built page's Content-Security-Policy (vite.config.ts)
 * requires Trusted Types for script sinks: where the browser supports them, every DOM sink that
 * could run script (innerHTML, DOMParser, a Worker's script URL, …) refuses plain strings, and
 * only the policies named here may be created, once each. vite.config.ts lists these names in the
 * policy's `trusted-types` directive, so the list lives in one place.
 */
import type { TrustedTypePolicyOptions, TrustedTypesWindow } from 'trusted-types/lib';

export const TRUSTED_TYPES_POLICIES = {
  /** The one way the page writes HTML: markdown sanitized by DOMPurify (lib/markdown.ts). */
  markdown: 'playground-markdown',
  /** The model worker's script URL, and no other (engine/workerEngine.ts). */
  worker: 'playground-worker',
  /**
   * Svelte 5's own, for the static HTML of compiled component templates; it never sees data
   * (node_modules/svelte/src/internal/client/dom/reconciler.js creates it; a unit test pins the name).
   */
  svelte: 'svelte-trusted-html',
} as const;

export type PolicyName = (typeof TRUSTED_TYPES_POLICIES)[keyof typeof TRUSTED_TYPES_POLICIES];

/** One of the page's policies where the browser has Trusted Types; undefined elsewhere, where sinks take strings. */
export function createPolicy<Options extends TrustedTypePolicyOptions>(name: PolicyName, options: Options) {
  return (globalThis as Partial<TrustedTypesWindow>).trustedTypes?.createPolicy(name, options);
}
