import type { ArgumentsCamelCase, Argv } from 'yargs';
import type { MapEntry } from '../../formats/types.ts';
import { withImageFile } from '../image-args.ts';
import { openImageFile } from '../image-file.ts';
import { COMMAND_INFO } from './command-info.ts';

export const { command, describe } = COMMAND_INFO.map;

export function builder(yargs: Argv) {
  return withImageFile(yargs).option('output', {
    type: 'string',
    choices: ['human', 'json'],
    default: 'human',
  });
}

type Args = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>['argv']>>;

export function handler(argv: Args): void {
  const opened = openImageFile(argv.file, { format: argv.f, readOnly: true, forCheck: true });
  let entries: MapEntry[];
  let backingFile: string | undefined;
  try {
    entries = opened.image.map();
    backingFile = opened.image.info().backingFile;
  } finally {
    opened.release();
  }
  if (argv.output === 'json') {
    process.stdout.write(formatMapJson(entries));
    return;
  }
  let out = `${'Offset'.padEnd(16)}${'Length'.padEnd(16)}${'Mapped to'.padEnd(16)}File\n`;
  const hex = (n: number) => (n === 0 ? '0' : `0x${n.toString(16)}`).padEnd(16);
  for (const e of entries) {
    if (!e.data || e.offset === undefined) continue;
    out += `${hex(e.start)}${hex(e.length)}${hex(e.offset)}${e.depth === 0 ? argv.file : (backingFile ?? '')}\n`;
  }
  process.stdout.write(out);
}

/** Exactly `qemu-img map --output=json`: one object per line, fixed key order. */
export function formatMapJson(entries: readonly MapEntry[]): string {
  const lines = entries.map(
    (e) =>
      `{ "start": ${e.start}, "length": ${e.length}, "depth": ${e.depth}, "present": ${e.present}, ` +
      `"zero": ${e.zero}, "data": ${e.data}${e.offset === undefined ? '' : `, "offset": ${e.offset}`}}`,
  );
  return `[${lines.join(',\n')}]\n`;
}
