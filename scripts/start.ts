/**
 * `npm start`: builds the page and serves it on http://127.0.0.1:4173/ with the generated tiny
 * model at models/tiny-llama/, so the page works offline out of the box (choose "tiny" in the
 * Model list; its weights are random, so its text is noise). Real models come from the catalog.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureTinyModel } from './fixtures/tinyModelFixture.ts';

const vite = join('node_modules', '.bin', 'vite');
await ensureTinyModel();
const build = spawnSync(vite, ['build'], { stdio: 'inherit' });
if (build.status === 0) {
  spawnSync(vite, ['preview', '--host', '127.0.0.1', '--port', '4173', '--strictPort'], { stdio: 'inherit' });
} else {
  process.exitCode = build.status ?? 1;
}
