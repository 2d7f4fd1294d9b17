/**
 * `score`: the log-prob verdict (the paper's eq. 3) on preference pairs with a local model.
 *
 * Inputs: a model folder (or hub id), a pair file in any format the core imports, optionally a
 * persona file and a prefix kind. Output: with --json one JSON object per pair on stdout
 * (prompt_ids, scored ids and log-probs, scores, verdict) and nothing else; otherwise a table
 * and accuracy with 95% CIs by question type; on stderr, a closing "N rows skipped" when rows
 * were. Exit: 0 when every row was read and scored, 2 when input needed fixing (invalid rows and
 * ids reused for other pairs are listed, valid ones still scored) or nothing could run.
 */
import { Command, Option } from 'commander';
import { Aggregation } from '../../src/core/aggregate.ts';
import { AppError } from '../../src/core/errors.ts';
import { findPersona, importPersonas } from '../../src/core/personas.ts';
import { applyPrefix, PrefixKind, resolvePrefix } from '../../src/core/prefixes.ts';
import type { PreferencePair } from '../../src/core/schema.ts';
import { scorePairs, type PairOutcome, type PairScore, type PairToScore } from '../../src/core/scorer.ts';
import { AUTHORS_LIMITS, Convention } from '../../src/core/scoringInput.ts';
import { accuracyTable } from '../../src/core/stats.ts';
import { countOf } from '../../src/core/words.ts';
import { importReported, parseInteger, readText, reportSkippedRows, selectSplit, SPLIT_CHOICES, type SplitChoice } from '../lib/cliInput.ts';
import { formatAccuracy, formatTable } from '../lib/format.ts';
import { EXIT_USER_ERROR } from '../lib/main.ts';
import { loadLocalEngine } from '../lib/localEngine.ts';
import { createReporter, defaultReporterMode } from '../lib/reporter.ts';

interface ScoreCliOptions {
  model: string;
  pairs: string;
  personaFile?: string;
  prefix: PrefixKind;
  convention: Convention;
  norm: Aggregation;
  json?: boolean;
  split: SplitChoice;
  seed: number;
  truncation: boolean;
  maxLength: number;
  maxPromptLength: number;
  device: 'cpu' | 'cuda';
  dtype: 'fp32' | 'fp16' | 'q8' | 'q4';
  quiet?: boolean;
}

export function scoreCommand(): Command {
  return new Command('score')
    .description('Score preference pairs by the model log-probability of chosen vs rejected (reference-free reward).')
    .requiredOption('--model <dir|hub id>', 'model folder with config.json, tokenizer files and onnx/model.onnx')
    .requiredOption('--pairs <file>', 'pairs: JSON, JSONL or CSV (ours, the authors\u2019 records, or x/y_w/y_l aliases)')
    .option('--persona-file <file>', 'persona texts (ours or the authors\u2019 personas.json); a pair-set file may carry them too')
    .addOption(new Option('--prefix <kind>', 'prefix strategy').choices(PrefixKind.options).default('none'))
    .addOption(new Option('--convention <name>', 'scoring convention').choices(Convention.options).default('authors'))
    .addOption(new Option('--norm <how>', 'aggregation of token log-probs').choices(Aggregation.options).default('mean'))
    .addOption(new Option('--split <which>', 'pairs to score; auto = test pairs when the file has any, else all').choices(SPLIT_CHOICES).default('auto'))
    .option('--seed <n>', 'seed for few-shot selection', parseInteger, 24)
    .option('--no-truncation', 'score whole sequences (only the context window limits them)')
    .option('--max-length <n>', 'prompt + longer answer, in tokens', parseInteger, AUTHORS_LIMITS.maxLength)
    .option('--max-prompt-length <n>', 'prompt tokens kept (from the end) when too long', parseInteger, AUTHORS_LIMITS.maxPromptLength)
    .addOption(new Option('--device <device>', 'ONNX Runtime device').choices(['cpu', 'cuda']).default('cpu'))
    .addOption(new Option('--dtype <dtype>', 'weights file to load').choices(['fp32', 'fp16', 'q8', 'q4']).default('fp32'))
    .option('--json', 'one JSON object per pair on stdout, nothing else')
    .option('--quiet', 'no progress output (warnings about rows still printed)')
    .action(async (options: ScoreCliOptions) => {
      process.exitCode = await runScore(options);
    });
}

async function runScore(options: ScoreCliOptions): Promise<number> {
  if (options.truncation && options.maxPromptLength >= options.maxLength) {
    throw new AppError('invalid-input', `--max-prompt-length (${options.maxPromptLength}) must be below --max-length (${options.maxLength}).`);
  }
  const reporter = createReporter(options.quiet ? 'quiet' : defaultReporterMode());
  const imported = importReported(await readText(options.pairs, 'pair file'), options.pairs, reporter);
  if (imported.pairs.length === 0) {
    throw new AppError('invalid-input', `${options.pairs} has no valid pairs (${countOf(imported.skipped.invalid, 'invalid row')} listed above): fix them and re-run.`);
  }
  // A persona file's texts win over those a pair-set file carries for the same person.
  const fromFile = options.personaFile ? importPersonas(await readText(options.personaFile, 'persona file'), options.personaFile) : [];
  const personas = [...fromFile, ...(imported.personas ?? [])];
  const toScore = selectSplit(imported.pairs, options.split);
  const prepared = preparePairs(toScore, imported.pairs, personas, options);

  const engine = await loadLocalEngine(options.model, { device: options.device, dtype: options.dtype }, reporter);
  const settings = {
    convention: options.convention,
    aggregation: options.norm,
    ...(options.truncation ? { limits: { maxLength: options.maxLength, maxPromptLength: options.maxPromptLength } } : {}),
  };
  const outcomes: PairOutcome[] = [];
  reporter.start('Scoring pairs', prepared.length);
  try {
    for await (const outcome of scorePairs(engine, prepared, settings)) {
      outcomes.push(outcome);
      reporter.tick(outcomes.length);
      if (options.json) process.stdout.write(`${JSON.stringify(jsonLine(outcome, options.prefix))}\n`);
    }
  } finally {
    reporter.stop();
    await engine.dispose();
  }

  const failures = outcomes.filter((outcome) => !outcome.ok);
  for (const failure of failures) if (!failure.ok) reporter.warn(`pair ${failure.id}: ${failure.error.message}`);
  if (!options.json) printSummary(outcomes, toScore, options);
  reportSkippedRows(reporter, imported.skipped);
  return imported.needsFixing || failures.length > 0 ? EXIT_USER_ERROR : 0;
}

/** Resolves each person's prefix once (seeded) and applies it to their questions. */
function preparePairs(
  toScore: readonly PreferencePair[],
  allPairs: readonly PreferencePair[],
  personas: ReturnType<typeof importPersonas>,
  options: ScoreCliOptions,
): PairToScore[] {
  const names = [...new Set(allPairs.map((pair) => pair.persona))];
  const specs = new Map(
    names.map((name, index) => {
      const spec = resolvePrefix(options.prefix, {
        name,
        persona: findPersona(personas, name),
        trainPairs: allPairs.filter((pair) => pair.persona === name && pair.split === 'train'),
        tagIndex: index,
        seed: options.seed,
      });
      return [name, spec] as const;
    }),
  );
  return toScore.map((pair) => ({
    id: pair.id,
    userContent: applyPrefix(specs.get(pair.persona) ?? { kind: 'none' }, pair.prompt),
    chosen: pair.chosen,
    rejected: pair.rejected,
  }));
}

function jsonLine(outcome: PairOutcome, prefix: PrefixKind): Record<string, unknown> {
  if (!outcome.ok) return { id: outcome.id, ok: false, error: outcome.error };
  const result: PairScore = outcome.result;
  return {
    id: result.id,
    prompt_ids: result.promptIds,
    chosen: result.chosen,
    rejected: result.rejected,
    correct: result.correct,
    tie: result.tie,
    margin: result.margin,
    truncated: result.truncated,
    prefix,
    convention: result.convention,
    norm: result.aggregation,
    method: result.method,
  };
}

function printSummary(outcomes: readonly PairOutcome[], pairs: readonly PreferencePair[], options: ScoreCliOptions): void {
  const byId = new Map(pairs.map((pair) => [pair.id, pair]));
  const scored = outcomes.flatMap((outcome) => (outcome.ok ? [outcome.result] : []));
  const rows = scored.map((result) => {
    const pair = byId.get(result.id);
    return [
      result.id,
      pair?.persona ?? '',
      pair?.type ?? '',
      result.chosen.score.toFixed(4),
      result.rejected.score.toFixed(4),
      result.margin.toFixed(4),
      result.tie ? 'tie' : result.correct ? 'yes' : 'no',
    ];
  });
  const out = process.stdout;
  out.write(formatTable(['id', 'persona', 'type', 'chosen', 'rejected', 'margin', 'correct'], rows));
  out.write(`\nprefix ${options.prefix}, convention ${options.convention}, ${options.norm} of token log-probs, ${scored[0]?.method ?? ''}\n`);
  if (scored.length === 0) return;
  const table = accuracyTable(
    scored.map((result) => ({ persona: byId.get(result.id)?.persona, type: byId.get(result.id)?.type, correct: result.correct, tie: result.tie })),
    { seed: options.seed },
  );
  out.write(formatAccuracy(table));
  const failed = outcomes.length - scored.length;
  if (failed > 0) out.write(`${countOf(failed, 'pair')} failed (listed on stderr).\n`);
}
