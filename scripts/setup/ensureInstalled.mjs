// @ts-check
/**
 * The first step of `npm start` and `npm test`: runs `npm ci` when node_modules is missing or does
 * not match package-lock.json (the rule is in installState.mjs), saying why; otherwise it prints
 * nothing and takes a few milliseconds. Plain Node with no dependencies, since it runs before they
 * exist. Exit code: npm ci's when it fails, else 0.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { installReason, readInstallState } from './installState.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
// Development dependencies (vite, tsc, vitest, Playwright) are what start and test run, even where
// NODE_ENV=production or an npm config would leave them out.
const CI_ARGS = ['ci', '--include=dev', '--no-audit', '--no-fund'];

/** The npm that runs this script (npm sets npm_execpath), else the one on PATH. @returns {[string, string[]]} */
function npmCommand() {
  const npmCli = process.env.npm_execpath;
  if (npmCli && /npm-cli\.c?js$/.test(npmCli)) return [process.execPath, [npmCli, ...CI_ARGS]];
  return [process.platform === 'win32' ? 'npm.cmd' : 'npm', CI_ARGS];
}

const reason = installReason(readInstallState(root));
if (reason) {
  console.log(`${reason}: installing the locked dependencies with \`npm ${CI_ARGS.join(' ')}\``);
  const [command, args] = npmCommand();
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) {
    console.error(`\`npm ci\` failed (see above): fix what it reports, or run \`npm ci\` yourself, then run this command again.`);
    process.exitCode = result.status ?? 1;
  }
}
