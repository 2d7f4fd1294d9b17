/**
 * check-fresh-clone: what a newcomer does, checked end to end. Clones this checkout's committed
 * HEAD into a temporary folder (with ../shared linked beside it, as the tests expect), then:
 *   1. `npm test` as the first command: its pre-step must install the dependencies, and it must pass;
 *   2. the pre-step again: it must install nothing;
 *   3. the pre-step once node_modules is older than the lockfile (one installed package's version
 *      rolled back, as an install from an older lockfile leaves it): it must reinstall, after which
 *      node_modules matches again.
 * With --pre-step-only, step 1 runs the pre-step alone instead of the whole `npm test` (minutes
 * instead of a quarter of an hour). CI=1 is set, so Playwright never reuses a server another
 * checkout left on its ports.
 *
 * Usage: tsx scripts/setup/checkFreshClone.ts [--pre-step-only] [--keep]
 * Output: each step with its time and verdict; the clone is removed unless --keep or a step failed.
 * Exit code: 1 when a step failed, else 0.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const INSTALLING = /: installing the locked dependencies with `npm ci/;

interface Run {
  code: number | null;
  output: string;
  seconds: number;
}

/**
 * A newcomer's terminal: none of the npm_* variables or node_modules/.bin folders on PATH that
 * `npm run` adds for this checkout.
 */
function freshEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')));
  const path = (process.env.PATH ?? '').split(delimiter).filter((folder) => !/node_modules[\\/]\.bin|node-gyp-bin/.test(folder));
  return { ...env, PATH: path.join(delimiter), CI: '1' };
}

/** Runs a command in `cwd`, echoing its output while keeping it. */
function run(command: string, args: string[], cwd: string): Promise<Run> {
  const started = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd, env: freshEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer, to: NodeJS.WriteStream) => {
      output += chunk.toString();
      to.write(chunk);
    };
    child.stdout.on('data', (chunk: Buffer) => keep(chunk, process.stdout));
    child.stderr.on('data', (chunk: Buffer) => keep(chunk, process.stderr));
    child.on('error', fail);
    child.on('close', (code) => done({ code, output, seconds: (performance.now() - started) / 1000 }));
  });
}

async function rollBackOneInstalledPackage(clone: string): Promise<string> {
  const locked = JSON.parse(await readFile(join(clone, 'package-lock.json'), 'utf8')).packages as Record<string, { version?: string; optional?: boolean }>;
  const [path] = Object.entries(locked).find(([key, entry]) => key.startsWith('node_modules/') && !entry.optional && entry.version) ?? [];
  if (!path) throw new Error('package-lock.json names no package to roll back');
  const manifestPath = join(clone, path, 'package.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
  await writeFile(manifestPath, JSON.stringify({ ...manifest, version: '0.0.0-older' }));
  return path;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'pre-step-only': { type: 'boolean' }, keep: { type: 'boolean' } }, strict: true });
  const dirty = await run('git', ['status', '--porcelain'], root);
  if (dirty.output.trim()) console.log('Note: uncommitted changes are not in the clone; it checks the committed HEAD.');

  const parent = await mkdtemp(join(tmpdir(), 'fresh-clone-'));
  const clone = join(parent, 'wikipersona-playground');
  const shared = resolve(root, '..', 'shared');
  if (existsSync(shared)) await symlink(shared, join(parent, 'shared'));
  const failures: string[] = [];
  const check = (ok: boolean, what: string, seconds: number) => {
    console.log(`\n[fresh clone] ${ok ? 'ok' : 'FAILED'}: ${what} (${seconds.toFixed(0)} s)\n`);
    if (!ok) failures.push(what);
  };

  const cloned = await run('git', ['clone', '--quiet', root, clone], parent);
  check(cloned.code === 0, `git clone into ${clone}`, cloned.seconds);
  if (cloned.code === 0) {
    const first = values['pre-step-only'] ? await run(process.execPath, ['scripts/setup/ensureInstalled.mjs'], clone) : await run('npm', ['test'], clone);
    const lastLine = first.output.trim().split('\n').at(-1) ?? '';
    check(first.code === 0 && INSTALLING.test(first.output), `${values['pre-step-only'] ? 'the pre-step' : '`npm test`'} as the first command installs${values['pre-step-only'] ? '' : ` and passes ("${lastLine}")`}`, first.seconds);

    const second = await run(process.execPath, ['scripts/setup/ensureInstalled.mjs'], clone);
    check(second.code === 0 && second.output.trim() === '', 'a second run installs nothing', second.seconds);

    const rolledBack = await rollBackOneInstalledPackage(clone);
    const third = await run(process.execPath, ['scripts/setup/ensureInstalled.mjs'], clone);
    check(third.code === 0 && INSTALLING.test(third.output) && third.output.includes('0.0.0-older'), `with ${rolledBack} older than the lockfile it reinstalls`, third.seconds);
    const fourth = await run(process.execPath, ['scripts/setup/ensureInstalled.mjs'], clone);
    check(fourth.code === 0 && fourth.output.trim() === '', 'after which node_modules matches the lockfile', fourth.seconds);
  }

  if (failures.length > 0 || values.keep) console.log(`The clone is kept in ${clone}`);
  else await rm(parent, { recursive: true, force: true });
  console.log(failures.length === 0 ? 'fresh clone: every check passed' : `fresh clone: ${failures.length} check(s) failed: ${failures.join('; ')}`);
  process.exitCode = failures.length === 0 ? 0 : 1;
}

await main();
