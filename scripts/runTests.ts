/**
 * `npm test`: every check in order — type-checks, lint, unit tests (vitest), browser tests
 * (Playwright) — each run to the end even when an earlier one fails, then one summary line
 * `tests: N passed, M failed, K skipped` counted from the runners' JSON reports. Exit code 1 when
 * any stage failed or no test ran. Dependencies are installed before this runs
 * (scripts/setup/ensureInstalled.mjs); a Chromium is found or installed first of all, and without
 * one it stops at once with the command to run (exit code 2).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ensureChromium, hostChromiumSetup } from './setup/ensureChromium.ts';

const REPORTS = join('.cache', 'test-reports');
const VITEST_REPORT = join(REPORTS, 'vitest.json');
const PLAYWRIGHT_REPORT = join(REPORTS, 'playwright.json');

interface Stage {
  name: string;
  command: string[];
  env?: Record<string, string>;
}

const stages: Stage[] = [
  { name: 'types (Node side)', command: ['tsc', '-p', 'tsconfig.json', '--noEmit'] },
  { name: 'types (pure core)', command: ['tsc', '-p', 'tsconfig.core.json', '--noEmit'] },
  { name: 'types (page, svelte-check)', command: ['svelte-check', '--tsconfig', './tsconfig.app.json', '--fail-on-warnings', '--output', 'human'] },
  { name: 'lint', command: ['eslint', '--max-warnings', '0', '.'] },
  { name: 'unit tests', command: ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${VITEST_REPORT}`] },
  { name: 'browser tests', command: ['playwright', 'test', '--reporter=list,json'], env: { PLAYWRIGHT_JSON_OUTPUT_FILE: PLAYWRIGHT_REPORT } },
];

const VitestReport = z.object({ numPassedTests: z.number(), numFailedTests: z.number(), numPendingTests: z.number(), numTodoTests: z.number() });
const PlaywrightReport = z.object({ stats: z.object({ expected: z.number(), unexpected: z.number(), flaky: z.number(), skipped: z.number() }) });

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

function readCounts(path: string, parse: (json: unknown) => Counts): Counts | undefined {
  try {
    return parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch {
    return undefined;
  }
}

/** Runs every stage, prints the summary and returns the exit code. */
function runStages(): number {
  rmSync(REPORTS, { recursive: true, force: true });
  mkdirSync(REPORTS, { recursive: true });
  const failedStages: string[] = [];
  for (const stage of stages) {
    process.stdout.write(`\n== ${stage.name}: ${stage.command.join(' ')}\n`);
    const [bin, ...args] = stage.command as [string, ...string[]];
    const result = spawnSync(join('node_modules', '.bin', bin), args, { stdio: 'inherit', env: { ...process.env, ...stage.env } });
    if (result.status !== 0) failedStages.push(stage.name);
  }

  const unit = readCounts(VITEST_REPORT, (json) => {
    const r = VitestReport.parse(json);
    return { passed: r.numPassedTests, failed: r.numFailedTests, skipped: r.numPendingTests + r.numTodoTests };
  });
  const browser = readCounts(PLAYWRIGHT_REPORT, (json) => {
    const { stats } = PlaywrightReport.parse(json);
    return { passed: stats.expected + stats.flaky, failed: stats.unexpected, skipped: stats.skipped };
  });
  const total = [unit, browser].reduce<Counts>(
    (sum, counts) => ({ passed: sum.passed + (counts?.passed ?? 0), failed: sum.failed + (counts?.failed ?? 0), skipped: sum.skipped + (counts?.skipped ?? 0) }),
    { passed: 0, failed: 0, skipped: 0 },
  );
  if (!unit) failedStages.push('unit tests (no report)');
  if (!browser) failedStages.push('browser tests (no report)');

  process.stdout.write(`\nunit: ${unit ? `${unit.passed} passed, ${unit.failed} failed` : 'no report'}; browser: ${browser ? `${browser.passed} passed, ${browser.failed} failed` : 'no report'}\n`);
  if (failedStages.length > 0) process.stdout.write(`failed stages: ${[...new Set(failedStages)].join(', ')}\n`);
  process.stdout.write(`tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n`);
  return failedStages.length > 0 || total.passed === 0 ? 1 : 0;
}

const chromium = ensureChromium(await hostChromiumSetup());
if (chromium.ok) {
  process.stdout.write(`Chromium for the browser tests: ${chromium.path} (${chromium.source})\n`);
  process.exitCode = runStages();
} else {
  process.stdout.write(`${chromium.message}\n`);
  process.exitCode = 2;
}
