import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { installReason, readInstallState, type InstallState } from '../../scripts/setup/installState.mjs';

const REPO = resolve(import.meta.dirname, '../..');
const LOCK = JSON.stringify({
  name: 'p',
  lockfileVersion: 3,
  packages: {
    '': { name: 'p' },
    'node_modules/vite': { version: '8.3.8' },
    'node_modules/zod': { version: '4.6.7' },
    'node_modules/@esbuild/darwin-arm64': { version: '0.27.0', optional: true },
    'node_modules/vitest/node_modules/@types/chai': { version: '5.2.3', dev: true },
  },
});

/** A finished install holding `installed` (lockfile path → version). */
function state(installed: Record<string, string>, lockfile = LOCK): InstallState {
  return { hasNodeModules: true, hasInstallRecord: true, lockfile, installedVersion: (path) => installed[path] };
}

const CURRENT = { 'node_modules/vite': '8.3.8', 'node_modules/zod': '4.6.7', 'node_modules/vitest/node_modules/@types/chai': '5.2.3' };

describe('installReason', () => {
  it('installs when node_modules is missing, or holds no finished npm install', () => {
    expect(installReason({ ...state(CURRENT), hasNodeModules: false, hasInstallRecord: false })).toBe('node_modules is missing');
    expect(installReason({ ...state(CURRENT), hasInstallRecord: false })).toBe('node_modules holds no finished npm install (no node_modules/.package-lock.json)');
  });

  it("is current when every locked package is installed as pinned; other platforms' optional builds and extras may differ", () => {
    expect(installReason(state({ ...CURRENT, 'node_modules/left-over': '1.0.0' }))).toBeUndefined();
  });

  it('names the first difference and counts the rest: another version, a package not installed', () => {
    expect(installReason(state({ ...CURRENT, 'node_modules/vite': '8.3.7' }))).toBe('node_modules does not match package-lock.json (vite is 8.3.7, the lockfile pins 8.3.8)');
    expect(installReason(state({ 'node_modules/vite': '8.3.8' }))).toBe('node_modules does not match package-lock.json (zod is not installed and 1 more)');
    expect(installReason(state({ ...CURRENT, 'node_modules/vitest/node_modules/@types/chai': '' }))).toBe(
      'node_modules does not match package-lock.json (@types/chai is unversioned, the lockfile pins 5.2.3)',
    );
    // An optional package that is installed must still be the pinned one.
    expect(installReason(state({ ...CURRENT, 'node_modules/@esbuild/darwin-arm64': '0.26.0' }))).toMatch(/@esbuild\/darwin-arm64 is 0.26.0/);
  });

  it('leaves an unreadable lockfile to npm ci, which explains it', () => {
    expect(installReason(state(CURRENT, '{}'))).toBe('package-lock.json has no readable "packages" list');
    expect(installReason(state(CURRENT, '<<<<<<< HEAD'))).toBe('package-lock.json has no readable "packages" list');
  });

  it("agrees with npm on this project's own node_modules", () => {
    expect(installReason(readInstallState(REPO))).toBeUndefined();
  });
});

/**
 * The pre-step itself on a small project whose one dependency is a local tarball, so `npm ci`
 * really runs, offline, in seconds. Each release is locked once in its own upstream folder;
 * `pull` copies one into the checkout as `git pull` would.
 */
describe('scripts/setup/ensureInstalled.mjs', () => {
  const offline = { ...process.env, npm_config_offline: 'true', npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' };
  let upstream: string;
  let project: string;

  function npm(args: string[], cwd: string): void {
    const result = spawnSync('npm', args, { cwd, encoding: 'utf8', env: offline });
    expect(result.status, result.stderr).toBe(0);
  }

  /** A project folder locked to tiny-dep at `version`, packed into that folder. */
  async function release(version: string, folder: string): Promise<void> {
    const source = join(folder, 'tiny-dep');
    await mkdir(source, { recursive: true });
    await writeFile(join(source, 'package.json'), JSON.stringify({ name: 'tiny-dep', version, main: 'index.js' }));
    await writeFile(join(source, 'index.js'), `module.exports = '${version}';\n`);
    npm(['pack', '--pack-destination', folder], source);
    await writeFile(join(folder, 'package.json'), JSON.stringify({ name: 'project', version: '1.0.0', private: true, dependencies: { 'tiny-dep': `file:tiny-dep-${version}.tgz` } }));
    npm(['install', '--package-lock-only'], folder);
  }

  async function pull(version: string): Promise<void> {
    for (const file of ['package.json', 'package-lock.json', `tiny-dep-${version}.tgz`]) await copyFile(join(upstream, version, file), join(project, file));
  }

  function preStep() {
    return spawnSync(process.execPath, [join(project, 'scripts', 'setup', 'ensureInstalled.mjs')], { cwd: project, encoding: 'utf8', env: offline });
  }

  async function installedVersion(): Promise<string> {
    return JSON.parse(await readFile(join(project, 'node_modules', 'tiny-dep', 'package.json'), 'utf8')).version;
  }

  beforeAll(async () => {
    upstream = await mkdtemp(join(tmpdir(), 'ensure-installed-upstream-'));
    for (const version of ['1.0.0', '1.0.1']) await release(version, join(upstream, version));
  });

  afterAll(async () => {
    await rm(upstream, { recursive: true, force: true });
  });

  beforeEach(async () => {
    project = await mkdtemp(join(tmpdir(), 'ensure-installed-'));
    await mkdir(join(project, 'scripts', 'setup'), { recursive: true });
    for (const file of ['ensureInstalled.mjs', 'installState.mjs']) await copyFile(join(REPO, 'scripts', 'setup', file), join(project, 'scripts', 'setup', file));
    await pull('1.0.0');
  });

  afterEach(async () => {
    await rm(project, { recursive: true, force: true });
  });

  it('installs on a fresh checkout, then does nothing, and reinstalls when node_modules is older than the lockfile', async () => {
    const fresh = preStep();
    expect(fresh.status).toBe(0);
    expect(fresh.stdout).toContain('node_modules is missing: installing the locked dependencies with `npm ci --include=dev --no-audit --no-fund`');
    expect(await installedVersion()).toBe('1.0.0');

    const again = preStep();
    expect(again.status).toBe(0);
    expect(again.stdout + again.stderr).toBe('');

    // A checkout rewrites the lockfile with a new time and the same contents: nothing to do.
    const later = new Date(Date.now() + 3600_000);
    await utimes(join(project, 'package-lock.json'), later, later);
    expect(preStep().stdout).toBe('');

    // A pull brings a lockfile pinning another version.
    await pull('1.0.1');
    const pulled = preStep();
    expect(pulled.status).toBe(0);
    expect(pulled.stdout).toContain('node_modules does not match package-lock.json (tiny-dep is 1.0.0, the lockfile pins 1.0.1): installing');
    expect(await installedVersion()).toBe('1.0.1');
    expect(preStep().stdout).toBe('');

    // `npm install --package-lock-only` rewrites npm's record of node_modules without installing.
    await release('1.0.2', project);
    expect(preStep().stdout).toContain('(tiny-dep is 1.0.1, the lockfile pins 1.0.2): installing');
    expect(await installedVersion()).toBe('1.0.2');
  });

  it("passes on npm ci's failure with one line saying what to do", async () => {
    // package.json asks for what the lockfile does not pin: npm ci refuses.
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'project', version: '1.0.0', private: true, dependencies: { 'tiny-dep': 'file:tiny-dep-9.9.9.tgz' } }));
    const failed = preStep();
    expect(failed.status).not.toBe(0);
    expect(failed.stderr.trim().split('\n').at(-1)).toBe('`npm ci` failed (see above): fix what it reports, or run `npm ci` yourself, then run this command again.');
  });
});
