/**
 * The shared tiny encoder fixtures at tests/fixtures/generated/tiny-embedder, tiny-reward and
 * tiny-sentence-transformer (gitignored), made by scripts/tinyModel/tinyEncoder.ts. Generated once and regenerated only when
 * a file is missing or the stamp beside the folder records other options or another generator
 * version, like the tiny Llama fixture.
 */
import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TINY_ENCODER_GENERATOR_VERSION, makeTinyEncoder, tinyEncoderFiles, type TinyEncoderKind } from '../../scripts/tinyModel/tinyEncoder.ts';

const generatedDir = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/generated');

/** Distinct seeds, so the reward model's encoder is not the embedder's. */
export const TINY_ENCODER_FIXTURES = {
  embedder: { dir: join(generatedDir, 'tiny-embedder'), seed: 1 },
  reward: { dir: join(generatedDir, 'tiny-reward'), seed: 2 },
  // The embedder's seed: the same encoder, with sentence-transformers modules around it.
  'sentence-transformer': { dir: join(generatedDir, 'tiny-sentence-transformer'), seed: 1 },
} as const satisfies Record<TinyEncoderKind, { dir: string; seed: number }>;

function stampPath(kind: TinyEncoderKind): string {
  return `${TINY_ENCODER_FIXTURES[kind].dir}.stamp.json`;
}

function expectedStamp(kind: TinyEncoderKind): string {
  return JSON.stringify({ generatorVersion: TINY_ENCODER_GENERATOR_VERSION, kind, seed: TINY_ENCODER_FIXTURES[kind].seed });
}

async function isUpToDate(kind: TinyEncoderKind): Promise<boolean> {
  const { dir } = TINY_ENCODER_FIXTURES[kind];
  if (!tinyEncoderFiles(kind).every((file) => existsSync(join(dir, file)))) return false;
  try {
    return (await readFile(stampPath(kind), 'utf8')) === expectedStamp(kind);
  } catch {
    return false;
  }
}

async function ensure(kind: TinyEncoderKind): Promise<string> {
  const { dir, seed } = TINY_ENCODER_FIXTURES[kind];
  if (await isUpToDate(kind)) return dir;
  // Build beside the target and swap it in, so a reader never sees a half-written folder.
  const staging = `${dir}.staging-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await makeTinyEncoder({ outDir: staging, seed, kind });
  await rm(stampPath(kind), { force: true });
  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
  await writeFile(stampPath(kind), expectedStamp(kind));
  return dir;
}

/** Absolute folders of the tiny embedder, reward model and sentence-transformer, generated first when missing or stale. */
export async function ensureTinyEncoders(): Promise<{ embedder: string; reward: string; sentenceTransformer: string }> {
  return { embedder: await ensure('embedder'), reward: await ensure('reward'), sentenceTransformer: await ensure('sentence-transformer') };
}
