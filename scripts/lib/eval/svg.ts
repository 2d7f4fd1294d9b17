/**
 * Self-contained SVG charts for report.html: plain strings, no script, no fonts or images to
 * fetch, so the report opens offline and makes no request. Two kinds, the paper's:
 * grouped bars with confidence-interval whiskers and dashed reference lines (Figure 3/5, App. L),
 * and scatter plots with the y = x diagonal and a least-squares line (Figure 6).
 */

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const FONT = 'font-family="system-ui, sans-serif"';

function fixed(value: number): string {
  return Number.isFinite(value) ? value.toFixed(1) : '0';
}

export interface Bar {
  series: string;
  value: number;
  lower?: number;
  upper?: number;
}

export interface BarGroup {
  label: string;
  bars: Bar[];
}

export interface ReferenceLine {
  value: number;
  label: string;
  color: string;
}

export interface BarChartInput {
  title: string;
  groups: BarGroup[];
  series: { name: string; color: string }[];
  lines?: ReferenceLine[];
  yLabel: string;
  yMin?: number;
  yMax?: number;
}

/** Baselines of reference-line labels at least this far apart (font size 10). */
const LABEL_GAP = 12;
/** Reference lines closer than this (px) overlap under a 1.5 px stroke: drawn as one shared line. */
const SAME_HEIGHT = 2;
const DASH = 5;

/**
 * Label positions as near to `wanted` as they can be while at least `gap` apart and within
 * [min, max] (when they fit), in the order given: labels of nearby lines are pushed apart
 * rather than printed over each other.
 */
export function spreadLabels(wanted: readonly number[], gap: number, min: number, max: number): number[] {
  const order = wanted.map((_, i) => i).sort((a, b) => (wanted[a] ?? 0) - (wanted[b] ?? 0));
  const placed = order.map((i) => Math.max(wanted[i] ?? 0, min));
  for (let k = 1; k < placed.length; k++) placed[k] = Math.max(placed[k] ?? 0, (placed[k - 1] ?? 0) + gap);
  // Pushed past the bottom: move the run back up, never above `min`.
  for (let k = placed.length - 1; k >= 0; k--) {
    const limit = k === placed.length - 1 ? max : (placed[k + 1] ?? max) - gap;
    placed[k] = Math.max(Math.min(placed[k] ?? 0, limit), min + k * gap);
  }
  const positions = new Array<number>(wanted.length);
  order.forEach((i, k) => (positions[i] = placed[k] ?? 0));
  return positions;
}

/** Grouped bars, one group per x label, one bar per series, whiskers for intervals. */
export function barChart({ title, groups, series, lines = [], yLabel, yMin = 0, yMax = 1 }: BarChartInput): string {
  const barWidth = 16;
  const groupGap = 18;
  const left = 56;
  const top = 48;
  const plotHeight = 220;
  const groupWidth = series.length * barWidth + groupGap;
  const plotWidth = Math.max(groups.length * groupWidth, 240);
  const width = left + plotWidth + 150;
  const height = top + plotHeight + 90;
  const y = (value: number) => top + plotHeight - ((Math.min(Math.max(value, yMin), yMax) - yMin) / (yMax - yMin)) * plotHeight;
  const parts: string[] = [];
  parts.push(`<text x="${left}" y="18" font-size="14" font-weight="600" ${FONT}>${escapeXml(title)}</text>`);
  for (let tick = 0; tick <= 5; tick++) {
    const value = yMin + ((yMax - yMin) * tick) / 5;
    parts.push(`<line x1="${left}" x2="${left + plotWidth}" y1="${fixed(y(value))}" y2="${fixed(y(value))}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${left - 6}" y="${fixed(y(value) + 4)}" font-size="11" text-anchor="end" ${FONT}>${value.toFixed(2)}</text>`);
  }
  parts.push(`<text transform="translate(14 ${top + plotHeight / 2}) rotate(-90)" font-size="11" text-anchor="middle" ${FONT}>${escapeXml(yLabel)}</text>`);
  groups.forEach((group, g) => {
    const x0 = left + g * groupWidth + groupGap / 2;
    group.bars.forEach((bar) => {
      const s = series.findIndex((candidate) => candidate.name === bar.series);
      if (s === -1 || !Number.isFinite(bar.value)) return;
      const x = x0 + s * barWidth;
      const color = series[s]?.color ?? '#888';
      const label = `${group.label}, ${bar.series}: ${bar.value.toFixed(3)}${bar.lower !== undefined && bar.upper !== undefined ? ` [${bar.lower.toFixed(3)}, ${bar.upper.toFixed(3)}]` : ''}`;
      parts.push(
        `<rect x="${fixed(x)}" y="${fixed(y(bar.value))}" width="${barWidth - 2}" height="${fixed(y(yMin) - y(bar.value))}" fill="${color}"><title>${escapeXml(label)}</title></rect>`,
      );
      if (bar.lower !== undefined && bar.upper !== undefined && Number.isFinite(bar.lower) && Number.isFinite(bar.upper)) {
        const cx = x + (barWidth - 2) / 2;
        parts.push(`<line x1="${fixed(cx)}" x2="${fixed(cx)}" y1="${fixed(y(bar.lower))}" y2="${fixed(y(bar.upper))}" stroke="#111" stroke-width="1.2"/>`);
        for (const end of [bar.lower, bar.upper]) parts.push(`<line x1="${fixed(cx - 3)}" x2="${fixed(cx + 3)}" y1="${fixed(y(end))}" y2="${fixed(y(end))}" stroke="#111" stroke-width="1.2"/>`);
      }
    });
    parts.push(
      `<text transform="translate(${fixed(x0 + (series.length * barWidth) / 2)} ${top + plotHeight + 12}) rotate(35)" font-size="11" ${FONT}>${escapeXml(group.label)}</text>`,
    );
  });
  const drawn = lines.filter((line) => Number.isFinite(line.value));
  const labelY = spreadLabels(
    drawn.map((line) => y(line.value) + 4),
    LABEL_GAP,
    top + LABEL_GAP,
    top + plotHeight + 4,
  );
  drawn.forEach((line, i) => {
    const ly = y(line.value);
    // Lines at one height share it: their dashes interleave, so none hides another.
    const together = drawn.filter((other) => Math.abs(y(other.value) - ly) < SAME_HEIGHT);
    const place = together.indexOf(line);
    const dashes = together.length === 1 ? 'stroke-dasharray="6 4"' : `stroke-dasharray="${DASH} ${DASH * (together.length - 1)}" stroke-dashoffset="${DASH * place}"`;
    parts.push(`<line x1="${left}" x2="${left + plotWidth}" y1="${fixed(ly)}" y2="${fixed(ly)}" stroke="${line.color}" stroke-width="1.5" ${dashes}/>`);
    parts.push(`<text x="${left + plotWidth + 6}" y="${fixed(labelY[i] ?? ly)}" font-size="10" fill="${line.color}" ${FONT}>${escapeXml(line.label)}</text>`);
  });
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotHeight}" stroke="#111"/>`);
  parts.push(`<line x1="${left}" x2="${left + plotWidth}" y1="${top + plotHeight}" y2="${top + plotHeight}" stroke="#111"/>`);
  // A row under the title, clear of the bars and of the reference-line labels on the right.
  series.forEach((entry, i) => {
    const lx = left + i * 90;
    parts.push(`<rect x="${lx}" y="26" width="10" height="10" fill="${entry.color}"/>`);
    parts.push(`<text x="${lx + 14}" y="35" font-size="11" ${FONT}>${escapeXml(entry.name)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escapeXml(title)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`;
}

export interface ScatterPoint {
  x: number;
  y: number;
  label: string;
}

export interface ScatterInput {
  title: string;
  points: ScatterPoint[];
  xLabel: string;
  yLabel: string;
  min?: number;
  max?: number;
}

/** Points in a square [min, max]² with the y = x diagonal (dotted) and the least-squares line. */
export function scatterChart({ title, points, xLabel, yLabel, min = 0, max = 1 }: ScatterInput): string {
  const size = 220;
  const left = 48;
  const top = 30;
  const width = left + size + 70;
  const height = top + size + 44;
  const sx = (value: number) => left + ((value - min) / (max - min)) * size;
  const sy = (value: number) => top + size - ((value - min) / (max - min)) * size;
  const parts: string[] = [`<text x="${left}" y="16" font-size="12" font-weight="600" ${FONT}>${escapeXml(title)}</text>`];
  for (let tick = 0; tick <= 4; tick++) {
    const value = min + ((max - min) * tick) / 4;
    parts.push(`<line x1="${fixed(sx(value))}" x2="${fixed(sx(value))}" y1="${top}" y2="${top + size}" stroke="#f0f0f0"/>`);
    parts.push(`<line x1="${left}" x2="${left + size}" y1="${fixed(sy(value))}" y2="${fixed(sy(value))}" stroke="#f0f0f0"/>`);
    parts.push(`<text x="${fixed(sx(value))}" y="${top + size + 14}" font-size="10" text-anchor="middle" ${FONT}>${value.toFixed(2)}</text>`);
    parts.push(`<text x="${left - 4}" y="${fixed(sy(value) + 3)}" font-size="10" text-anchor="end" ${FONT}>${value.toFixed(2)}</text>`);
  }
  parts.push(`<rect x="${left}" y="${top}" width="${size}" height="${size}" fill="none" stroke="#111"/>`);
  parts.push(`<line x1="${fixed(sx(min))}" y1="${fixed(sy(min))}" x2="${fixed(sx(max))}" y2="${fixed(sy(max))}" stroke="#9ca3af" stroke-dasharray="2 3"/>`);
  const fit = leastSquares(points);
  const segment = fit && lineInSquare(fit, min, max);
  if (segment) {
    const [[x1, y1], [x2, y2]] = segment;
    parts.push(`<line x1="${fixed(sx(x1))}" y1="${fixed(sy(y1))}" x2="${fixed(sx(x2))}" y2="${fixed(sy(y2))}" stroke="#2563eb" stroke-width="1.5"/>`);
  }
  for (const point of points) {
    if (!Number.isFinite(point.x) || !Number.isFinite(point.y)) continue;
    parts.push(
      `<circle cx="${fixed(sx(point.x))}" cy="${fixed(sy(point.y))}" r="3.5" fill="#2563eb" fill-opacity="0.7"><title>${escapeXml(`${point.label}: ${point.x.toFixed(3)} → ${point.y.toFixed(3)}`)}</title></circle>`,
    );
  }
  parts.push(`<text x="${left + size / 2}" y="${height - 6}" font-size="11" text-anchor="middle" ${FONT}>${escapeXml(xLabel)}</text>`);
  parts.push(`<text transform="translate(12 ${top + size / 2}) rotate(-90)" font-size="11" text-anchor="middle" ${FONT}>${escapeXml(yLabel)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escapeXml(title)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`;
}

/** Ordinary least squares y = intercept + slope·x; undefined with fewer than 2 distinct x. */
export function leastSquares(points: readonly ScatterPoint[]): { slope: number; intercept: number } | undefined {
  const finite = points.filter((point) => Number.isFinite(point.x) && Number.isFinite(point.y));
  if (finite.length < 2) return undefined;
  const meanX = finite.reduce((sum, point) => sum + point.x, 0) / finite.length;
  const meanY = finite.reduce((sum, point) => sum + point.y, 0) / finite.length;
  let cross = 0;
  let squares = 0;
  for (const point of finite) {
    cross += (point.x - meanX) * (point.y - meanY);
    squares += (point.x - meanX) ** 2;
  }
  if (squares === 0) return undefined;
  const slope = cross / squares;
  return { slope, intercept: meanY - slope * meanX };
}

/** The part of y = intercept + slope·x inside [min, max]², or undefined when the line misses it. */
export function lineInSquare({ slope, intercept }: { slope: number; intercept: number }, min: number, max: number): [[number, number], [number, number]] | undefined {
  let low = min;
  let high = max;
  if (slope === 0) {
    if (intercept < min || intercept > max) return undefined;
  } else {
    // x where the line crosses y = min and y = max, in increasing order.
    const [a, b] = [(min - intercept) / slope, (max - intercept) / slope].sort((p, q) => p - q) as [number, number];
    low = Math.max(low, a);
    high = Math.min(high, b);
    if (low > high) return undefined;
  }
  return [
    [low, intercept + slope * low],
    [high, intercept + slope * high],
  ];
}
