/**
 * Fold-routed `eval` end to end (CLI in a child process) on generated data: three folds, each with
 * its own tiny model (different seeds), the folds read from the cv folders the build's writer lays
 * out, a baseline run on the seed-0 model supplying the prefix texts and the no-prefix rows.
 * Every number of Figure 5, App. L and Figure 6 in summary.json is recomputed here from the rows.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { settingOf } from '../../src/core/eval/folds.ts';
import { EvalPairRow, type ScoredPairRow } from '../../src/core/eval/rows.ts';
import { pearson } from '../../src/core/stats.ts';
import { writeFoldFixture, type FoldFixture } from '../../scripts/fixtures/makeFoldFixture.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';
import { runCli, type CliRun } from '../support/runCli.ts';

let fixture: FoldFixture;
let zephyr: string;
let mt: string;
let baselineRun: CliRun;
let foldRun: CliRun;

async function rowsOf(out: string, file = 'pairs.jsonl'): Promise<ScoredPairRow[]> {
  const text = await readFile(join(out, file), 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => EvalPairRow.parse(JSON.parse(line)))
    .filter((row): row is ScoredPairRow => row.ok);
}

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** Per persona total accuracy of `rows`, in order of each persona's first row. */
function perPersona(rows: readonly ScoredPairRow[]): Map<string, number> {
  const tally = new Map<string, { n: number; correct: number }>();
  for (const row of rows) {
    const entry = tally.get(row.persona) ?? { n: 0, correct: 0 };
    tally.set(row.persona, { n: entry.n + 1, correct: entry.correct + (row.correct ? 1 : 0) });
  }
  return new Map([...tally].map(([persona, { n, correct }]) => [persona, correct / n]));
}

const Cell = z.object({ meanOfPersonas: z.object({ estimate: z.number() }), personas: z.number() });
const Setting = z.object({ setting: z.string(), number: z.number(), prefix: z.string(), scored: z.number(), total: Cell });
const Summary = z.object({
  pairs: z.object({
    folds: z.object({ appendixL: z.array(z.object({ base: z.string(), settings: z.array(Setting) })), figure5: z.array(z.object({ prefix: z.string(), seen: Setting.optional(), unseen: Setting.optional() })) }),
    figure6: z.array(z.object({ prefix: z.string(), points: z.array(z.object({ persona: z.string(), baseline: z.number(), prefixed: z.number() })), correlation: z.object({ r: z.number().nullable(), p: z.number().nullable() }) })),
    baselineRun: z.object({ engine: z.string(), noPrefix: z.object({ total: z.number() }) }),
  }),
});

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'eval-folds-'));
  fixture = await writeFoldFixture(join(dir, 'data'), { testPerType: 1 });
  const model = await ensureTinyModel();
  zephyr = join(dir, 'zephyr');
  mt = join(dir, 'mt');
  baselineRun = await runCli(['eval', '--dataset', fixture.dataset, '--engine', `local:${model}`, '--prefixes', 'none,persona,gold,reseed-persona,reseed-gold', '--persona-max-tokens', '6', '--out', zephyr, '--quiet']);
  const engines = Object.entries(fixture.models).map(([fold, path]) => `${fold}=local:${path}`);
  foldRun = await runCli(['eval', '--dataset', fixture.dataset, '--engine', engines.slice(0, 2).join(','), '--engine', engines[2] as string, '--prefixes', 'none,persona,gold,reseed-*,shuffle-*,shuffle-reseed-*', '--baseline-run', zephyr, '--out', mt, '--quiet']);
}, 600_000);

describe('eval with one engine per fold', () => {
  it('scores each persona with the model that held it out and with one that trained on it; other-seed prefixes only with the latter', async () => {
    expect(baselineRun.stderr).toBe('');
    expect(baselineRun.code).toBe(0);
    expect(foldRun.stderr).toBe('');
    expect(foldRun.code).toBe(0);
    const rows = await rowsOf(mt);
    const heldOutBy = new Map(Object.entries(fixture.heldOut).flatMap(([fold, names]) => names.map((name) => [name, fold] as const)));
    for (const row of rows) {
      expect(row.fold).toBeDefined();
      expect(row.personaSeen).toBe(row.fold !== heldOutBy.get(row.persona));
      expect(row.prefixFromSeen).toBe(row.fold !== heldOutBy.get(row.prefixFrom));
      if (row.prefix.includes('reseed')) expect(row.personaSeen).toBe(true);
    }
    // 6 personas × 2 test pairs; none/persona/gold and their shuffles twice (seen and unseen), the 4 other-seed prefixes once.
    expect(rows).toHaveLength(12 * (5 * 2 + 4));
    // The folds' models differ: the same pair without a prefix scores differently under two folds.
    const noPrefix = rows.filter((row) => row.prefix === 'none');
    const byPair = new Map<string, number[]>();
    for (const row of noPrefix) byPair.set(row.id, [...(byPair.get(row.id) ?? []), row.scores.chosen as number]);
    for (const scores of byPair.values()) expect(scores[0]).not.toBeCloseTo(scores[1] as number, 6);
  });

  it('summary.json: App. L, Figure 5 and Figure 6 recomputed from the rows', async () => {
    const rows = await rowsOf(mt);
    const summary = Summary.parse(JSON.parse(await readFile(join(mt, 'summary.json'), 'utf8'))).pairs;
    let settings = 0;
    for (const entry of summary.folds.appendixL) {
      for (const setting of entry.settings) {
        const ofSetting = rows.filter((row) => row.prefix === setting.prefix && settingOf(row.prefix, row.personaSeen as boolean) === setting.setting);
        expect(setting.scored).toBe(ofSetting.length);
        expect(setting.total.meanOfPersonas.estimate).toBeCloseTo(mean([...perPersona(ofSetting).values()]), 12);
        settings++;
      }
    }
    // no prefix: 7, 8; persona and gold: 1–6 each.
    expect(settings).toBe(2 + 6 * 2);
    expect(summary.folds.figure5.map((entry) => [entry.prefix, entry.seen?.number, entry.unseen?.number])).toEqual([
      ['none', 7, 8],
      ['persona', 1, 3],
      ['gold', 1, 3],
    ]);
    const baseline = perPersona((await rowsOf(zephyr)).filter((row) => row.prefix === 'none'));
    expect(summary.baselineRun.noPrefix.total).toBeCloseTo(mean([...baseline.values()]), 12);
    for (const entry of summary.figure6) {
      const model = perPersona(rows.filter((row) => row.prefix === entry.prefix && row.personaSeen === false));
      expect(entry.points.map((point) => [point.persona, point.baseline, point.prefixed])).toEqual([...model].map(([persona, value]) => [persona, baseline.get(persona), value]));
      const r = pearson(entry.points.map((point) => point.baseline), entry.points.map((point) => point.prefixed)).r;
      if (Number.isFinite(r)) expect(entry.correlation.r).toBeCloseTo(r, 12);
    }
    expect(summary.figure6.map((entry) => entry.prefix)).toEqual(['none', 'persona', 'gold', 'shuffle-persona', 'shuffle-gold']);
  });

  it('reports the sections and who wrote each prefix: the baseline model wrote the other-seed persona', async () => {
    const markdown = await readFile(join(mt, 'report.md'), 'utf8');
    for (const heading of ['## Seen vs unseen persona (Figure 5)', '## Prefix sensitivity: App. L\u2019s eight settings', '## Equity against the baseline model (Figure 6)', '## Prefix provenance: who wrote each prefix']) {
      expect(markdown).toContain(`\n${heading}\n`);
    }
    const model = await ensureTinyModel();
    expect(markdown).toContain(`| persona (other seed) | transformers:${model} | 6 |`);
    expect(markdown).toMatch(/\| persona gold \(other seed\) \| given without provenance \| 6 \|/);
  });

  it('refuses, before loading a model, a fold the dataset does not have and persona texts nobody may write', async () => {
    const unknown = await runCli(['eval', '--dataset', fixture.dataset, '--engine', `cv9=local:${fixture.models.cv0}`, '--prefixes', 'none', '--out', join(mt, '..', 'cv9')]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error: No fold named "cv9" in .*: its folds are cv0, cv1, cv2, cvdiet, cvpolitics, cvsports\.$/m);
    const noTexts = await runCli(['eval', '--dataset', fixture.dataset, '--engine', `cv0=local:${fixture.models.cv0}`, '--prefixes', 'none,reseed-persona', '--out', join(mt, '..', 'notexts')]);
    expect(noTexts.code).toBe(2);
    expect(noTexts.stderr).toMatch(/^error: Prefix "reseed-persona" needs a text for 6 persona\(s\) \(first: Mara Quill\), and the texts come from the baseline model \(pass --baseline-run <dir>\)/m);
  });
});
