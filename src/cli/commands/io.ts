import * as fs from 'node:fs';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { IoLogWriter } from '../../device/io-log.ts';
import { LabError, UsageError } from '../../util/errors.ts';
import { BufferedLines } from '../buffered-lines.ts';
import { withImageFile } from '../image-args.ts';
import { type OpenedImage, openImageFile } from '../image-file.ts';
import { QemuIoCommandList } from '../qemu-io-command-list.ts';
import { parseQemuIoCommand, parseQemuIoScriptList, QemuIoSession } from '../qemu-io-script.ts';
import { COMMAND_INFO } from './command-info.ts';
import { VARIANT_OPTION } from './variants.ts';

export const { command, describe } = COMMAND_INFO.io;

export function builder(yargs: Argv) {
  return withImageFile(yargs)
    .option('t', {
      alias: 'cache',
      type: 'string',
      choices: ['writethrough', 'writeback'],
      default: 'writethrough',
      describe: 'cache mode: writethrough flushes after every write (qemu-io default)',
    })
    .option('c', {
      alias: 'cmd',
      type: 'string',
      array: true,
      nargs: 1,
      default: [] as string[],
      describe: 'command to run (repeatable), e.g. "write -P 0xaa 0 4k"',
    })
    .option('variant', VARIANT_OPTION)
    .option('script', { type: 'string', describe: 'file with one command per line, run after -c' })
    .option('io-log', { type: 'string', describe: 'write the host I/O as JSON lines to this file' })
    .option('q', {
      alias: 'quiet',
      type: 'boolean',
      default: false,
      describe: 'print nothing but errors',
    });
}

type Args = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>['argv']>>;

/**
 * Opens the image, runs the commands, and closes it like qemu-io at exit (which drains, so QED's
 * pending need-check timer fires). `abort` skips the close and every flush: a power cut.
 */
export function handler(argv: Args): void {
  const commands = new QemuIoCommandList(argv.c.length);
  for (const text of argv.c) {
    const parsed = parseQemuIoCommand(text);
    if (parsed) commands.push(parsed);
  }
  if (argv.script !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(argv.script, 'utf8');
    } catch {
      throw new UsageError(`Could not read script '${argv.script}'`);
    }
    parseQemuIoScriptList(text, commands);
  }
  const log = argv.ioLog === undefined ? undefined : new IoLogWriter(argv.ioLog);
  let opened: OpenedImage;
  try {
    opened = openImageFile(argv.file, {
      format: argv.f,
      variant: argv.variant,
      ...(log ? { log: log.record } : {}),
    });
  } catch (error) {
    log?.close();
    if (error instanceof LabError) {
      throw new LabError(error.code, `can't open device ${argv.file}: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
  const output = argv.q ? undefined : new BufferedLines((text) => process.stdout.write(text));
  const print = output ? (line: string) => output.add(line) : undefined;
  const session = new QemuIoSession(opened.image, opened.clock, {
    writethrough: argv.t !== 'writeback',
    ...(print ? { print } : {}),
  });
  let failure: unknown;
  try {
    session.runList(commands);
  } catch (error) {
    failure = error;
  }
  // What ran is reported before anything else happens (a close that throws, the error message).
  output?.flush();
  try {
    if (!session.aborted) opened.image.close();
  } finally {
    opened.release();
    log?.close();
  }
  if (failure !== undefined) throw failure;
}
