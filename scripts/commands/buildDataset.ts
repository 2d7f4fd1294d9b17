/**
 * `build-dataset`: builds a WikiPersona-style preference dataset with the paper's pipeline (personas
 * → G.2 questions → baseline CoT answers → reward window → k-means → G.4 judge bracket → split),
 * every parameter and model role taken from a JSON config (see examples/build-dataset/).
 *
 * Inputs: --config <file>, --out <dir>. Output: the dataset folder (pairs.jsonl, authors/,
 * DATASET_CARD.md, summary.json) and, on stdout, calls, tokens and cost per role. With --dry-run,
 * only the planned calls and a cost estimate (no provider is created, nothing is written).
 * Exit: 0 when the build finished (items whose model output was unusable are counted, not fatal);
 * 2 for a config or input to fix, or when items failed on calls (re-run the same command to retry
 * them: finished work is kept); 1 for a bug. Ctrl-C stops cleanly and the same command resumes.
 */
import { Command } from 'commander';
import { buildDataset, dryRun } from '../lib/dataset/build.ts';
import { EXIT_USER_ERROR } from '../lib/main.ts';
import { createReporter, defaultReporterMode } from '../lib/reporter.ts';

interface BuildDatasetCliOptions {
  config: string;
  out?: string;
  dryRun?: boolean;
  quiet?: boolean;
}

export function buildDatasetCommand(): Command {
  return new Command('build-dataset')
    .description('Build a WikiPersona-style preference dataset (questions, candidate answers, filters, judge) from a JSON config.')
    .requiredOption('--config <file>', 'build config (JSON); see examples/build-dataset/')
    .option('--out <dir>', 'output folder; re-running with the same folder resumes')
    .option('--dry-run', 'print the planned calls per stage and a cost estimate; call and write nothing')
    .option('--quiet', 'no progress output (the final summary is still printed)')
    .action(async (options: BuildDatasetCliOptions) => {
      const print = (text: string) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
      if (options.dryRun) {
        dryRun(options.config, print);
        return;
      }
      if (!options.out) {
        process.stderr.write('error: --out <dir> is required (except with --dry-run).\n');
        process.exitCode = EXIT_USER_ERROR;
        return;
      }
      const controller = new AbortController();
      const stop = () => {
        process.stderr.write('\nStopping after the items in flight; run the same command again to resume.\n');
        controller.abort();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const summary = await buildDataset({
          configPath: options.config,
          outDir: options.out,
          reporter: createReporter(options.quiet ? 'silent' : defaultReporterMode()),
          print,
          signal: controller.signal,
        });
        process.exitCode = summary.retryable > 0 ? EXIT_USER_ERROR : 0;
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}
