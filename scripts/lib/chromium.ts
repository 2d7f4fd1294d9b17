/**
 * Which Chromium to drive and with which flags, shared by the browser tests (playwright.config.ts),
 * `npm test`'s browser check (scripts/setup/ensureChromium.ts), the eval browser engine and the
 * WebLLM smoke script. In order: CHROMIUM_PATH, the system's Chromium or Chrome (Debian's
 * /usr/bin/chromium on these machines, which cannot download Playwright's browser), Playwright's
 * own Chromium once `npx playwright install chromium` has fetched it. Every choice is a full
 * Chromium run in new headless mode, so all of them behave alike.
 */
import { accessSync, constants, readFileSync, realpathSync, statSync } from 'node:fs';

/** Where each platform's own Chromium or Chrome lives, in order of preference. */
const SYSTEM_BROWSERS: Partial<Record<NodeJS.Platform, readonly string[]>> = {
  linux: ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome-stable', '/usr/bin/google-chrome'],
  darwin: ['/Applications/Chromium.app/Contents/MacOS/Chromium', '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome'],
};

export type ChromiumSource = 'CHROMIUM_PATH' | 'system' | 'playwright';

export type ChromiumLookup =
  | { kind: 'found'; source: ChromiumSource; path: string }
  /** CHROMIUM_PATH names something that cannot run: the user's explicit choice, so never passed over. */
  | { kind: 'unusable CHROMIUM_PATH'; path: string }
  | { kind: 'none' };

/** What the finder looks at, injectable so every case is testable without touching the machine. */
export interface ChromiumProbe {
  chromiumPathEnv: string | undefined;
  systemPaths: readonly string[];
  /** Where Playwright keeps its own Chromium (present once its installer has run). */
  playwrightPath: string;
  isRunnable(path: string): boolean;
}

export function findChromium(probe: ChromiumProbe): ChromiumLookup {
  if (probe.chromiumPathEnv) {
    return probe.isRunnable(probe.chromiumPathEnv) ? { kind: 'found', source: 'CHROMIUM_PATH', path: probe.chromiumPathEnv } : { kind: 'unusable CHROMIUM_PATH', path: probe.chromiumPathEnv };
  }
  const system = probe.systemPaths.find((path) => probe.isRunnable(path));
  if (system) return { kind: 'found', source: 'system', path: system };
  if (probe.isRunnable(probe.playwrightPath)) return { kind: 'found', source: 'playwright', path: probe.playwrightPath };
  return { kind: 'none' };
}

/**
 * An executable file that is not a snap launcher: Ubuntu's chromium-browser starts a snap, which
 * cannot read the profile Playwright writes under the host's /tmp.
 */
export function isRunnableBrowser(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    if (realpathSync(path).startsWith('/snap/')) return false;
    const head = readFileSync(path).subarray(0, 64 * 1024).toString('latin1');
    return !(head.startsWith('#!') && head.includes('/snap/'));
  } catch {
    return false;
  }
}

/** The finder on this machine; `playwrightPath` is `chromium.executablePath()` from Playwright. */
export function hostChromiumProbe(playwrightPath: string): ChromiumProbe {
  return {
    chromiumPathEnv: process.env.CHROMIUM_PATH || undefined,
    systemPaths: SYSTEM_BROWSERS[process.platform] ?? [],
    playwrightPath,
    isRunnable: isRunnableBrowser,
  };
}

/**
 * The executable for Playwright's `launch({ executablePath })`. An unusable CHROMIUM_PATH is passed
 * on as it is, so Playwright's error names the setting; undefined when there is none at all, so
 * Playwright reports its missing browser with the command that installs it.
 */
export function chromiumExecutablePath(playwright: { executablePath(): string }): string | undefined {
  const lookup = findChromium(hostChromiumProbe(playwright.executablePath()));
  return lookup.kind === 'none' ? undefined : lookup.path;
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
