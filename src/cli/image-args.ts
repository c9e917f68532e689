import type { Argv } from 'yargs';
import { formatNames } from '../formats/registry.ts';

/** The `FILE` positional and `-f FMT` option every command that opens one image takes. */
export function withImageFile<T>(yargs: Argv<T>) {
  return yargs
    .positional('file', { type: 'string', demandOption: true, describe: 'image file' })
    .option('f', {
      alias: 'format',
      type: 'string',
      describe: `format (${formatNames().join(', ')}); probed when omitted`,
    });
}
