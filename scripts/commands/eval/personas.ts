/**
 * `eval personas --out DIR [--prefix-file F]`: ROUGE-1 of prefix texts against the gold persona and
 * a random persona's gold, word counts (Table 2), ROUGE-L examples (Table 11), and ROUGE-Lsum of
 * each prefix against its shuffled counterpart, alone and wrapped (Table 13). Reads the run's
 * prefixes.json (or --prefix-file, e.g. the authors' personas.json); the shuffle is the run's (its
 * prefix file's), else the authors' `shuffle_name` column, else drawn as eval draws it. Writes
 * DIR/personas.json and rebuilds the report. Exit: 0; 2 when the texts cannot be compared
 * (nothing is written then).
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { z } from 'zod';
import { deriveSeed } from '../../../src/core/dataset/seeds.ts';
import { PrefixFile } from '../../../src/core/eval/prefixFile.ts';
import { AUTHORS_MAX_FIXED_POINTS, shuffleAssignment } from '../../../src/core/eval/shuffle.ts';
import type { Persona } from '../../../src/core/schema.ts';
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
    .description('ROUGE-1 of prefix texts against the gold persona and a random persona\u2019s gold, word counts (Table 2), ROUGE-L examples (Table 11), ROUGE-Lsum against the shuffled prefix (Table 13).')
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
  const text = await readText(source, 'prefix file');
  const personas = importPersonas(text, source);
  const examples = options.examples?.split(',').map((name) => name.trim()).filter((name) => name !== '');
  const input = PersonasInput.parse({ source, seed: options.seed, ...(examples ? { examples } : {}), personas, shuffle: shuffleOf(text, personas, options.seed) });
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

/** The run's shuffle (a prefix file's provenance), the authors' `shuffle_name` column, or one drawn as eval draws it. */
function shuffleOf(text: string, personas: readonly Persona[], seed: number): NonNullable<PersonasInput['shuffle']> {
  const names = personas.flatMap((persona) => (persona.name ? [persona.name] : []));
  try {
    const file = PrefixFile.safeParse(JSON.parse(text));
    if (file.success && file.data.provenance.shuffle) return { source: 'the run\u2019s shuffle (prefix file provenance)', assignment: file.data.provenance.shuffle.assignment };
  } catch {
    // Not one JSON document: the authors' JSON Lines, read below.
  }
  const authors = text.split('\n').flatMap((line) => {
    try {
      const row = AuthorsShuffleRow.safeParse(JSON.parse(line));
      return row.success ? [[row.data.name, row.data.shuffle_name] as const] : [];
    } catch {
      return [];
    }
  });
  if (authors.length > 0) return { source: 'the authors\u2019 shuffle_name column', assignment: Object.fromEntries(authors) };
  const shuffleSeed = deriveSeed(seed, 'shuffle');
  return { source: `drawn as eval draws it (seed ${shuffleSeed}, at most one persona keeps its own)`, assignment: shuffleAssignment(names, { seed: shuffleSeed, maxFixedPoints: AUTHORS_MAX_FIXED_POINTS }) };
}

const AuthorsShuffleRow = z.object({ name: z.string().min(1), shuffle_name: z.string().min(1) });

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
  const overlap = report.overlap;
  if (!overlap) return;
  process.stdout.write('\nROUGE-Lsum against the shuffled prefix (Table 13):\n');
  process.stdout.write(
    formatTable(
      ['prefix', 'len', 'rouge', 'len × rouge', 'len (wrapped)', 'rouge (wrapped)', 'len × rouge (wrapped)'],
      overlap.columns.map((column) => [prefixLabel(column.column), num(column.alone.length, 0), num(column.alone.rouge, 2), num(column.alone.product, 0), num(column.withWrapper.length, 0), num(column.withWrapper.rouge, 2), num(column.withWrapper.product, 0)]),
    ),
  );
}
