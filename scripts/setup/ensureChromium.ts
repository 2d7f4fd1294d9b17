/**
 * `npm test`'s browser check, run before any stage so a missing browser costs seconds, not the
 * whole run: finds a Chromium as scripts/lib/chromium.ts does, and when there is none installs one
 * the way this machine allows, saying so. On Debian as root, the distribution's package (what
 * these machines can reach); elsewhere Playwright's installer, which downloads Chrome for Testing.
 * When nothing works it answers one line naming the command to run. Ubuntu goes to Playwright's
 * installer, since its `chromium` package is a snap Playwright cannot drive.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findChromium, hostChromiumProbe, type ChromiumLookup, type ChromiumSource } from '../lib/chromium.ts';

export interface InstallHost {
  platform: NodeJS.Platform;
  /** ID and ID_LIKE from /etc/os-release, lower-case; empty off Linux. */
  distro: string[];
  isRoot: boolean;
  hasAptGet: boolean;
}

export interface InstallStep {
  /** The command as a person would type it. */
  shown: string;
  commands: { argv: string[]; env?: Record<string, string> }[];
}

export interface InstallPlan {
  steps: InstallStep[];
  /** The one line printed when every step failed. */
  ifAllFail: string;
}

const RUN_AGAIN = 'then run `npm test` again';
const PLAYWRIGHT = join('node_modules', '.bin', 'playwright');

/** How this machine can get a Chromium, in the order to try. */
export function planChromiumInstall(host: InstallHost): InstallPlan {
  const debianLike = host.platform === 'linux' && host.distro.includes('debian') && !host.distro.includes('ubuntu');
  const ubuntuLike = host.platform === 'linux' && host.distro.includes('ubuntu');
  const apt: InstallStep = {
    shown: 'apt-get install -y chromium',
    commands: [
      { argv: ['apt-get', 'update', '-qq'], env: { DEBIAN_FRONTEND: 'noninteractive' } },
      { argv: ['apt-get', 'install', '-y', '-qq', 'chromium'], env: { DEBIAN_FRONTEND: 'noninteractive' } },
    ],
  };
  // As root on Ubuntu the installer also fetches the system libraries Chromium needs.
  const withDeps = ubuntuLike && host.isRoot ? ['--with-deps'] : [];
  const playwright: InstallStep = {
    shown: `npx playwright install ${[...withDeps, 'chromium', '--no-shell'].join(' ')}`,
    commands: [{ argv: [PLAYWRIGHT, 'install', ...withDeps, 'chromium', '--no-shell'] }],
  };
  const pointAtOne = `install Chromium or Chrome and run \`CHROMIUM_PATH=/path/to/chrome npm test\``;

  if (debianLike && host.isRoot && host.hasAptGet) {
    return { steps: [apt, playwright], ifAllFail: `No Chromium for the browser tests: \`${apt.shown}\` and Playwright's download both failed (see above); ${pointAtOne}` };
  }
  if (debianLike && host.hasAptGet) {
    return { steps: [playwright], ifAllFail: `No Chromium for the browser tests: run \`sudo ${apt.shown}\`, ${RUN_AGAIN}` };
  }
  return { steps: [playwright], ifAllFail: `No Chromium for the browser tests and Playwright could not download one (see above): ${pointAtOne}` };
}

export type ChromiumReady = { ok: true; source: ChromiumSource; path: string; installedWith?: string } | { ok: false; message: string };

export interface ChromiumSetup {
  locate(): ChromiumLookup;
  host: InstallHost;
  /** Runs one command with the terminal attached; true when it exits 0. */
  run(argv: string[], env?: Record<string, string>): boolean;
  say(line: string): void;
}

export function ensureChromium(setup: ChromiumSetup): ChromiumReady {
  const first = setup.locate();
  if (first.kind === 'found') return { ok: true, source: first.source, path: first.path };
  if (first.kind === 'unusable CHROMIUM_PATH') {
    return { ok: false, message: `CHROMIUM_PATH=${first.path} is not a browser this can run: point it at a Chromium or Chrome executable, or unset it, ${RUN_AGAIN}` };
  }
  const plan = planChromiumInstall(setup.host);
  for (const [index, step] of plan.steps.entries()) {
    setup.say(index === 0 ? `No Chromium for the browser tests: installing one with \`${step.shown}\`` : `That did not work: trying \`${step.shown}\``);
    if (!step.commands.every(({ argv, env }) => setup.run(argv, env))) continue;
    const now = setup.locate();
    if (now.kind === 'found') return { ok: true, source: now.source, path: now.path, installedWith: step.shown };
  }
  return { ok: false, message: plan.ifAllFail };
}

/** ID and ID_LIKE of an os-release file, lower-case. */
export function parseOsRelease(text: string): string[] {
  const values = [...text.matchAll(/^(ID|ID_LIKE)=(.*)$/gm)].map((match) => (match[2] ?? '').replace(/^["']|["']$/g, ''));
  return values.flatMap((value) => value.toLowerCase().split(/\s+/)).filter(Boolean);
}

/** The real machine: Playwright's own Chromium path, /etc/os-release, the user id, commands run in place. */
export async function hostChromiumSetup(): Promise<ChromiumSetup> {
  const { chromium } = await import('@playwright/test');
  const osRelease = process.platform === 'linux' && existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
  return {
    locate: () => findChromium(hostChromiumProbe(chromium.executablePath())),
    host: {
      platform: process.platform,
      distro: parseOsRelease(osRelease),
      isRoot: process.getuid?.() === 0,
      hasAptGet: ['/usr/bin/apt-get', '/bin/apt-get'].some((path) => existsSync(path)),
    },
    run: (argv, env) => {
      const [command, ...args] = argv as [string, ...string[]];
      return spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, ...env } }).status === 0;
    },
    say: (line) => process.stdout.write(`${line}\n`),
  };
}
