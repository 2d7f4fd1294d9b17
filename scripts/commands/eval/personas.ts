/**
 * `eval personas --out DIR [--prefix-file F]`: ROUGE-1 of prefix texts against the gold persona and
 * a random persona's gold, word counts (Table 2), ROUGE-L examples (Table 11). Reads the run's
 * prefixes.json (or --prefix-file, e.g. the authors' personas.json); writes DIR/personas.json and
 * rebuilds the report. Exit: 0; 2 when the texts cannot be compared (nothing is written then).
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { AppError } from '../../../src/core/errors.ts';
import type { EvalReport } from '../../../src/core/eval/report.ts';
import { personaQuality } from '../../../src/core/eval/personaQuality.ts';
import { importPersonas } from '../../../src/core/personas.ts';
import { readText } from '../../lib/cliInput.ts';
import { writeFileAtomic } from '../../lib/durableFiles.ts';
import { formatTable } from '../../lib/format.ts';
import { PersonasInput, writeReport } from '../../lib/eval/report.ts';
import { num, prefixLabel } from '../../lib/eval/reportText.ts';
import { runPaths } from '../../lib/eval/runFiles.ts';
import { addCommonOptions, type CommonOptions } from './flags.ts';

interface PersonasCliOptions extends CommonOptions {
  prefixFile?: string;
  examples?: string;
}

export function personasCommand(): Command {
  const command = new Command('personas')
    .description('ROUGE-1 of prefix texts against the gold persona and a random persona\u2019s gold, word counts (Table 2), ROUGE-L examples (Table 11).')
    .option('--prefix-file <file>', 'persona texts: a prefix file written by eval (default <out>/prefixes.json) or the authors\u2019 personas.json')
    .option('--examples <names>', 'comma-separated personas shown in full with ROUGE-L (Table 11); default: the first two')
    .requiredOption('--out <dir>', 'output folder (shared with eval for one report)');
  addCommonOptions(command);
  return command.action(async (options: PersonasCliOptions) => {
    process.exitCode = await runPersonas(options);
  });
}

async function runPersonas(options: PersonasCliOptions): Promise<number> {
  const out = resolve(options.out);
  const paths = runPaths(out);
  const source = options.prefixFile ?? paths.prefixes;
  const personas = importPersonas(await readText(source, 'prefix file'), source);
  const examples = options.examples?.split(',').map((name) => name.trim()).filter((name) => name !== '');
  const input = PersonasInput.parse({ source, seed: options.seed, ...(examples ? { examples } : {}), personas });
  // Computed once before anything is written, so a folder never holds texts its report cannot use.
  try {
    personaQuality(input.personas, { seed: input.seed, ...(input.examples ? { examples: input.examples } : {}) });
  } catch (error) {
    if (error instanceof RangeError) throw new AppError('invalid-input', `${source}: ${error.message.replace(/^personaQuality: /, '')}`);
    throw error;
  }
  await mkdir(out, { recursive: true });
  writeFileAtomic(paths.personas, `${JSON.stringify(input, null, 2)}\n`);
  printPersonaQuality(await writeReport(out));
  process.stdout.write(`Report: ${paths.reportHtml}\n`);
  return 0;
}

function printPersonaQuality(report: EvalReport): void {
  const quality = report.personas;
  if (!quality) return;
  const rows = quality.columns.map((column) => [
    prefixLabel(column.column),
    `${num(column.rouge1.mean, 2)} ± ${num(column.rouge1.sd, 2)}`,
    `${num(column.rouge1Random.mean, 2)} ± ${num(column.rouge1Random.sd, 2)}`,
    `${num(column.words.mean, 0)} ± ${num(column.words.sd, 0)}`,
    String(column.rouge1.n),
  ]);
  process.stdout.write(formatTable(['prefix', 'R1', 'R1 (random)', 'words', 'personas'], rows));
}
