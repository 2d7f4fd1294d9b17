/**
 * Reads a RewardBench-style file for `eval safety`: JSON (an array, or `{ "rows": [...] }`), JSON
 * Lines, or the published Parquet files (allenai/reward-bench's `filtered` split), read with
 * hyparquet (pure JavaScript, no native code). Each record needs `prompt`, `chosen`, `rejected`
 * and `subset`; `id` is kept when present (else the record's position). Invalid records are listed
 * by position and skipped; a file with none valid stops with what to fix.
 */
import { extname } from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { AppError } from '../../../src/core/errors.ts';
import { fingerprint } from '../../../src/core/eval/fingerprint.ts';
import { RewardBenchRecord } from '../../../src/core/eval/safety.ts';
import { readText } from '../cliInput.ts';
import type { Reporter } from '../reporter.ts';

export interface RewardBenchItem {
  id: string;
  prompt: string;
  chosen: string;
  rejected: string;
  subset: string;
}

export interface RewardBenchFile {
  source: string;
  items: RewardBenchItem[];
  fingerprint: string;
  invalid: number;
}

async function rawRecords(path: string): Promise<unknown[]> {
  if (extname(path).toLowerCase() === '.parquet') {
    try {
      return await parquetReadObjects({ file: await asyncBufferFromFile(path), columns: undefined });
    } catch (error) {
      throw new AppError('invalid-input', `Cannot read ${path} as Parquet (${(error as Error).message}): give RewardBench's published .parquet, JSON or JSON Lines.`);
    }
  }
  const text = await readText(path, 'RewardBench file');
  const trimmed = text.trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{"rows"')) {
    try {
      const document = JSON.parse(trimmed) as unknown;
      if (Array.isArray(document)) return document;
      const rows = (document as { rows?: unknown }).rows;
      if (Array.isArray(rows)) return rows;
    } catch {
      // Not one JSON document: JSON Lines below.
    }
  }
  return trimmed.split('\n').flatMap((line, index) => {
    if (line.trim() === '') return [];
    try {
      return [JSON.parse(line) as unknown];
    } catch (error) {
      throw new AppError('invalid-input', `${path}, line ${index + 1}: not valid JSON (${(error as Error).message}).`);
    }
  });
}

/** Parquet integers arrive as bigint; ids are kept as text. */
function normalised(record: unknown): unknown {
  if (record === null || typeof record !== 'object') return record;
  const entries = Object.entries(record as Record<string, unknown>).map(([key, value]) => [key, typeof value === 'bigint' ? Number(value) : value]);
  return Object.fromEntries(entries);
}

export async function readRewardBench(path: string, reporter: Reporter, subsets?: readonly string[]): Promise<RewardBenchFile> {
  const records = await rawRecords(path);
  const items: RewardBenchItem[] = [];
  let invalid = 0;
  records.forEach((record, index) => {
    const parsed = RewardBenchRecord.safeParse(normalised(record));
    if (!parsed.success) {
      invalid++;
      const issue = parsed.error.issues[0];
      reporter.warn(`${path}: record ${index + 1}, field "${issue?.path.join('.') ?? ''}": ${issue?.message ?? 'invalid'} (RewardBench records need prompt, chosen, rejected and subset).`);
      return;
    }
    const { id, prompt, chosen, rejected, subset } = parsed.data;
    if (subsets && !subsets.includes(subset)) return;
    items.push({ id: String(id ?? index), prompt, chosen, rejected, subset });
  });
  if (items.length === 0) {
    throw new AppError('invalid-input', `${path} has no valid RewardBench record${subsets ? ` in the subsets ${subsets.join(', ')}` : ''}: each needs prompt, chosen, rejected and subset.`);
  }
  const ids = new Set<string>();
  for (const item of items) {
    if (ids.has(item.id)) throw new AppError('invalid-input', `${path}: id "${item.id}" occurs twice: ids must be unique.`);
    ids.add(item.id);
  }
  return { source: path, items, invalid, fingerprint: fingerprint(items.flatMap((item) => [item.id, item.subset, item.prompt, item.chosen, item.rejected])) };
}
