import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { FileDevice } from '../src/device/file-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { qcow2Driver } from '../src/formats/qcow2/qcow2-format.ts';
import { parseStraceReadsForFile } from '../src/validate/strace.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir } from './helpers/qemu-compare.ts';

interface Read {
  offset: number;
  length: number;
}

function qemuOpenReads(file: string): Read[] {
  const trace = `${file}.strace`;
  spawnSync('strace', [
    '-f',
    '-s',
    '0',
    '-o',
    trace,
    '-e',
    'trace=openat,close,pread64',
    'qemu-io',
    '-r',
    '-f',
    'qcow2',
    '-c',
    'quit',
    file,
  ]);
  return parseStraceReadsForFile(fs.readFileSync(trace, 'utf8'), path.basename(file));
}

function labOpenReads(file: string): Read[] {
  const inner = FileDevice.open(file, { readOnly: true });
  const reads: Read[] = [];
  try {
    const clock = new SimClock();
    const device = new MeteredDevice(inner, {
      clock,
      log: (r) => {
        if (r.op === 'read') reads.push({ offset: r.offset, length: r.length });
      },
    });
    qcow2Driver.open({ device, readOnly: true, forCheck: false, clock }).close();
  } finally {
    inner.close();
  }
  return reads;
}

const CASES: Array<{ name: string; make: (dir: string) => string }> = [
  {
    name: 'v3, 1 TiB, 64 KiB clusters (header, L1, reftable, feature table head, end marker)',
    make: (dir) => qemuImg(dir, 'a.qcow2', ['-o', 'cluster_size=64k'], '1T'),
  },
  {
    name: 'v2 (compat=0.10): 72-byte header, the extension walk starts at 72',
    make: (dir) => qemuImg(dir, 'v2.qcow2', ['-o', 'compat=0.10'], '1G'),
  },
  {
    name: 'overlay: backing format extension data and the backing file name',
    make: (dir) => {
      qemuImg(dir, 'base.qcow2', [], '64M');
      return qemuImg(dir, 'top.qcow2', ['-b', 'base.qcow2', '-F', 'qcow2'], '64M');
    },
  },
  {
    name: 'two internal snapshots: per entry its header, extra data, ID and name, one read each',
    make: (dir) => {
      const file = qemuImg(dir, 's.qcow2', [], '1G');
      spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 7 0 64k', file]);
      spawnSync('qemu-img', ['snapshot', '-c', 'first', file]);
      spawnSync('qemu-img', ['snapshot', '-c', 'second-one', file]);
      return file;
    },
  },
  {
    name: 'v2 image with a snapshot',
    make: (dir) => {
      const file = qemuImg(dir, 'v2s.qcow2', ['-o', 'compat=0.10'], '1G');
      spawnSync('qemu-img', ['snapshot', '-c', 'a', file]);
      return file;
    },
  },
  {
    name: '2 MiB clusters: of cluster 0, only the few hundred bytes QEMU asks for',
    make: (dir) => qemuImg(dir, 'big.qcow2', ['-o', 'cluster_size=2M'], '16T'),
  },
];

function qemuImg(dir: string, name: string, args: string[], size: string): string {
  const file = path.join(dir, name);
  spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', ...args, file, size], { cwd: dir });
  return file;
}

describeWithQemu('qcow2 open reads what QEMU 7.2 reads (pread offsets and lengths)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const file = c.make(makeTempDir('qcow2-open-reads-'));
      const qemu = qemuOpenReads(file);
      // The backing file of an overlay is opened on its own descriptor; only the image's count.
      expect(qemu.length).toBeGreaterThan(2);
      expect(labOpenReads(file)).toEqual(qemu);
    });
  }
});
