import * as fs from 'node:fs';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import type { ImageInfo } from '../../formats/types.ts';
import { formatSize } from '../../util/size.ts';
import { withImageFile } from '../image-args.ts';
import { openImageFile } from '../image-file.ts';
import { formatQemuJson } from '../qemu-json.ts';
import { COMMAND_INFO } from './command-info.ts';

export const { command, describe } = COMMAND_INFO.info;

export function builder(yargs: Argv) {
  return withImageFile(yargs).option('output', {
    type: 'string',
    choices: ['human', 'json'],
    default: 'human',
  });
}

type Args = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>['argv']>>;

/**
 * Opened read-only like qemu-img info. The dirty flag is the header's: QEMU 7.2 reports false for
 * a dirty QED image because the drain at the end of its read-only open fires the need-check timer
 * (clearing the flag in memory only); the lab reports what is on disk.
 */
export function handler(argv: Args): void {
  const opened = openImageFile(argv.file, { format: argv.f, readOnly: true, forCheck: true });
  let info: ImageInfo;
  try {
    info = opened.image.info();
  } finally {
    opened.release();
  }
  // Like qemu-img's actual-size: blocks the file system allocated.
  const stat = fs.statSync(argv.file);
  const actualSizeBytes = stat.blocks * 512;
  if (argv.output === 'json') {
    const json: Record<string, unknown> = {
      'virtual-size': info.virtualSizeBytes,
      filename: argv.file,
      'cluster-size': info.clusterSizeBytes,
      format: info.format,
      'actual-size': actualSizeBytes,
      'dirty-flag': info.dirty,
      'backing-filename': info.backingFile,
      'full-backing-filename':
        info.backingFile === undefined
          ? undefined
          : fullBackingFilename(argv.file, info.backingFile),
      'backing-filename-format': info.backingFormat,
      'format-specific': info.formatSpecific,
    };
    process.stdout.write(`${formatQemuJson(json)}\n`);
    return;
  }
  let out =
    `image: ${argv.file}\nfile format: ${info.format}\n` +
    `virtual size: ${formatSize(info.virtualSizeBytes)} (${info.virtualSizeBytes} bytes)\n` +
    `disk size: ${formatSize(actualSizeBytes)}\n`;
  if (info.clusterSizeBytes !== undefined) out += `cluster_size: ${info.clusterSizeBytes}\n`;
  if (info.dirty) out += 'cleanly shut down: no\n';
  if (info.backingFile !== undefined) out += `backing file: ${info.backingFile}\n`;
  if (info.backingFormat !== undefined) out += `backing file format: ${info.backingFormat}\n`;
  if (info.formatSpecific !== undefined) {
    out += 'Format specific information:\n';
    for (const [k, v] of Object.entries(info.formatSpecific)) out += `    ${k}: ${String(v)}\n`;
  }
  process.stdout.write(out);
}

/** QEMU's path_combine: a relative backing name is relative to the overlay's directory as given. */
export function fullBackingFilename(overlay: string, backing: string): string {
  if (backing.startsWith('/')) return backing;
  const slash = overlay.lastIndexOf('/');
  return `${overlay.slice(0, slash + 1)}${backing}`;
}
