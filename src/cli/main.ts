import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { LabError, UsageError } from '../util/errors.ts';
import { COMMANDS } from './commands/index.ts';

const packageJson = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };

export const LAB_VERSION: string = packageJson.version;

/** The parser, built fresh per call so tests can run it in-process. */
export function buildCli(args: readonly string[]) {
  let cli = yargs([...args])
    .scriptName('qedlab')
    .usage('$0 <command> [options]\n\nMeasure disk-image format designs: QED, qcow2 and raw.')
    .version(LAB_VERSION)
    .help()
    .alias('h', 'help')
    .strict()
    .demandCommand(1, 'Specify a command (see qedlab --help)')
    .recommendCommands()
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new UsageError(message);
    });
  for (const command of COMMANDS) cli = cli.command(command);
  return cli;
}

/** Runs the CLI; user errors print one line and set a non-zero exit code, bugs keep their stack. */
export async function main(args: readonly string[]): Promise<void> {
  try {
    await buildCli(args).parseAsync();
  } catch (error) {
    if (error instanceof LabError) {
      process.stderr.write(`qedlab: ${error.message.split('\n')[0]}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    throw error;
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  await main(hideBin(process.argv));
}
