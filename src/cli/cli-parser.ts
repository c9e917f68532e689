import { readFileSync } from 'node:fs';
import yargs, { type CommandModule } from 'yargs';
import { UsageError } from '../util/errors.ts';
import { reportUserError } from './user-error.ts';

const packageJson = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };

export const LAB_VERSION: string = packageJson.version;

/** The `qedlab` parser over the given command modules (all of them, or stubs and the one run). */
export function configureCli(args: readonly string[], commands: readonly CommandModule[]) {
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
  for (const command of commands) cli = cli.command(command);
  return cli;
}

/** Runs a parser; user errors print one line and set a non-zero exit code, bugs keep their stack. */
export async function runCli(cli: ReturnType<typeof configureCli>): Promise<void> {
  try {
    await cli.parseAsync();
  } catch (error) {
    reportUserError(error);
  }
}
