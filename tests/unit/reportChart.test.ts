/**
 * The eval report's accuracy chart as people read it: reference-line labels never print over each
 * other, a reference line at the same height as another stays visible (their dashes interleave),
 * and with one persona the report says the bootstrap CI needs two instead of showing a zero-width
 * interval (tables) or a whisker of no length (chart).
 */
import { describe, expect, it } from 'vitest';
import type { EvalReport } from '../../src/core/eval/report.ts';
import type { EvalPairRow } from '../../src/core/eval/rows.ts';
import { summarizePairs } from '../../src/core/eval/summary.ts';
import { renderHtml } from '../../scripts/lib/eval/reportHtml.ts';
import { renderMarkdown } from '../../scripts/lib/eval/reportMarkdown.ts';
import { barChart, spreadLabels } from '../../scripts/lib/eval/svg.ts';

const LINE_LABEL = /<text x="[\d.]+" y="([\d.]+)" font-size="10" fill="[^"]+"[^>]*>([^<]+)<\/text>/g;
const REFERENCE_LINE = /<line [^>]*stroke="(#[0-9a-f]+)" stroke-width="1\.5" (stroke-dasharray="[^"]+"(?: stroke-dashoffset="[^"]+")?)\/>/g;

function labelsOf(svg: string): Map<string, number> {
  return new Map([...svg.matchAll(LINE_LABEL)].map((match) => [match[2] ?? '', Number(match[1])]));
}

describe('reference-line labels', () => {
  it('spreadLabels keeps the order, moves labels apart by the gap, and stays inside the range', () => {
    expect(spreadLabels([100, 100, 100], 12, 0, 500)).toEqual([100, 112, 124]);
    expect(spreadLabels([105, 100], 12, 0, 500)).toEqual([112, 100]);
    expect(spreadLabels([300, 10], 12, 0, 500)).toEqual([300, 10]);
    // Pushed past the bottom: the run moves back up.
    expect(spreadLabels([498, 499], 12, 0, 500)).toEqual([488, 500]);
  });

  it('"no prefix, personal" and "random (0.5)" are drawn apart, and the random line shares its height with the divergent one visibly', () => {
    const svg = barChart({
      title: 'Accuracy by prefix',
      groups: [{ label: 'tag', bars: [{ series: 'personal', value: 0.6 }] }],
      series: [{ name: 'personal', color: '#2563eb' }],
      lines: [
        { value: 0.5, label: 'random (0.5)', color: '#dc2626' },
        // One "row" of 11 px above random: where the old fixed offset printed it over random's label.
        { value: 0.55, label: 'no prefix, personal', color: '#2563eb' },
        { value: 0.5, label: 'no prefix, divergent', color: '#f59e0b' },
      ],
      yLabel: 'accuracy',
    });
    const labels = [...labelsOf(svg).values()].sort((a, b) => a - b);
    expect(labels).toHaveLength(3);
    for (let i = 1; i < labels.length; i++) expect((labels[i] ?? 0) - (labels[i - 1] ?? 0)).toBeGreaterThanOrEqual(12);

    const lines = new Map([...svg.matchAll(REFERENCE_LINE)].map((match) => [match[1], match[2]]));
    expect(lines.get('#dc2626')).toBe('stroke-dasharray="5 5" stroke-dashoffset="0"');
    expect(lines.get('#f59e0b')).toBe('stroke-dasharray="5 5" stroke-dashoffset="5"');
    expect(lines.get('#2563eb')).toBe('stroke-dasharray="6 4"');
  });
});

describe('one persona', () => {
  const row = (persona: string, prefix: 'none' | 'tag', correct: boolean, n: number): EvalPairRow => ({
    ok: true,
    key: `${prefix}|${persona}${n}`,
    id: `${persona}${n}`,
    persona,
    type: 'personal',
    prefix,
    prefixFrom: persona,
    session: 's',
    scores: { chosen: 0, rejected: 0 },
    margin: 0,
    correct,
    tie: false,
    tokens: { prompt: 1, chosen: 1, rejected: 1 },
    truncated: { prompt: false, answers: false },
    convention: 'authors',
    norm: 'mean',
    method: 'm',
  });
  const report = (personas: string[]): EvalReport => ({
    title: 'One persona',
    run: { promptsVersion: 'v1' },
    pairs: summarizePairs(
      personas.flatMap((persona) => ['none', 'tag'].flatMap((prefix) => [1, 2, 3].map((n) => row(persona, prefix as 'none' | 'tag', n !== 3, n)))),
      { seed: 1 },
    ),
  });
  const whiskers = (html: string) => (html.match(/stroke="#111" stroke-width="1\.2"/g) ?? []).length;

  it('says the CI needs two personas instead of a zero-width interval, and draws no whisker', () => {
    const markdown = renderMarkdown(report(['Ada']));
    expect(markdown).toMatch(/^\| no prefix \| 0\.667 \(CI needs ≥ 2 personas\) \| 0\.667 \(CI needs ≥ 2 personas\) \| 1 \|/m);
    expect(markdown).not.toContain('[0.667, 0.667]');
    expect(whiskers(renderHtml(report(['Ada'])))).toBe(0);
  });

  it('keeps intervals and whiskers with two personas', () => {
    const markdown = renderMarkdown(report(['Ada', 'Bo']));
    expect(markdown).toMatch(/^\| no prefix \| 0\.667 \[0\.667, 0\.667\] \|/m);
    expect(whiskers(renderHtml(report(['Ada', 'Bo'])))).toBeGreaterThan(0);
  });
});
