import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findChromium, isRunnableBrowser, type ChromiumLookup, type ChromiumProbe } from '../../scripts/lib/chromium.ts';
import { ensureChromium, parseOsRelease, planChromiumInstall, type ChromiumSetup, type InstallHost } from '../../scripts/setup/ensureChromium.ts';

const PLAYWRIGHT_CHROME = '/home/me/.cache/ms-playwright/chromium-1255/chrome-linux64/chrome';
const SYSTEM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

function probe(runnable: string[], chromiumPathEnv?: string): ChromiumProbe {
  return { chromiumPathEnv, systemPaths: SYSTEM, playwrightPath: PLAYWRIGHT_CHROME, isRunnable: (path) => runnable.includes(path) };
}

describe('findChromium', () => {
  it('takes CHROMIUM_PATH first, over a system browser', () => {
    expect(findChromium(probe(['/opt/chrome/chrome', '/usr/bin/chromium'], '/opt/chrome/chrome'))).toEqual({ kind: 'found', source: 'CHROMIUM_PATH', path: '/opt/chrome/chrome' });
  });

  it('never passes over a CHROMIUM_PATH that cannot run, even with a system browser there', () => {
    expect(findChromium(probe(['/usr/bin/chromium'], '/opt/missing/chrome'))).toEqual({ kind: 'unusable CHROMIUM_PATH', path: '/opt/missing/chrome' });
  });

  it("takes the first system browser, before Playwright's own", () => {
    expect(findChromium(probe(['/usr/bin/google-chrome', '/usr/bin/chromium-browser', PLAYWRIGHT_CHROME]))).toEqual({ kind: 'found', source: 'system', path: '/usr/bin/chromium-browser' });
  });

  it("falls back to Playwright's own Chromium once downloaded", () => {
    expect(findChromium(probe([PLAYWRIGHT_CHROME]))).toEqual({ kind: 'found', source: 'playwright', path: PLAYWRIGHT_CHROME });
  });

  it('reports none when nothing can run', () => {
    expect(findChromium(probe([]))).toEqual({ kind: 'none' });
  });
});

describe('isRunnableBrowser', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chromium-finder-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function file(name: string, text: string, mode: number): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    await chmod(path, mode);
    return path;
  }

  it("accepts an executable, including a launcher script like Debian's /usr/bin/chromium", async () => {
    expect(isRunnableBrowser(await file('chromium', '#!/bin/sh\nexec /usr/lib/chromium/chromium "$@"\n', 0o755))).toBe(true);
    const link = join(dir, 'link-to-chromium');
    await symlink(join(dir, 'chromium'), link);
    expect(isRunnableBrowser(link)).toBe(true);
  });

  it("refuses what is missing, not executable or a folder, and Ubuntu's launcher of the chromium snap", async () => {
    expect(isRunnableBrowser(join(dir, 'absent'))).toBe(false);
    expect(isRunnableBrowser(await file('plain', 'not a program', 0o644))).toBe(false);
    await mkdir(join(dir, 'folder'));
    expect(isRunnableBrowser(join(dir, 'folder'))).toBe(false);
    const snapLauncher = '#!/bin/sh\nif ! [ -x /snap/bin/chromium ]; then\n  echo "requires the chromium snap" >&2\n  exit 1\nfi\nexec /snap/bin/chromium "$@"\n';
    expect(isRunnableBrowser(await file('chromium-browser', snapLauncher, 0o755))).toBe(false);
  });
});

describe('parseOsRelease', () => {
  it('reads ID and ID_LIKE, quoted or not', () => {
    expect(parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n')).toEqual(['debian']);
    expect(parseOsRelease('NAME="Linux Mint"\nID=linuxmint\nID_LIKE="ubuntu debian"\n')).toEqual(['linuxmint', 'ubuntu', 'debian']);
    expect(parseOsRelease('')).toEqual([]);
  });
});

const DEBIAN_ROOT: InstallHost = { platform: 'linux', distro: ['debian'], isRoot: true, hasAptGet: true };

describe('planChromiumInstall', () => {
  it("on Debian as root: the distribution's chromium first, then Playwright's download", () => {
    const plan = planChromiumInstall(DEBIAN_ROOT);
    expect(plan.steps.map((step) => step.shown)).toEqual(['apt-get install -y chromium', 'npx playwright install chromium --no-shell']);
    expect(plan.steps[0]?.commands.map((command) => command.argv.join(' '))).toEqual(['apt-get update -qq', 'apt-get install -y -qq chromium']);
  });

  it("on Debian without root: Playwright's download, else the one line naming the sudo command", () => {
    const plan = planChromiumInstall({ ...DEBIAN_ROOT, isRoot: false });
    expect(plan.steps.map((step) => step.shown)).toEqual(['npx playwright install chromium --no-shell']);
    expect(plan.ifAllFail).toBe('No Chromium for the browser tests: run `sudo apt-get install -y chromium`, then run `npm test` again');
  });

  it("on Ubuntu as root: Playwright's installer with the system libraries, never the snap", () => {
    const plan = planChromiumInstall({ ...DEBIAN_ROOT, distro: ['ubuntu', 'debian'] });
    expect(plan.steps.map((step) => step.shown)).toEqual(['npx playwright install --with-deps chromium --no-shell']);
  });

  it("on macOS: Playwright's download, else the line pointing CHROMIUM_PATH at a browser", () => {
    const plan = planChromiumInstall({ platform: 'darwin', distro: [], isRoot: false, hasAptGet: false });
    expect(plan.steps.map((step) => step.shown)).toEqual(['npx playwright install chromium --no-shell']);
    expect(plan.ifAllFail).toContain('`CHROMIUM_PATH=/path/to/chrome npm test`');
  });
});

/** A machine where Chromium appears once the given command has run (none: never). */
function machine(host: InstallHost, options: { initially?: ChromiumLookup; appearsAfter?: string; installs?: ChromiumLookup } = {}) {
  const ran: string[] = [];
  const said: string[] = [];
  let current: ChromiumLookup = options.initially ?? { kind: 'none' };
  const setup: ChromiumSetup = {
    locate: () => current,
    host,
    run: (argv) => {
      ran.push(argv.join(' '));
      if (argv.join(' ') === options.appearsAfter) current = options.installs ?? { kind: 'found', source: 'system', path: '/usr/bin/chromium' };
      return options.appearsAfter !== undefined;
    },
    say: (line) => said.push(line),
  };
  return { setup, ran, said };
}

describe('ensureChromium', () => {
  it('uses a Chromium that is there and installs nothing', () => {
    const { setup, ran, said } = machine(DEBIAN_ROOT, { initially: { kind: 'found', source: 'CHROMIUM_PATH', path: '/opt/chrome/chrome' } });
    expect(ensureChromium(setup)).toEqual({ ok: true, source: 'CHROMIUM_PATH', path: '/opt/chrome/chrome' });
    expect(ran).toEqual([]);
    expect(said).toEqual([]);
  });

  it("stops on a CHROMIUM_PATH that cannot run, with one line, without installing anything", () => {
    const { setup, ran } = machine(DEBIAN_ROOT, { initially: { kind: 'unusable CHROMIUM_PATH', path: '/opt/missing/chrome' } });
    expect(ensureChromium(setup)).toEqual({ ok: false, message: 'CHROMIUM_PATH=/opt/missing/chrome is not a browser this can run: point it at a Chromium or Chrome executable, or unset it, then run `npm test` again' });
    expect(ran).toEqual([]);
  });

  it("with none on Debian as root: installs the distribution's chromium, says so and uses it", () => {
    const { setup, ran, said } = machine(DEBIAN_ROOT, { appearsAfter: 'apt-get install -y -qq chromium' });
    expect(ensureChromium(setup)).toEqual({ ok: true, source: 'system', path: '/usr/bin/chromium', installedWith: 'apt-get install -y chromium' });
    expect(ran).toEqual(['apt-get update -qq', 'apt-get install -y -qq chromium']);
    expect(said).toEqual(['No Chromium for the browser tests: installing one with `apt-get install -y chromium`']);
  });

  it("with none on macOS: Playwright's installer downloads one, which is then used", () => {
    const playwrightChrome: ChromiumLookup = { kind: 'found', source: 'playwright', path: PLAYWRIGHT_CHROME };
    const { setup, ran } = machine({ platform: 'darwin', distro: [], isRoot: false, hasAptGet: false }, { appearsAfter: 'node_modules/.bin/playwright install chromium --no-shell', installs: playwrightChrome });
    expect(ensureChromium(setup)).toEqual({ ok: true, source: 'playwright', path: PLAYWRIGHT_CHROME, installedWith: 'npx playwright install chromium --no-shell' });
    expect(ran).toEqual(['node_modules/.bin/playwright install chromium --no-shell']);
  });

  it('with none and no way to install (no root, no download): stops with the one line naming the command', () => {
    const { setup, ran, said } = machine({ ...DEBIAN_ROOT, isRoot: false });
    expect(ensureChromium(setup)).toEqual({ ok: false, message: 'No Chromium for the browser tests: run `sudo apt-get install -y chromium`, then run `npm test` again' });
    expect(ran).toEqual(['node_modules/.bin/playwright install chromium --no-shell']);
    expect(said).toHaveLength(1);
  });

  it('with none as root where every install fails: tries each way once, then the one line', () => {
    const { setup, ran, said } = machine(DEBIAN_ROOT);
    const result = ensureChromium(setup);
    expect(result).toMatchObject({ ok: false });
    expect(result.ok ? '' : result.message).toMatch(/^No Chromium for the browser tests: `apt-get install -y chromium` and Playwright's download both failed .*CHROMIUM_PATH=/);
    // apt-get update failing skips the install command; Playwright is still tried.
    expect(ran).toEqual(['apt-get update -qq', 'node_modules/.bin/playwright install chromium --no-shell']);
    expect(said).toEqual(['No Chromium for the browser tests: installing one with `apt-get install -y chromium`', 'That did not work: trying `npx playwright install chromium --no-shell`']);
  });
});
