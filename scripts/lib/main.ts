/**
 * Runs a CLI main: user-fixable errors (AppError other than `internal`) print one line on
 * stderr and set exit code 2; anything else prints its stack and sets 1. Never calls process.exit().
 */
import { CommanderError } from 'commander';
import { AppError } from '../../src/core/errors.ts';

export const EXIT_USER_ERROR = 2;

export async function runMain(main: () => Promise<unknown>): Promise<void> {
  try {
    await main();
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its message (or the help); usage errors are the user's to fix.
      process.exitCode = error.exitCode === 0 ? 0 : EXIT_USER_ERROR;
    } else if (error instanceof AppError && error.code !== 'internal') {
      process.stderr.write(`error: ${error.message}\n`);
      process.exitCode = EXIT_USER_ERROR;
    } else {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    }
  }
}
