/**
 * The label format (src/core/eval/labels.ts), the Table 6 summary recomputed from its definition,
 * and `eval agreement` end to end (CLI) on generated labels with missing ones, in CSV and JSONL.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agreementRate, cohenKappa, krippendorffAlpha, type Code } from '../../src/core/agreement.ts';
import { positionCode, summarizeAgreement } from '../../src/core/eval/agreementSummary.ts';
import { exportLabels, importLabels, type PreferenceLabel } from '../../src/core/eval/labels.ts';
import { makeEvalFixture } from '../../scripts/fixtures/makeEvalFixture.ts';
import { labelsCsv, labelsJsonl, makeLabels } from '../../scripts/fixtures/makeLabelsFixture.ts';
import { runCli } from '../support/runCli.ts';

const fixture = makeEvalFixture({ seed: 7, trainPerType: 2, testPerType: 3 });
const pairs = fixture.pairs.filter((pair) => pair.split === 'test').map((pair) => ({ id: pair.id, persona: pair.persona as string }));
const labels = makeLabels(pairs.map((pair) => pair.id));

describe('label files', () => {
  it('reads CSV (authors\u2019 spellings, empty = not labelled) and JSON Lines alike, and exports what it reads', () => {
    const fromCsv = importLabels(labelsCsv(labels));
    const fromJsonl = importLabels(labelsJsonl(labels));
    expect(fromCsv).toEqual({ labels, issues: [] });
    expect(fromJsonl).toEqual({ labels, issues: [] });
    expect(importLabels(exportLabels(labels)).labels).toEqual(labels);
    expect(labels.some((label) => label.preferred === null)).toBe(true);
  });

  it('lists bad rows by line and keeps the good ones', () => {
    const read = importLabels('pair_id,annotator,preferred\np1,ann,chosen\np2,ann,maybe\n,ann,rejected\np1,ann,rejected\n');
    expect(read.labels).toEqual([{ pairId: 'p1', annotator: 'ann', preferred: 'chosen' }]);
    expect(read.issues).toEqual([
      { line: 3, field: 'preferred', message: 'expected "chosen" or "rejected" (or empty when not labelled), got "maybe"' },
      { line: 4, field: 'pair_id', message: 'expected a non-empty pair id' },
      { line: 5, message: 'a second label of "ann" for pair "p1" (first on line 2); the first is kept' },
    ]);
  });
});

/** Equal to 12 places, or both NaN (κ is undefined when a coder used one category on these pairs). */
function expectClose(actual: number | undefined, expected: number): void {
  if (Number.isNaN(expected)) expect(actual).toBeNaN();
  else expect(actual).toBeCloseTo(expected, 12);
}

describe('summarizeAgreement', () => {
  it('gives per-persona and overall rate, κ and α as their definitions on position codes', () => {
    const summary = summarizeAgreement(pairs, labels, { seed: 2, resamples: 200 });
    for (const group of [summary.overall, ...summary.personas]) {
      const ids = pairs.filter((pair) => group.persona === undefined || pair.persona === group.persona).map((pair) => pair.id).filter((id) => labels.some((label) => label.pairId === id && label.preferred !== null));
      expect(group.pairs).toBe(ids.length);
      const codes = (annotator: string): Code[] =>
        ids.map((id) => {
          const preferred = labels.find((label) => label.pairId === id && label.annotator === annotator)?.preferred;
          return preferred ? positionCode(id, preferred) : null;
        });
      const judge = ids.map((id) => positionCode(id, 'chosen'));
      for (const annotator of group.annotators) {
        const own = labels.filter((label) => ids.includes(label.pairId) && label.annotator === annotator.annotator && label.preferred !== null);
        // The match rate needs no coding: the share of labels that name the judge's (chosen) answer.
        expect(annotator.rate.estimate).toBeCloseTo(own.filter((label) => label.preferred === 'chosen').length / own.length, 12);
        expectClose(annotator.rate.estimate, agreementRate(codes(annotator.annotator), judge));
        expectClose(annotator.kappa.estimate, cohenKappa(codes(annotator.annotator), judge));
      }
      for (const pair of group.pairwise) expectClose(pair.kappa.estimate, cohenKappa(codes(pair.a), codes(pair.b)));
      const annotators = group.annotators.map((annotator) => annotator.annotator);
      expectClose(group.alpha.alpha.estimate, krippendorffAlpha([...annotators.map(codes), judge]));
      expectClose(group.alphaAnnotators?.alpha.estimate, krippendorffAlpha(annotators.map(codes)));
    }
    // The judge's codes use both positions, so κ with the judge is defined.
    expect(new Set(pairs.map((pair) => positionCode(pair.id, 'chosen'))).size).toBe(2);
  });

  it('leaves out labels of pairs the dataset lacks and counts the unlabelled', () => {
    const extra: PreferenceLabel[] = [...labels, { pairId: 'nowhere', annotator: 'ann-1', preferred: 'chosen' }];
    const summary = summarizeAgreement(pairs, extra, { seed: 2, resamples: 50 });
    expect(summary.unknownPairs).toEqual(['nowhere']);
    expect(summary.unlabelled).toBe(labels.filter((label) => label.preferred === null).length);
  });
});

describe('eval agreement', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eval-agreement-'));
    await writeFile(join(dir, 'data.json'), JSON.stringify(fixture));
    await writeFile(join(dir, 'labels.csv'), labelsCsv(labels));
    const unreadable = '{"pairId": "nowhere", "annotator": "ann-1", "preferred": "maybe"}\n';
    await writeFile(join(dir, 'labels.jsonl'), `${labelsJsonl([...labels, { pairId: 'nowhere', annotator: 'ann-1', preferred: 'chosen' }])}${unreadable}`);
  });

  it('writes Table 6 into summary.json and the report, equal to the core summary of the same labels', async () => {
    const run = await runCli(['eval', 'agreement', '--dataset', join(dir, 'data.json'), '--labels', join(dir, 'labels.csv'), '--out', join(dir, 'out'), '--quiet']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^persona\s+pairs\s+match rate with judge\s+CK-HH\s+CK-HG\s+KA$/m);
    const summary = z.object({ agreement: z.unknown() }).parse(JSON.parse(await readFile(join(dir, 'out', 'summary.json'), 'utf8'))).agreement;
    const expected = JSON.parse(JSON.stringify({ source: join(dir, 'labels.csv'), ...summarizeAgreement(pairs, labels, { seed: 24, resamples: 1000 }) }, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value)));
    expect(summary).toEqual(expected);
    const markdown = await readFile(join(dir, 'out', 'report.md'), 'utf8');
    expect(markdown).toContain('\n## People vs the judge: agreement (App. D, Table 6)\n');
  });

  it('exits 2 and says so when labels name pairs the dataset lacks, and ends by counting the rows it skipped', async () => {
    const run = await runCli(['eval', 'agreement', '--dataset', join(dir, 'data.json'), '--labels', join(dir, 'labels.jsonl'), '--out', join(dir, 'out2'), '--quiet']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^warning: 1 labelled pair id is not in .* and was left out \(first: nowhere\)\.$/m);
    expect(run.stderr.trimEnd().split('\n').at(-1)).toBe('warning: 1 row skipped (see warnings above)');
  });
});
