/** `vite build` of the release configuration (no test harness, no bundled tiny model) into a folder of the test's. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from './runCli.ts';

export function buildRelease(outDir: string): Promise<void> {
  const env = { ...process.env };
  delete env.PLAYGROUND_TEST_BUILD;
  const child = spawn(join(PROJECT_ROOT, 'node_modules/.bin/vite'), ['build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'error'], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`vite build exited ${code}: ${stderr}`))));
  });
}
