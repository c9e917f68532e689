import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { formatNames } from '../../formats/registry.ts';
import { UsageError } from '../../util/errors.ts';
import { parseSizeBytes } from '../../util/size.ts';
import { type ValidateResult, validateScript } from '../../validate/validate.ts';
import { parseQemuIoScript } from '../qemu-io-script.ts';
import { COMMAND_INFO } from './command-info.ts';

export const { command, describe } = COMMAND_INFO.validate;

export function builder(yargs: Argv) {
  return yargs
    .option('f', {
      alias: 'format',
      type: 'string',
      demandOption: true,
      describe: `format (${formatNames().join(', ')})`,
    })
    .option('script', {
      type: 'string',
      demandOption: true,
      describe: 'qemu-io commands, one per line',
    })
    .option('size', { type: 'string', default: '1G', describe: 'virtual size of the new image' })
    .option('o', { type: 'string', describe: 'qemu-img create -o options' })
    .option('t', {
      alias: 'cache',
      choices: ['writeback', 'writethrough'] as const,
      default: 'writeback' as const,
      describe: 'qemu-io cache mode (both sides)',
    })
    .option('dir', {
      type: 'string',
      describe: 'scratch directory for both images and the trace (default: a new temp dir)',
    })
    .option('output', { choices: ['human', 'json'] as const, default: 'human' as const });
}

type Args = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>['argv']>>;

/** Exit status 0 when all three agree, 1 otherwise. */
export function handler(argv: Args): void {
  getFormat(argv.f);
  let text: string;
  try {
    text = fs.readFileSync(argv.script, 'utf8');
  } catch {
    throw new UsageError(`Could not read script '${argv.script}'`);
  }
  const commands = parseQemuIoScript(text);
  const scriptLines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const dir = argv.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'qedlab-validate-'));
  const result = validateScript({
    format: argv.f,
    ...(argv.o === undefined ? {} : { createOptions: argv.o }),
    sizeBytes: parseSizeBytes(argv.size),
    scriptLines,
    commands,
    cacheMode: argv.t,
    dir,
  });
  if (argv.output === 'json') {
    process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
  } else {
    process.stdout.write(renderValidate(result));
  }
  if (!(result.image.same && result.map.same && result.io.same)) process.exitCode = 1;
}

function getFormat(name: string): void {
  if (!formatNames().includes(name)) {
    throw new UsageError(`Unknown file format '${name}' (known: ${formatNames().join(', ')})`);
  }
}

export function renderValidate(r: ValidateResult): string {
  const line = (what: string, c: { same: boolean; firstDifference: string | undefined }) =>
    `${what}: ${c.same ? 'agree' : `DIFFER, first difference: ${c.firstDifference}`}`;
  const lines = [
    line('image bytes', r.image),
    line('map layout', r.map),
    line(`host I/O (qemu ${r.qemuOps} ops, lab ${r.labOps} ops)`, r.io),
    ...r.qemuErrors.map((e) => `qemu-io: ${e}`),
    `images: ${r.qemuImage} ${r.labImage}`,
  ];
  return `${lines.join('\n')}\n`;
}
