/**
 * The shared tiny-Llama fixtures at tests/fixtures/generated/tiny-llama (Zephyr's chat format) and
 * tiny-llama-<variant> (Llama-3's, Ministral's), gitignored. Generated once (seed 0, default sizes)
 * and regenerated only when a file is missing or the stamp next to the folder records other
 * options or another generator version.
 */
import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChatVariant } from '../../scripts/tinyModel/chatVariants.ts';
import { DEFAULT_TINY_MODEL_SIZES } from '../../scripts/tinyModel/config.ts';
import { TINY_MODEL_FILES, TINY_MODEL_GENERATOR_VERSION, makeTinyModel } from '../../scripts/tinyModel/makeTinyModel.ts';

export const TINY_MODEL_FIXTURE_OPTIONS = { seed: 0, sizes: { ...DEFAULT_TINY_MODEL_SIZES } } as const;

const generatedDir = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/generated');
export const TINY_MODEL_FIXTURE_DIR = join(generatedDir, 'tiny-llama');

function fixtureDir(chat: ChatVariant): string {
  return chat === 'zephyr' ? TINY_MODEL_FIXTURE_DIR : `${TINY_MODEL_FIXTURE_DIR}-${chat}`;
}

function expectedStamp(chat: ChatVariant): string {
  const options = chat === 'zephyr' ? TINY_MODEL_FIXTURE_OPTIONS : { ...TINY_MODEL_FIXTURE_OPTIONS, chat };
  return JSON.stringify({ generatorVersion: TINY_MODEL_GENERATOR_VERSION, options });
}

async function isUpToDate(dir: string, stampPath: string, stamp: string): Promise<boolean> {
  if (!TINY_MODEL_FILES.every((file) => existsSync(join(dir, file)))) return false;
  try {
    return (await readFile(stampPath, 'utf8')) === stamp;
  } catch {
    return false;
  }
}

/** Returns the absolute fixture folder of a chat format, generating it first when it is missing or stale. */
export async function ensureTinyModel(chat: ChatVariant = 'zephyr'): Promise<string> {
  const dir = fixtureDir(chat);
  // Outside the model folder, so the folder holds exactly the files of a Hugging Face model.
  const stampPath = `${dir}.stamp.json`;
  const stamp = expectedStamp(chat);
  if (await isUpToDate(dir, stampPath, stamp)) return dir;
  // Build beside the target and swap it in, so a reader never sees a half-written folder.
  const staging = `${dir}.staging-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await makeTinyModel({ outDir: staging, ...TINY_MODEL_FIXTURE_OPTIONS, chat });
  await rm(stampPath, { force: true });
  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
  await writeFile(stampPath, stamp);
  return dir;
}
