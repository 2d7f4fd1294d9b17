/**
 * report.html: the report's blocks as one self-contained page: inline CSS and inline SVG, no
 * script, and a Content-Security-Policy that forbids every fetch, so opening it (from disk or
 * any server) makes no network request even if a text in it looked like a URL.
 */
import type { EvalReport } from '../../../src/core/eval/report.ts';
import { reportBlocks, type Block } from './reportBlocks.ts';
import { escapeXml } from './svg.ts';

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #111; line-height: 1.45; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; } h3 { font-size: 1rem; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #d4d4d8; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f5; }
figure { margin: 1rem 0; overflow-x: auto; }
figure.row { display: flex; flex-wrap: wrap; gap: 1rem; }
details { margin: 0.4rem 0; } pre { white-space: pre-wrap; background: #fafafa; border: 1px solid #eee; padding: 0.5rem; }
nav a { margin-right: 1rem; }
`;

function heat(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '';
  // Red below 0.5, green above, white at 0.5.
  const strength = Math.min(1, Math.abs(value - 0.5) * 2);
  const [r, g, b] = value >= 0.5 ? [34, 197, 94] : [239, 68, 68];
  return ` style="background: rgba(${r}, ${g}, ${b}, ${(0.15 + 0.55 * strength).toFixed(2)})"`;
}

function renderBlock(block: Block): string {
  switch (block.kind) {
    case 'heading':
      return `<h${block.level}${block.id ? ` id="${escapeXml(block.id)}"` : ''}>${escapeXml(block.text)}</h${block.level}>`;
    case 'paragraph':
      return `<p>${escapeXml(block.text)}</p>`;
    case 'table': {
      const header = block.header.some((title) => title !== '') ? `<thead><tr>${block.header.map((title) => `<th>${escapeXml(title)}</th>`).join('')}</tr></thead>` : '';
      const rows = block.rows.map((row, i) => `<tr>${row.map((text, j) => `<td${heat(block.heat?.[i]?.[j])}>${escapeXml(text)}</td>`).join('')}</tr>`).join('');
      return `<table>${header}<tbody>${rows}</tbody></table>`;
    }
    case 'chart':
      return `<figure>${block.svg}</figure>`;
    case 'charts':
      return `<figure class="row">${block.svgs.join('')}</figure>`;
    case 'text':
      return `<details><summary>${escapeXml(block.title)}</summary><pre>${escapeXml(block.text)}</pre></details>`;
  }
}

export function renderHtml(report: EvalReport): string {
  const blocks = reportBlocks(report);
  const nav = blocks
    .filter((block): block is Extract<Block, { kind: 'heading' }> => block.kind === 'heading' && block.id !== undefined)
    .map((block) => `<a href="#${escapeXml(block.id as string)}">${escapeXml(block.text.replace(/ \(.*\)$/, ''))}</a>`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(report.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<nav>${nav}</nav>
${blocks.map(renderBlock).join('\n')}
<p><small>Every number is recomputed from the row files next to this report (pairs.jsonl, generations.jsonl, judgements.jsonl, safety.jsonl, elicitation.jsonl).</small></p>
</body>
</html>
`;
}
