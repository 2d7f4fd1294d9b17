/** Plain-text tables and accuracy summaries for CLI output. */
import type { AccuracyTable, Interval } from '../../src/core/stats.ts';

export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n') + '\n';
}

export function formatInterval(interval: Interval): string {
  return `${interval.estimate.toFixed(3)} [${interval.lower.toFixed(3)}, ${interval.upper.toFixed(3)}]`;
}

/** Accuracy by question type: pooled over pairs (Wilson 95% CI) and mean over personas (bootstrap 95% CI). */
export function formatAccuracy(table: AccuracyTable): string {
  const rows = [...Object.entries(table.byType), ['total', table.total] as const].map(([type, summary]) => [
    type,
    String(summary?.pooled.n ?? 0),
    String(summary?.pooled.ties ?? 0),
    summary ? formatInterval(summary.pooled.accuracy) : '',
    String(summary?.personas ?? 0),
    summary ? formatInterval(summary.meanOfPersonas) : '',
  ]);
  return `\n${formatTable(['type', 'pairs', 'ties', 'accuracy (95% CI, pairs)', 'personas', 'mean over personas (95% CI)'], rows)}`;
}
