/** report.md: the report's blocks as GitHub-flavoured Markdown (charts omitted; their numbers are in the tables). */
import type { EvalReport } from '../../../src/core/eval/report.ts';
import { reportBlocks, type Block } from './reportBlocks.ts';

/** A table cell: pipes escaped and newlines flattened, or the row would break. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function renderBlock(block: Block): string {
  switch (block.kind) {
    case 'heading':
      return `${'#'.repeat(block.level)} ${block.text}`;
    case 'paragraph':
      return block.text;
    case 'table': {
      const header = block.header.map((title) => cell(title) || ' ');
      return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...block.rows.map((row) => `| ${row.map(cell).join(' | ')} |`)].join('\n');
    }
    case 'chart':
    case 'charts':
      return '';
    case 'text':
      // Indented code keeps the text verbatim whatever Markdown it contains.
      return `**${block.title}**\n\n${block.text
        .split('\n')
        .map((line) => `    ${line}`)
        .join('\n')}`;
  }
}

export function renderMarkdown(report: EvalReport): string {
  const body = reportBlocks(report)
    .map(renderBlock)
    .filter((text) => text !== '')
    .join('\n\n');
  return `${body}\n\n_Charts: report.html. Every number is recomputed from the row files next to this report._\n`;
}
