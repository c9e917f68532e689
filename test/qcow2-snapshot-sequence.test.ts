import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { labOpen } from './helpers/qcow2-lab.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import {
  firstIoDifference,
  type HostIoOp,
  makeTempDir,
  parseStraceForFile,
} from './helpers/qemu-compare.ts';

function straceQemuImg(args: string[], image: string): HostIoOp[] {
  const trace = `${image}.strace`;
  const r = spawnSync(
    'strace',
    [
      '-f',
      '-s',
      '0',
      '-o',
      trace,
      '-e',
      'trace=openat,close,pwrite64,pwritev,pwritev2,fdatasync,fsync,fallocate,ftruncate',
      'qemu-img',
      ...args,
      path.basename(image),
    ],
    { cwd: path.dirname(image) },
  );
  expect(r.status).toBe(0);
  return parseStraceForFile(fs.readFileSync(trace, 'utf8'), path.basename(image));
}

describeWithQemu('qcow2: snapshot create/delete host I/O equals qemu-img snapshot', () => {
  for (const action of ['-c', '-d'] as const) {
    it(`snapshot ${action}`, () => {
      const dir = makeTempDir('qcow2-snapseq-');
      const qemu = path.join(dir, 'qemu.qcow2');
      const lab = path.join(dir, 'lab.qcow2');
      spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', qemu, '1G']);
      spawnSync('qemu-io', [
        '-f',
        'qcow2',
        '-c',
        'write -P 1 0 128k',
        '-c',
        'write -P 2 600m 64k',
        qemu,
      ]);
      spawnSync('qemu-img', ['snapshot', '-c', 'first', qemu]);
      spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 3 4k 4k', qemu]);
      fs.copyFileSync(qemu, lab);
      const qemuOps = straceQemuImg(
        ['snapshot', action, action === '-c' ? 'second' : 'first'],
        qemu,
      );
      const session = labOpen(lab);
      if (action === '-c') session.image.snapshots.create('second', { dateSec: 0, dateNsec: 0 });
      else session.image.snapshots.delete('first');
      session.close();
      const labOps: HostIoOp[] = session.log.flatMap((r): HostIoOp[] =>
        r.op === 'read'
          ? []
          : r.op === 'flush'
            ? [{ op: 'flush' }]
            : r.op === 'truncate'
              ? [{ op: 'truncate', size: r.size }]
              : [{ op: r.op, offset: r.offset, length: r.length }],
      );
      expect(firstIoDifference(qemuOps, labOps)?.context).toBeUndefined();
    });
  }
});
