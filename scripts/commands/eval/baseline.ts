/**
 * `--baseline-run <dir>`: an earlier eval folder of the baseline model (Zephyr) on the same
 * dataset. Its prefixes.json supplies the prefix texts (the authors always used Zephyr's inferred
 * personas, also for fine-tuned models), and its no-prefix rows are copied into this folder
 * (baseline-pairs.jsonl) for Figure 6 and the baseline line of Figure 5, so this folder's report
 * can always be rebuilt on its own.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { AppError } from '../../../src/core/errors.ts';
import { EvalPairRow, latestByKey } from '../../../src/core/eval/rows.ts';
import { readJsonFile, writeFileAtomic } from '../../lib/durableFiles.ts';
import { readJsonl, RunManifest, runPaths } from '../../lib/eval/runFiles.ts';

export interface BaselineRun {
  dir: string;
  prefixesPath?: string;
  record: NonNullable<RunManifest['baseline']>;
  noPrefixRows: EvalPairRow[];
}

/** Reads and checks a baseline run: a single-engine run on the same dataset (fingerprint). */
export async function readBaselineRun(dirGiven: string, datasetFingerprint: string): Promise<BaselineRun> {
  const dir = resolve(dirGiven);
  const paths = runPaths(dir);
  const manifest = readJsonFile(paths.manifest, RunManifest);
  if (!manifest?.engine) throw new AppError('invalid-input', `${dir} holds no single-engine eval run (run.json): give --baseline-run the folder of the baseline model's eval.`);
  if (manifest.dataset.fingerprint !== datasetFingerprint) {
    throw new AppError('invalid-input', `The baseline run in ${dir} scored another dataset (fingerprint ${manifest.dataset.fingerprint}, now ${datasetFingerprint}): run the baseline on the same --dataset.`);
  }
  const { rows } = await readJsonl(paths.pairs, EvalPairRow);
  return {
    dir,
    ...(existsSync(paths.prefixes) ? { prefixesPath: paths.prefixes } : {}),
    record: { run: dir, engine: manifest.engine.spec, fingerprint: manifest.dataset.fingerprint },
    noPrefixRows: latestByKey(rows).filter((row) => row.prefix === 'none'),
  };
}

/** Copies the baseline's no-prefix rows into `out` (atomically; rewritten on every start). */
export function keepBaselineRows(out: string, baseline: BaselineRun): void {
  writeFileAtomic(runPaths(out).baselinePairs, baseline.noPrefixRows.map((row) => `${JSON.stringify(row)}\n`).join(''));
}
