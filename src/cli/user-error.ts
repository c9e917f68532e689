import { LabError } from '../util/errors.ts';

/**
 * What the CLI does with an error out of a command: a user error (LabError) prints its first line
 * and sets its exit code; anything else is a bug and is thrown on, keeping its stack.
 */
export function reportUserError(error: unknown): void {
  if (error instanceof LabError) {
    process.stderr.write(`qedlab: ${error.message.split('\n')[0]}\n`);
    process.exitCode = error.exitCode;
    return;
  }
  throw error;
}
