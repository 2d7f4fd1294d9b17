#!/usr/bin/env node
/**
 * The command line: `npm run cli -- <command>`. Each command is a thin main in
 * scripts/commands/ over the core; errors a user can fix print one line and exit 2.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { runMain } from './lib/main.ts';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('wikipersona')
  .description('WikiPersona Playground: build WikiPersona-style datasets, score preference pairs, evaluate prefix strategies.')
  .version(version, '-V, --version', 'print the version (package.json) and exit')
  .showHelpAfterError()
  // Subcommands (e.g. `eval personas`) reuse their parent's option names.
  .enablePositionalOptions()
  .exitOverride();

for (const command of await loadCommands()) program.addCommand(command.exitOverride());

await runMain(() => program.parseAsync(process.argv));

async function loadCommands(): Promise<Command[]> {
  // Imported lazily so `--help` and light commands do not load ONNX Runtime.
  const [{ makeTinyModelCommand }, { scoreCommand }, { serveCommand }, { evalCommand }, { buildDatasetCommand }] = await Promise.all([
    import('./commands/makeTinyModel.ts'),
    import('./commands/score.ts'),
    import('./commands/serve.ts'),
    import('./commands/eval.ts'),
    import('./commands/buildDataset.ts'),
  ]);
  return [makeTinyModelCommand(), scoreCommand(), serveCommand(), evalCommand(), buildDatasetCommand()];
}
