/**
 * `eval safety` (§4.3, Figure 7) end to end on the tiny model: a RewardBench-style file written as
 * JSON and as Parquet (by hyparquet-writer, snappy-compressed like the published files), scored
 * with and without persona prefixes by summed log-probs; JSON and Parquet give the same rows; every
 * accuracy and change from no prefix in summary.json is recomputed from safety.jsonl. Fold routing:
 * each persona's prefix scored by the fold model that held it out, no prefix by every fold's.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PREFIX_FILE_FORMAT, type PrefixFile } from '../../src/core/eval/prefixFile.ts';
import { EvalPairRow, type ScoredPairRow } from '../../src/core/eval/rows.ts';
import { bootstrapMeanInterval, wilsonInterval } from '../../src/core/stats.ts';
import { makeEvalFixture } from '../../scripts/fixtures/makeEvalFixture.ts';
import { writeFoldFixture, type FoldFixture } from '../../scripts/fixtures/makeFoldFixture.ts';
import { makeRewardBenchRecords } from '../../scripts/fixtures/makeRewardBenchFixture.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';
import { runCli, type CliRun } from '../support/runCli.ts';

let dir: string;
let model: string;
let jsonRun: CliRun;
let parquetRun: CliRun;
let folds: FoldFixture;
const records = makeRewardBenchRecords({ perSubset: 3 });

async function rowsOf(out: string): Promise<ScoredPairRow[]> {
  const text = await readFile(join(out, 'safety.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => EvalPairRow.parse(JSON.parse(line)))
    .filter((row): row is ScoredPairRow => row.ok);
}

const Interval = z.object({ estimate: z.number(), lower: z.number(), upper: z.number() });
const Summary = z.object({
  safety: z.object({
    subsets: z.array(z.string()),
    entries: z.array(z.object({ prefix: z.string(), persona: z.string().optional(), fold: z.string().optional(), subsets: z.array(z.object({ subset: z.string(), n: z.number(), correct: z.number(), accuracy: Interval, change: Interval.optional() })) })),
  }),
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eval-safety-'));
  model = await ensureTinyModel();
  await writeFile(join(dir, 'rb.json'), JSON.stringify(records));
  const columns = Object.keys(records[0] as object) as (keyof (typeof records)[number])[];
  const buffer = parquetWriteBuffer({
    // The published files store `id` as INT64 (read back as bigint).
    columnData: columns.map((name) => (name === 'id' ? { name, data: records.map((record) => BigInt(record.id)), type: 'INT64' as const } : { name, data: records.map((record) => record[name]), type: 'STRING' as const })),
  });
  await writeFile(join(dir, 'rb.parquet'), new Uint8Array(buffer));
  const fixture = makeEvalFixture({ seed: 7, personaCount: 6 });
  const prefixFile: PrefixFile = {
    format: PREFIX_FILE_FORMAT,
    version: 1,
    personas: (fixture.personas ?? []).map((persona) => ({ ...persona, name: persona.name as string })),
    provenance: { seed: 24, dataset: { source: 'fixture', fingerprint: '0' }, generated: {} },
  };
  await writeFile(join(dir, 'prefixes.json'), JSON.stringify(prefixFile));
  const common = ['--prefixes', 'persona-gpt4', '--prefix-file', join(dir, 'prefixes.json'), '--personas', 'Mara Quill,Ines Calder', '--quiet'];
  jsonRun = await runCli(['eval', 'safety', '--dataset', join(dir, 'rb.json'), '--engine', `local:${model}`, ...common, '--out', join(dir, 'json')]);
  parquetRun = await runCli(['eval', 'safety', '--dataset', join(dir, 'rb.parquet'), '--engine', `local:${model}`, ...common, '--out', join(dir, 'parquet')]);
  folds = await writeFoldFixture(join(dir, 'data'), { testPerType: 1 });
}, 600_000);

describe('eval safety', () => {
  it('reads JSON and Parquet alike and scores every subset with and without each prefix, summing log-probs', async () => {
    expect(jsonRun.stderr).toBe('');
    expect(jsonRun.code).toBe(0);
    expect(parquetRun.stderr).toBe('');
    expect(parquetRun.code).toBe(0);
    const fromJson = await rowsOf(join(dir, 'json'));
    const fromParquet = new Map((await rowsOf(join(dir, 'parquet'))).map((row) => [row.key, row]));
    // 9 pairs without a prefix, and with each of the two personas' prefixes.
    expect(fromJson).toHaveLength(9 * 3);
    for (const row of fromJson) {
      expect(row.norm).toBe('sum');
      expect(row.subset).toBe(records.find((record) => String(record.id) === row.id)?.subset);
      const other = fromParquet.get(row.key);
      expect(other?.scores).toEqual(row.scores);
    }
    expect(jsonRun.stdout).toMatch(/^prefix\s+refusals-dangerous\s+refusals-offensive\s+xstest-should-respond\s+safety$/m);
  });

  it('summary.json: accuracy per subset (Wilson CI) and the change from no prefix, recomputed from the rows', async () => {
    const rows = await rowsOf(join(dir, 'json'));
    const summary = Summary.parse(JSON.parse(await readFile(join(dir, 'json', 'summary.json'), 'utf8'))).safety;
    expect(summary.subsets).toEqual(['refusals-dangerous', 'refusals-offensive', 'xstest-should-respond', 'safety']);
    const none = new Map(rows.filter((row) => row.prefix === 'none').map((row) => [row.id, row.correct]));
    for (const entry of summary.entries) {
      const ofEntry = rows.filter((row) => row.prefix === entry.prefix && (entry.persona === undefined || row.persona === entry.persona));
      for (const cell of entry.subsets) {
        const ofSubset = ofEntry.filter((row) => (cell.subset === 'safety' ? row.subset?.startsWith('refusals') : row.subset === cell.subset));
        const correct = ofSubset.filter((row) => row.correct).length;
        expect([cell.n, cell.correct]).toEqual([ofSubset.length, correct]);
        expect(cell.accuracy).toEqual(wilsonInterval(correct, ofSubset.length));
        if (entry.prefix === 'none') expect(cell.change).toBeUndefined();
        else expect(cell.change).toEqual(bootstrapMeanInterval(ofSubset.map((row) => Number(row.correct) - Number(none.get(row.id))), { seed: 24, resamples: 1000 }));
      }
    }
    const markdown = await readFile(join(dir, 'json', 'report.md'), 'utf8');
    expect(markdown).toContain('\n## Alignment tax: RewardBench with and without persona prefixes (Figure 7)\n');
  });

  it('with one engine per fold: a persona\u2019s prefix by the model that held it out, no prefix by every fold\u2019s', async () => {
    const out = join(dir, 'folds');
    const engines = Object.entries(folds.models).map(([fold, path]) => `${fold}=local:${path}`).join(',');
    const run = await runCli(['eval', 'safety', '--dataset', join(dir, 'rb.parquet'), '--engine', engines, '--folds', folds.dataset, '--prefixes', 'persona-gpt4', '--prefix-file', join(dir, 'prefixes.json'), '--out', out, '--quiet']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const rows = await rowsOf(out);
    const heldOutBy = new Map(Object.entries(folds.heldOut).flatMap(([fold, names]) => names.map((name) => [name, fold] as const)));
    expect(rows).toHaveLength(9 * (3 + 6));
    for (const row of rows) {
      if (row.prefix === 'none') expect(Object.keys(folds.models)).toContain(row.fold);
      else expect(row.fold).toBe(heldOutBy.get(row.persona));
    }
    const summary = Summary.parse(JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'))).safety;
    // No prefix pooled over the three folds comes first, then each fold's.
    expect(summary.entries.slice(0, 4).map((entry) => [entry.prefix, entry.fold])).toEqual([['none', undefined], ['none', 'cv0'], ['none', 'cv1'], ['none', 'cv2']]);
    const pooled = summary.entries[0]?.subsets.find((cell) => cell.subset === 'safety');
    const refusals = rows.filter((row) => row.prefix === 'none' && row.subset?.startsWith('refusals'));
    expect(pooled?.correct).toBe(refusals.filter((row) => row.correct).length);
    expect(pooled?.n).toBe(refusals.length);
  });
});
