import type { CommandModule } from 'yargs';
import { COMMAND_INFO, COMMAND_NAMES, type CommandName } from './commands/command-info.ts';
import { COMMAND_LOADERS } from './commands/loaders.ts';
import { plainCheckArgs } from './plain-check-args.ts';
import { reportUserError } from './user-error.ts';

/**
 * The command word yargs will run: the first argument that is not an option (the only global
 * options, --help and --version, take no value).
 */
export function commandWord(args: readonly string[]): string | undefined {
  return args.find((arg) => !arg.startsWith('-'));
}

function isCommandName(word: string): word is CommandName {
  return Object.hasOwn(COMMAND_INFO, word);
}

/** A command yargs can list and match but never runs: its handler is a bug if reached. */
function stub(name: CommandName): CommandModule {
  return {
    ...COMMAND_INFO[name],
    handler: () => {
      throw new Error(`bug: command '${name}' ran without its module`);
    },
  };
}

/**
 * The modules the parser needs for these arguments: the named command's module and stubs for the
 * others; stubs only when no command is named (`--help`, `--version`, nothing); every module for
 * an unknown word, so yargs' error and suggestions come from the full CLI.
 */
export async function commandsFor(args: readonly string[]): Promise<CommandModule[]> {
  const word = commandWord(args);
  if (word !== undefined && !isCommandName(word)) {
    return Promise.all(COMMAND_NAMES.map((name) => COMMAND_LOADERS[name]()));
  }
  return Promise.all(
    COMMAND_NAMES.map((name) => (name === word ? COMMAND_LOADERS[name]() : stub(name))),
  );
}

/**
 * Ends the process now if everything written to stdout and stderr has been handed to the OS (on
 * Linux, writes to files, pipes and terminals are synchronous, so it has), sparing the exit the
 * heap teardown; otherwise returns and the process ends when the output is flushed.
 */
function exitOnceWritten(): void {
  if (process.stdout.writableLength === 0 && process.stderr.writableLength === 0) process.exit();
}

/**
 * The CLI as bin/qedlab.js starts it: the same parser as ./main.ts, but loading only the module
 * of the command being run (check does not load the bench runner, the chart renderer with its
 * 35 MB native library, the crash explorer, …). A check in plain arguments (./plain-check-args.ts)
 * does not load the parser either: it runs the check command's own code with what yargs would
 * have parsed, and exits without tearing the heap down (nothing else is running).
 */
export async function main(args: readonly string[]): Promise<void> {
  const plainCheck = plainCheckArgs(args);
  if (plainCheck) {
    const { runCheck } = await import('./commands/check.ts');
    try {
      runCheck(plainCheck);
    } catch (error) {
      reportUserError(error);
    }
    exitOnceWritten();
    return;
  }
  const { configureCli, runCli } = await import('./cli-parser.ts');
  await runCli(configureCli(args, await commandsFor(args)));
}
