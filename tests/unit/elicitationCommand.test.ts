/**
 * `eval elicitation` end to end on the tiny model (CLI in a child process), kept small (one
 * persona, 4 questions, budget 2, 2 repeats): the rows, the summary recomputed from them, active's
 * first pick checked against the real margins it recorded, the report, a run cut short and resumed
 * to the same rows (the replay is deterministic for a seed), and a resume with another seed refused.
 */
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ElicitationRow } from '../../src/core/elicitation/replay.ts';
import { bootstrapMeanInterval } from '../../src/core/stats.ts';
import { makeEvalFixture } from '../../scripts/fixtures/makeEvalFixture.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';
import { runCli, type CliRun } from '../support/runCli.ts';

const Interval = z.object({ estimate: z.number(), lower: z.number(), upper: z.number() });
const Summary = z.object({
  elicitation: z.object({
    budget: z.number(),
    repeats: z.number(),
    personas: z.array(z.string()),
    counts: z.object({ steps: z.number(), failedSteps: z.number() }),
    curves: z.array(z.object({ strategy: z.string(), points: z.array(z.object({ shots: z.number(), repeats: z.number(), meanOfRepeats: Interval })) })),
    activeMinusRandom: z.array(Interval.extend({ shots: z.number() })),
  }),
});

let model: string;
let dataset: string;
let out: string;
let first: CliRun;

const args = (folder: string, extra: readonly string[] = []) => [
  'eval',
  'elicitation',
  '--dataset',
  dataset,
  '--engine',
  `local:${model}`,
  '--budget',
  '2',
  '--repeats',
  '2',
  '--strategies',
  'active,random',
  '--persona-max-tokens',
  '8',
  '--bootstrap',
  '200',
  '--seed',
  '5',
  '--quiet',
  '--out',
  folder,
  ...extra,
];

async function readRows(folder: string): Promise<ElicitationRow[]> {
  const text = await readFile(join(folder, 'elicitation.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => ElicitationRow.parse(JSON.parse(line)));
}

const withoutSession = (rows: readonly ElicitationRow[]) => rows.map(({ session: _session, ...row }) => row);

beforeAll(async () => {
  model = await ensureTinyModel();
  const dir = await mkdtemp(join(tmpdir(), 'elicitation-cli-'));
  dataset = join(dir, 'pairs.json');
  await writeFile(dataset, JSON.stringify(makeEvalFixture({ seed: 7, trainPerType: 2, testPerType: 1, personaCount: 1, personaTexts: false })));
  out = join(dir, 'run');
  first = await runCli(args(out));
});

describe('eval elicitation on the tiny model', () => {
  it('writes one row per step and a summary that agrees with them', async () => {
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/answered\s+active \(95% CI\)\s+random \(95% CI\)\s+active − random/);
    const rows = await readRows(out);
    // 1 persona × 2 strategies × 2 repeats × steps 0..2.
    expect(rows).toHaveLength(12);
    expect(new Set(rows.map((row) => row.key)).size).toBe(12);
    for (const row of rows) {
      expect(row.shotIds).toHaveLength(row.step);
      expect(row.test.scored + row.test.failed).toBe(2);
      if (row.step > 0) expect(new Set(row.inference?.shotIds)).toEqual(new Set(row.shotIds));
    }
    const summary = Summary.parse(JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'))).elicitation;
    expect(summary.counts).toEqual({ steps: 12, failedSteps: 0 });
    for (const curve of summary.curves) {
      expect(curve.points.map((point) => point.shots)).toEqual([0, 1, 2]);
      for (const point of curve.points) {
        const perRepeat = [0, 1].map((repeat) => {
          const row = rows.find((candidate) => candidate.strategy === curve.strategy && candidate.repeat === repeat && candidate.step === point.shots) as ElicitationRow;
          return row.test.correct / row.test.scored;
        });
        expect(point.meanOfRepeats).toEqual(bootstrapMeanInterval(perRepeat, { seed: 5, resamples: 200 }));
      }
    }
    expect(summary.activeMinusRandom.find((entry) => entry.shots === 0)?.estimate).toBe(0);
  });

  it('active asks the question with the smallest |margin| the real model gave under the current prefix', async () => {
    const rows = (await readRows(out)).filter((row) => row.strategy === 'active');
    for (const row of rows.filter((candidate) => candidate.step > 0)) {
      const before = rows.find((candidate) => candidate.repeat === row.repeat && candidate.step === row.step - 1) as ElicitationRow;
      const margins = Object.entries(before.poolMargins ?? {}).flatMap(([id, margin]) => (margin === null ? [] : [[id, Math.abs(margin)] as const]));
      expect(margins.length).toBe(4 - (row.step - 1));
      const smallest = margins.reduce((best, next) => (next[1] < best[1] ? next : best));
      expect(row.asked?.pairId).toBe(smallest[0]);
      expect(row.asked?.reason).toMatch(/^The model can't tell which answer you'd prefer: margin -?\d/);
    }
  });

  it('writes the report with the elicitation section and its chart', async () => {
    const markdown = await readFile(join(out, 'report.md'), 'utf8');
    expect(markdown).toContain('## Active elicitation: accuracy against answered questions');
    expect(markdown).toMatch(/\| answered \| active \(95% CI\) \| random \(95% CI\) \| active − random \(95% CI\)/);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toContain('id="elicitation"');
    expect(html).toMatch(/<svg[^>]*aria-label="Accuracy after each answered question"/);
  });

  it('resumes a run cut short to the same rows (deterministic for the seed), and refuses another seed', async () => {
    const rows = await readRows(out);
    const cut = join(out, '..', 'cut');
    const firstLines = (await readFile(join(out, 'elicitation.jsonl'), 'utf8')).split('\n').slice(0, 5).join('\n');
    // A run stopped after five steps (mid-chain): its settings and first five rows.
    await mkdir(cut);
    await copyFile(join(out, 'elicitation.json'), join(cut, 'elicitation.json'));
    await writeFile(join(cut, 'elicitation.jsonl'), `${firstLines}\n`);
    const resumed = await runCli(args(cut));
    expect(resumed.code).toBe(0);
    const after = await readRows(cut);
    const byKey = (list: readonly ElicitationRow[]) => [...list].sort((a, b) => (a.key < b.key ? -1 : 1));
    expect(withoutSession(byKey(after))).toEqual(withoutSession(byKey(rows)));
    expect(new Set(after.slice(5).map((row) => row.session)).size).toBe(1);
    expect(after[5]?.session).not.toBe(after[0]?.session);

    const refused = await runCli(args(cut, ['--seed', '6']));
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/another --seed \(5, now 6\)/);
  });
});
