/**
 * `eval`: the paper's tables from one command each, into one output folder. The command itself
 * scores pairs under prefix strategies (eval/scoreRun.ts); each subcommand is one module in eval/
 * registered in EVAL_SUBCOMMANDS:
 * - `eval personas`: persona ROUGE and word counts (Tables 2 and 11; eval/personas.ts);
 * - `eval generations`: judged generations, win rates (Table 3; eval/generations.ts);
 * - `eval safety`: RewardBench accuracy with and without persona prefixes (§4.3, Figure 7; eval/safety.ts);
 * - `eval agreement`: people's labels vs the judge's and each other (App. D, Table 6; eval/agreement.ts);
 * - `eval elicitation`: active vs random persona elicitation replayed on known labels (issue 13; eval/elicitation.ts).
 * Every subcommand rewrites DIR/summary.json, DIR/report.md and DIR/report.html from the row files.
 *
 * Inputs: a dataset (pair file or folder), engine specs (local:<dir>, openai:<baseUrl>#<model>,
 * webllm:<catalog id> or browser:<catalog id>[@wasm|@webgpu], which drive the page's own worker in
 * headless Chromium and need `npm run build` first), optional API roles (--persona-model, --judge).
 * Exit: 0 when every unit ran; 2 when input needed fixing or some units failed (they are rows
 * with a reason, counted in the summary and listed in the report); 130 when interrupted (Ctrl+C):
 * re-run the same command to resume.
 */
import { Command } from 'commander';
import { AppError } from '../../src/core/errors.ts';
import { agreementCommand } from './eval/agreement.ts';
import { elicitationCommand } from './eval/elicitation.ts';
import { generationsCommand } from './eval/generations.ts';
import { personasCommand } from './eval/personas.ts';
import { safetyCommand } from './eval/safety.ts';
import { addScoreRun } from './eval/scoreRun.ts';

const EVAL_SUBCOMMANDS: readonly (() => Command)[] = [personasCommand, generationsCommand, safetyCommand, agreementCommand, elicitationCommand];

export function evalCommand(): Command {
  const command = new Command('eval')
    .description('Batch evaluation: accuracy per prefix strategy (Fig. 3), one engine per fold (Fig. 5, App. L, Fig. 6 with --baseline-run); subcommands for persona ROUGE (Tab. 2/11/13), judged generations (Tab. 3), safety (Fig. 7), agreement (Tab. 6) and elicitation (active vs random).')
    .enablePositionalOptions();
  addScoreRun(command);
  for (const subcommand of EVAL_SUBCOMMANDS) command.addCommand(subcommand().exitOverride());
  // Subcommands repeat eval's option names (--out, --seed, …). Unless every ancestor stops reading
  // options at the subcommand name, eval would take them and the subcommand would see none.
  // Commander (14.0.3, pinned) has no public getter for the setting, hence the read of its field;
  // the check turns a confusing "required option '--out' not specified" into what to fix.
  command.hook('preSubcommand', (thisCommand) => {
    for (let ancestor = thisCommand.parent; ancestor; ancestor = ancestor.parent) {
      if ((ancestor as unknown as { _enablePositionalOptions?: boolean })._enablePositionalOptions !== true) {
        throw new AppError('internal', 'eval subcommands need positional options: call .enablePositionalOptions() on the program that registers evalCommand().');
      }
    }
  });
  return command;
}
