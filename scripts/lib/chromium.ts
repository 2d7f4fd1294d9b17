/**
 * Which Chromium to drive and with which flags, shared by the browser tests (playwright.config.ts),
 * the eval browser engine and the WebLLM smoke script. Debian's chromium (CHROMIUM_PATH, else
 * /usr/bin/chromium) where present, since these machines cannot download Playwright's browser;
 * elsewhere undefined, so Playwright uses its own.
 */
import { existsSync } from 'node:fs';

export function systemChromiumPath(): string | undefined {
  return [process.env.CHROMIUM_PATH, '/usr/bin/chromium'].find((path): path is string => Boolean(path) && existsSync(path as string));
}

/**
 * Headless, no background traffic (a closed network refuses it loudly), and WebGPU on a localhost
 * page (SwiftShader where there is no GPU).
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless=new',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--enable-unsafe-webgpu',
] as const;
