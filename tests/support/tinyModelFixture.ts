/**
 * The shared tiny-Llama fixture at tests/fixtures/generated/tiny-llama (gitignored). Generated
 * once (seed 0, default sizes) and regenerated only when a file is missing or the stamp next to
 * the folder records other options or another generator version.
 */
import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TINY_MODEL_SIZES } from '../../scripts/tinyModel/config.ts';
import { TINY_MODEL_FILES, TINY_MODEL_GENERATOR_VERSION, makeTinyModel } from '../../scripts/tinyModel/makeTinyModel.ts';

export const TINY_MODEL_FIXTURE_OPTIONS = { seed: 0, sizes: { ...DEFAULT_TINY_MODEL_SIZES } } as const;

const generatedDir = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/generated');
export const TINY_MODEL_FIXTURE_DIR = join(generatedDir, 'tiny-llama');
/** Outside the model folder, so the folder holds exactly the files of a Hugging Face model. */
const stampPath = join(generatedDir, 'tiny-llama.stamp.json');

function expectedStamp(): string {
  return JSON.stringify({ generatorVersion: TINY_MODEL_GENERATOR_VERSION, options: TINY_MODEL_FIXTURE_OPTIONS });
}

async function isUpToDate(): Promise<boolean> {
  if (!TINY_MODEL_FILES.every((file) => existsSync(join(TINY_MODEL_FIXTURE_DIR, file)))) return false;
  try {
    return (await readFile(stampPath, 'utf8')) === expectedStamp();
  } catch {
    return false;
  }
}

/** Returns the absolute fixture folder, generating it first when it is missing or stale. */
export async function ensureTinyModel(): Promise<string> {
  if (await isUpToDate()) return TINY_MODEL_FIXTURE_DIR;
  // Build beside the target and swap it in, so a reader never sees a half-written folder.
  const staging = `${TINY_MODEL_FIXTURE_DIR}.staging-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await makeTinyModel({ outDir: staging, ...TINY_MODEL_FIXTURE_OPTIONS });
  await rm(stampPath, { force: true });
  await rm(TINY_MODEL_FIXTURE_DIR, { recursive: true, force: true });
  await rename(staging, TINY_MODEL_FIXTURE_DIR);
  await writeFile(stampPath, expectedStamp());
  return TINY_MODEL_FIXTURE_DIR;
}
