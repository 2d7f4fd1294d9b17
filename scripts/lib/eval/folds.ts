/**
 * Where a fold-routed run's folds come from, and its `--engine fold=spec,…` values:
 * - the authors' cross-validation layout as is (what build-dataset writes under authors/, spec
 *   §1.4): folders `cv0`…`cv4` (and `cv{axis}`) each with `train_meta_prefs.json`, whose `name`s
 *   are the personas that fold's model trained on; every other persona of the dataset is held out;
 * - else a personas file with the authors' `cv` column (fold k is `cv{k}`);
 * - or `--folds <file>`: JSON `{ "folds": { "<fold>": ["held-out persona", …] } }`, or either of
 *   the above given explicitly (a folder, or a personas file).
 * Failures handled: a folder with no folds, a fold that names no training persona of this
 * dataset, an unreadable file: AppError 'invalid-input' saying what was looked for.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { AppError } from '../../../src/core/errors.ts';
import { FoldName, FoldsFile, sameName } from '../../../src/core/eval/folds.ts';
import { readText } from '../cliInput.ts';
import { ENGINE_KINDS, parseEngineSpec, type CliEngineSpec } from './engines/registry.ts';

export interface LoadedFolds {
  source: string;
  heldOut: Record<string, string[]>;
}

const TRAIN_FILE = 'train_meta_prefs.json';
const NamedRecord = z.object({ name: z.string().min(1) });
const CvRecord = z.object({ name: z.string().min(1), cv: z.union([z.number().int(), z.string().min(1)]) });

/** Folders that may hold the cv folders, in the order the authors' and build-dataset's layouts put them. */
function layoutRoots(dir: string): string[] {
  const children = (parent: string) => (existsSync(parent) ? readdirSync(parent).filter((name) => name.endsWith('_self-yl')).map((name) => join(parent, name)) : []);
  return [dir, ...children(dir), join(dir, 'authors'), ...children(join(dir, 'authors'))].filter((path) => existsSync(path) && statSync(path).isDirectory());
}

async function jsonLines<T>(path: string, schema: z.ZodType<T>, expected: string): Promise<T[]> {
  const text = await readText(path, 'folds file');
  return text.split('\n').flatMap((line, index) => {
    if (line.trim() === '') return [];
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new AppError('invalid-input', `${path}, line ${index + 1}: not valid JSON (${(error as Error).message}).`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new AppError('invalid-input', `${path}, line ${index + 1}: expected ${expected}.`);
    return [parsed.data];
  });
}

async function fromCvFolders(root: string, names: readonly string[]): Promise<LoadedFolds | undefined> {
  const folders = readdirSync(root).filter((name) => /^cv/.test(name) && existsSync(join(root, name, TRAIN_FILE))).sort();
  if (folders.length === 0) return undefined;
  const heldOut: Record<string, string[]> = {};
  for (const folder of folders) {
    const trained = new Set((await jsonLines(join(root, folder, TRAIN_FILE), NamedRecord, 'a record with "name"')).map((record) => record.name.toLowerCase()));
    heldOut[folder] = names.filter((name) => !trained.has(name.toLowerCase()));
  }
  return { source: root, heldOut };
}

async function fromCvColumn(path: string): Promise<LoadedFolds> {
  const rows = await jsonLines(path, CvRecord, 'a persona record with "name" and "cv"');
  const heldOut: Record<string, string[]> = {};
  for (const row of rows) (heldOut[`cv${row.cv}`] ??= []).push(row.name);
  return { source: path, heldOut };
}

async function fromFoldsFile(path: string): Promise<LoadedFolds> {
  const text = await readText(path, 'folds file');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fromCvColumn(path);
  }
  const parsed = FoldsFile.safeParse(value);
  if (parsed.success) return { source: path, heldOut: parsed.data.folds };
  if (Array.isArray(value)) return fromCvColumn(path);
  const issue = parsed.error.issues[0];
  throw new AppError('invalid-input', `${path}: field "${issue?.path.join('.') ?? ''}": ${issue?.message ?? 'invalid'} (expected {"folds": {"cv0": ["held-out persona", …]}} or a personas file with "cv").`);
}

/**
 * The folds for `names` (the dataset's personas) from `given` (--folds) or, without it, from the
 * dataset's own folder. Held-out lists keep only this dataset's personas, spelled as it spells them.
 */
export async function loadFolds(given: string | undefined, datasetPath: string, names: readonly string[]): Promise<LoadedFolds> {
  const place = given ?? (statSync(datasetPath).isDirectory() ? datasetPath : dirname(datasetPath));
  let loaded: LoadedFolds | undefined;
  if (existsSync(place) && statSync(place).isDirectory()) {
    for (const root of layoutRoots(place)) {
      loaded = await fromCvFolders(root, names);
      if (loaded) break;
    }
    const personasFile = [join(place, 'personas.json'), join(place, 'authors', 'personas.json')].find((path) => existsSync(path));
    if (!loaded && personasFile) loaded = await fromCvColumn(personasFile);
  } else if (given) {
    loaded = await fromFoldsFile(given);
  }
  if (!loaded) {
    throw new AppError('invalid-input', `No folds found for ${given ?? datasetPath}: expected cv* folders with ${TRAIN_FILE} (the authors' layout, as build-dataset writes under authors/), a personas.json with "cv", or pass --folds <file> with {"folds": {"cv0": ["held-out persona", …]}}.`);
  }
  const heldOut = Object.fromEntries(
    Object.entries(loaded.heldOut).map(([fold, held]) => [fold, names.filter((name) => held.some((candidate) => sameName(candidate, name)))]),
  );
  return { source: loaded.source, heldOut };
}

const KIND_ALTERNATIVES = ENGINE_KINDS.join('|');
const FOLD_ASSIGNMENT = new RegExp(`^([A-Za-z0-9][A-Za-z0-9_.-]*)=((?:${KIND_ALTERNATIVES}):.*)$`, 's');
const FOLD_SEPARATOR = new RegExp(`,(?=[A-Za-z0-9][A-Za-z0-9_.-]*=(?:${KIND_ALTERNATIVES}):)`);

export type EngineChoice = { kind: 'single'; spec: CliEngineSpec } | { kind: 'folds'; specs: Map<string, CliEngineSpec> };

/**
 * `--engine` values (repeatable) and `--engines <file>`: one plain spec, or `fold=spec` entries
 * (comma-joined or repeated), or a JSON file `{ "cv0": "local:…", … }`.
 */
export async function parseEngineChoice(values: readonly string[], enginesFile: string | undefined): Promise<EngineChoice> {
  const entries: [string, string][] = [];
  const plain: string[] = [];
  for (const value of values) {
    for (const part of value.split(FOLD_SEPARATOR)) {
      const match = FOLD_ASSIGNMENT.exec(part);
      if (match) entries.push([match[1] as string, match[2] as string]);
      else plain.push(part);
    }
  }
  if (enginesFile) {
    const text = await readText(enginesFile, 'engines file');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new AppError('invalid-input', `${enginesFile} is not JSON (${(error as Error).message}): expected {"cv0": "local:<model dir>", …}.`);
    }
    const parsed = z.record(FoldName, z.string().min(1)).safeParse(value);
    if (!parsed.success) throw new AppError('invalid-input', `${enginesFile}: expected {"cv0": "local:<model dir>", …} (fold name → engine spec).`);
    entries.push(...Object.entries(parsed.data));
  }
  if (entries.length === 0) {
    if (plain.length !== 1) throw new AppError('invalid-input', `Give one --engine spec, or one per fold as --engine cv0=<spec>,cv1=<spec> (got ${plain.length} specs without a fold).`);
    return { kind: 'single', spec: parseEngineSpec(plain[0] as string) };
  }
  if (plain.length > 0) throw new AppError('invalid-input', `--engine mixes fold engines with one without a fold ("${plain[0]}"): write every engine as <fold>=<spec>.`);
  const specs = new Map<string, CliEngineSpec>();
  for (const [fold, spec] of entries) {
    if (specs.has(fold)) throw new AppError('invalid-input', `Fold "${fold}" is given two engines: give each fold one.`);
    specs.set(fold, parseEngineSpec(spec));
  }
  return { kind: 'folds', specs };
}
