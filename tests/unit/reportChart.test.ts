/**
 * The eval report's accuracy chart as people read it: reference-line labels never print over each
 * other, and a reference line at the same height as another stays visible (their dashes
 * interleave). One persona's CIs in the report: evalFiles.test.ts.
 */
import { describe, expect, it } from 'vitest';
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
