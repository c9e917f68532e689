import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { SimClock } from '../../device/clock.ts';
import { FileDevice } from '../../device/file-device.ts';
import { parseCreateOptions } from '../../formats/create-options.ts';
import { formatNames, getDriver } from '../../formats/registry.ts';
import { UsageError } from '../../util/errors.ts';
import { parseSizeBytes } from '../../util/size.ts';
import { backingOpener } from '../image-file.ts';
import { COMMAND_INFO } from './command-info.ts';
import { checkedVariant, VARIANT_OPTION } from './variants.ts';

export const { command, describe } = COMMAND_INFO.create;

export function builder(yargs: Argv) {
  return yargs
    .positional('file', { type: 'string', demandOption: true, describe: 'image file to create' })
    .positional('size', {
      type: 'string',
      describe: 'virtual size: 512, 64k, 1M, 1T, 1P (binary units)',
    })
    .option('f', {
      alias: 'format',
      type: 'string',
      default: 'raw',
      describe: `format (${formatNames().join(', ')})`,
    })
    .option('o', {
      type: 'string',
      array: true,
      // One value per -o, so `-o k=v FILE SIZE` does not swallow the positionals.
      nargs: 1,
      default: [] as string[],
      describe: 'format options key=value,...',
    })
    .option('variant', VARIANT_OPTION);
}

type Args = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>['argv']>>;

/**
 * Written to a temporary file and renamed into place, so a failed create never leaves a
 * half-written image (or clobbers an existing one).
 */
export function handler(argv: Args): void {
  const driver = getDriver(argv.f);
  const variant = checkedVariant(driver.name, argv.variant);
  const options = parseCreateOptions(argv.o);
  const sizeBytes = argv.size === undefined ? undefined : parseSizeBytes(argv.size);
  if (sizeBytes === undefined && options.backing_file === undefined) {
    throw new UsageError('Image creation needs a size parameter');
  }
  const target = argv.file;
  const temporary = path.join(
    path.dirname(target),
    `.${path.basename(target)}.creating-${process.pid}`,
  );
  const device = FileDevice.create(temporary);
  const releases: Array<() => void> = [];
  try {
    driver.create({
      device,
      sizeBytes: sizeBytes ?? -1,
      options,
      openBacking: backingOpener(target, new SimClock(), releases),
      ...(variant === undefined ? {} : { variant }),
    });
    device.close();
    fs.renameSync(temporary, target);
  } catch (error) {
    device.close();
    fs.rmSync(temporary, { force: true });
    throw error;
  } finally {
    for (const r of releases) r();
  }
  const optionText = Object.entries(options)
    .map(([k, v]) => ` ${k}=${v}`)
    .join('');
  console.log(
    `Formatting '${target}', fmt=${driver.name}${optionText} size=${sizeBytes ?? 'from backing file'}`,
  );
}
