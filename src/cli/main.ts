import { hideBin } from 'yargs/helpers';
import { configureCli, runCli } from './cli-parser.ts';
import { COMMANDS } from './commands/index.ts';

export { LAB_VERSION } from './cli-parser.ts';

/**
 * The parser with every command loaded, built fresh per call so tests can run it in-process
 * (synchronously). bin/qedlab.js starts through ./start.ts instead, which loads one command.
 */
export function buildCli(args: readonly string[]) {
  return configureCli(args, COMMANDS);
}

/** Runs the CLI with every command loaded; user errors print one line and set the exit code. */
export async function main(args: readonly string[]): Promise<void> {
  await runCli(buildCli(args));
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  await main(hideBin(process.argv));
}
