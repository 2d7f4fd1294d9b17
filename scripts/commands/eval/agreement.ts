/**
 * `eval agreement --dataset D --labels F --out DIR`: people's preference labels (JSON Lines or CSV:
 * pair id, annotator, preferred = chosen | rejected, empty when not labelled; src/core/eval/labels.ts)
 * against the dataset's judge labels and each other (App. D, Table 6): agreement rate, Cohen's κ,
 * Krippendorff's α, with bootstrap CIs, overall and per persona. Writes DIR/agreement.json (the
 * labels and pairs compared, so the report can be rebuilt) and rebuilds the report.
 * Exit: 0; 2 when some labels were unreadable or name pairs the dataset lacks (they are listed).
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { AppError } from '../../../src/core/errors.ts';
import { importLabels } from '../../../src/core/eval/labels.ts';
import { countOf } from '../../../src/core/words.ts';
import { addSkipped, NO_SKIPPED_ROWS, readText, reportSkippedRows } from '../../lib/cliInput.ts';
import { writeFileAtomic } from '../../lib/durableFiles.ts';
import { formatTable } from '../../lib/format.ts';
import { EXIT_USER_ERROR } from '../../lib/main.ts';
import { createReporter, defaultReporterMode } from '../../lib/reporter.ts';
import { loadEvalDataset } from '../../lib/eval/dataset.ts';
import { AgreementInput, writeReport } from '../../lib/eval/report.ts';
import { num } from '../../lib/eval/reportText.ts';
import { runPaths } from '../../lib/eval/runFiles.ts';
import { addCommonOptions, parsePositive, type CommonOptions } from './flags.ts';

interface AgreementOptions extends CommonOptions {
  dataset: string;
  labels: string;
  bootstrap: number;
}

export function agreementCommand(): Command {
  const command = new Command('agreement')
    .description('People\u2019s labels vs the judge\u2019s and each other (App. D, Table 6): agreement rate, Cohen\u2019s κ, Krippendorff\u2019s α, bootstrap CIs.')
    .requiredOption('--dataset <file|dir>', 'the pairs labelled (their chosen answer is the judge\u2019s label)')
    .requiredOption('--labels <file>', 'JSON Lines or CSV: pair id, annotator, preferred (chosen | rejected | empty when not labelled)')
    .option('--bootstrap <n>', 'bootstrap resamples for the CIs over pairs', parsePositive, 1000)
    .requiredOption('--out <dir>', 'output folder (shared with eval for one report)');
  addCommonOptions(command);
  return command.action(async (options: AgreementOptions) => {
    process.exitCode = await runAgreement(options);
  });
}

async function runAgreement(options: AgreementOptions): Promise<number> {
  const reporter = createReporter(options.quiet ? 'quiet' : defaultReporterMode());
  const out = resolve(options.out);
  const dataset = await loadEvalDataset(options.dataset, reporter);
  const { labels, issues } = importLabels(await readText(options.labels, 'labels file'));
  for (const issue of issues) reporter.warn(`${options.labels}: line ${issue.line}${issue.field ? `, field "${issue.field}"` : ''}: ${issue.message}`);
  if (labels.length === 0) throw new AppError('invalid-input', `${options.labels} has no valid label: each needs a pair id, an annotator and preferred (chosen, rejected, or empty).`);
  const labelled = new Set(labels.map((label) => label.pairId));
  const input = AgreementInput.parse({
    source: options.labels,
    dataset: { source: dataset.source, fingerprint: dataset.fingerprint },
    seed: options.seed,
    resamples: options.bootstrap,
    pairs: dataset.pairs.filter((pair) => labelled.has(pair.id)).map((pair) => ({ id: pair.id, persona: pair.persona })),
    labels,
  });
  await mkdir(out, { recursive: true });
  writeFileAtomic(runPaths(out).agreement, `${JSON.stringify(input, null, 2)}\n`);
  const report = await writeReport(out);
  const summary = report.agreement;
  if (summary) {
    if (summary.unknownPairs.length > 0) {
      const ids = countOf(summary.unknownPairs.length, 'labelled pair id');
      reporter.warn(`${ids} ${summary.unknownPairs.length === 1 ? 'is' : 'are'} not in ${options.dataset} and ${summary.unknownPairs.length === 1 ? 'was' : 'were'} left out (first: ${summary.unknownPairs[0]}).`);
    }
    const rows = [summary.overall, ...summary.personas].map((group) => [
      group.persona ?? 'all pairs',
      String(group.pairs),
      group.annotators.map((annotator) => `${annotator.annotator} ${num(annotator.rate.estimate, 2)}`).join(', '),
      num(mean(group.pairwise.map((pair) => pair.kappa.estimate)), 2),
      num(mean(group.annotators.map((annotator) => annotator.kappa.estimate)), 2),
      num(group.alpha.alpha.estimate, 2),
    ]);
    process.stdout.write(formatTable(['persona', 'pairs', 'match rate with judge', 'CK-HH', 'CK-HG', 'KA'], rows));
  }
  process.stdout.write(`Report: ${runPaths(out).reportHtml}\n`);
  const invalidLabels = new Set(issues.map((issue) => issue.line)).size;
  reportSkippedRows(reporter, addSkipped(dataset.skipped, { ...NO_SKIPPED_ROWS, invalid: invalidLabels }));
  return invalidLabels > 0 || dataset.invalidRows > 0 || (summary?.unknownPairs.length ?? 0) > 0 ? EXIT_USER_ERROR : 0;
}

function mean(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite);
  return finite.length === 0 ? NaN : finite.reduce((sum, value) => sum + value, 0) / finite.length;
}
