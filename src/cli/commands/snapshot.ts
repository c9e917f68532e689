import type { ArgumentsCamelCase, Argv } from 'yargs';
import type { SnapshotInfo } from '../../formats/types.ts';
import { UsageError } from '../../util/errors.ts';
import { formatSize } from '../../util/size.ts';
import { withImageFile } from '../image-args.ts';
import { openImageFile } from '../image-file.ts';
import { COMMAND_INFO } from './command-info.ts';

export const { command, describe } = COMMAND_INFO.snapshot;

export function builder(yargs: Argv) {
  return withImageFile(yargs)
    .option('l', { type: 'boolean', describe: 'list all snapshots' })
    .option('c', { type: 'string', describe: 'create a snapshot with this name' })
    .option('a', { type: 'string', describe: 'revert to a snapshot (id or name)' })
    .option('d', { type: 'string', describe: 'delete a snapshot (id or name)' });
}

type Args = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>['argv']>>;

/** bdrv_snapshot_dump's columns. */
export function snapshotListText(snapshots: readonly SnapshotInfo[]): string {
  if (snapshots.length === 0) return '';
  const pad = (s: string, n: number, left: boolean) => (left ? s.padEnd(n) : s.padStart(n));
  let out = 'Snapshot list:\n';
  out += `${pad('ID', 10, true)}${pad('TAG', 17, true)}${pad('VM SIZE', 8, false)}${pad('DATE', 20, false)}${pad('VM CLOCK', 13, false)}${pad('ICOUNT', 11, false)}\n`;
  for (const sn of snapshots) {
    const date = new Date(sn.dateSec * 1000).toISOString().slice(0, 19).replace('T', ' ');
    const secs = Math.floor(sn.vmClockNs / 1e9);
    const clock = `${String(Math.floor(secs / 3600)).padStart(2, '0')}:${String(Math.floor(secs / 60) % 60).padStart(2, '0')}:${String(secs % 60).padStart(2, '0')}.${String(Math.floor(sn.vmClockNs / 1e6) % 1000).padStart(3, '0')}`;
    const size = sn.vmStateSizeBytes === 0 ? '0 B' : formatSize(sn.vmStateSizeBytes);
    out += `${pad(sn.id, 9, true)} ${pad(sn.name, 16, true)} ${pad(size, 8, false)}${pad(date, 20, false)}${pad(clock, 13, false)}${pad('0', 11, false)}\n`;
  }
  return out;
}

/**
 * qemu-img snapshot: one action per call. Freed clusters are hole-punched (qemu-img snapshot -d
 * does so too). The date of a new snapshot is the wall clock, as in qemu-img (simulations pass
 * simulated time through the library API instead).
 */
export function handler(argv: Args): void {
  const actions = [argv.l, argv.c, argv.a, argv.d].filter((x) => x !== undefined && x !== false);
  if (actions.length !== 1)
    throw new UsageError('snapshot: give exactly one of -l, -c NAME, -a NAME, -d NAME');
  const readOnly = argv.l === true;
  const opened = openImageFile(argv.file, { format: argv.f, readOnly });
  try {
    const image = opened.image;
    const snapshots = image.snapshots;
    if (!snapshots)
      throw new UsageError(`Format '${image.formatName}' does not support internal snapshots`);
    if (argv.l) {
      process.stdout.write(snapshotListText(snapshots.list()));
    } else if (argv.c !== undefined) {
      const nowMs = Date.now();
      snapshots.create(argv.c, {
        dateSec: Math.floor(nowMs / 1000),
        dateNsec: (nowMs % 1000) * 1e6,
      });
    } else if (argv.a !== undefined) {
      snapshots.revert(argv.a);
    } else if (argv.d !== undefined) {
      snapshots.delete(argv.d);
    }
    image.close();
  } finally {
    opened.release();
  }
}
