// @ts-check
/**
 * Whether node_modules holds what package-lock.json pins: the rule `npm start` and `npm test` apply
 * before anything else. Plain Node with no dependencies, since it runs before they exist.
 *
 * The rule compares what is on disk, not times: a finished npm install (its record,
 * node_modules/.package-lock.json, is written last) and every package the lockfile names installed
 * at the version it pins, read from the package's own package.json. Optional packages may be
 * missing (npm skips the builds for other platforms); extra installed packages are harmless.
 * Modification times would misjudge both ways: `git checkout`, `git rebase` or `git stash` rewrite
 * package-lock.json with a new time and the same contents (a needless reinstall of a minute or
 * more), and a copied or hard-linked node_modules keeps its old times. npm's record alone is not
 * enough either: `npm install --package-lock-only` rewrites it without installing anything.
 * Reading ~300 small package.json files costs a few tens of milliseconds.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * @typedef {{ version?: string, optional?: boolean, devOptional?: boolean, link?: boolean }} LockedPackage
 * @typedef {{
 *   hasNodeModules: boolean,
 *   hasInstallRecord: boolean,
 *   lockfile: string,
 *   installedVersion: (path: string) => string | undefined,
 * }} InstallState
 *   `installedVersion` reads `<path>/package.json` (path as the lockfile keys it, e.g.
 *   `node_modules/a/node_modules/b`); undefined when nothing is installed there.
 */

/** What the rule reads, from the project folder `root`. @param {string} root @returns {InstallState} */
export function readInstallState(root) {
  return {
    hasNodeModules: existsSync(join(root, 'node_modules')),
    hasInstallRecord: existsSync(join(root, 'node_modules', '.package-lock.json')),
    lockfile: readFileSync(join(root, 'package-lock.json'), 'utf8'),
    installedVersion: (path) => {
      try {
        const { version } = JSON.parse(readFileSync(join(root, path, 'package.json'), 'utf8'));
        return typeof version === 'string' ? version : '';
      } catch {
        return undefined;
      }
    },
  };
}

/** @param {string} text @returns {Record<string, LockedPackage> | undefined} */
function lockedPackages(text) {
  try {
    const packages = JSON.parse(text)?.packages;
    return packages && typeof packages === 'object' ? packages : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why dependencies must be installed, or undefined when node_modules is current.
 * @param {InstallState} state
 * @returns {string | undefined}
 */
export function installReason(state) {
  if (!state.hasNodeModules) return 'node_modules is missing';
  if (!state.hasInstallRecord) return 'node_modules holds no finished npm install (no node_modules/.package-lock.json)';
  const locked = lockedPackages(state.lockfile);
  // npm ci reports an unreadable lockfile better than this can.
  if (!locked) return 'package-lock.json has no readable "packages" list';

  /** @type {string[]} */
  const differences = [];
  for (const [path, want] of Object.entries(locked)) {
    // '' is the project itself; other paths outside node_modules are workspace folders.
    if (!path.includes('node_modules/')) continue;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const have = state.installedVersion(path);
    if (have === undefined) {
      if (!want.optional && !want.devOptional) differences.push(`${name} is not installed`);
    } else if (!want.link && have !== want.version) {
      differences.push(`${name} is ${have || 'unversioned'}, the lockfile pins ${want.version}`);
    }
  }
  if (differences.length === 0) return undefined;
  const more = differences.length > 1 ? ` and ${differences.length - 1} more` : '';
  return `node_modules does not match package-lock.json (${differences[0]}${more})`;
}
