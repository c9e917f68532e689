import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir, runLabCli } from './helpers/qemu-compare.ts';

/**
 * iotest 116: damaged QED headers are refused at open, with QEMU 7.2's message (checked against
 * qemu-io on the same file) and a non-zero exit.
 */
const CASES: Array<{ name: string; damage: (file: string) => void; message: string }> = [
  {
    name: 'truncated header cluster',
    damage: (f) => fs.truncateSync(f, 512),
    message: 'QED table offset is invalid',
  },
  {
    name: 'invalid header magic',
    damage: (f) => poke(f, 0, Buffer.from('QEDX')),
    message: 'Image not in QED format',
  },
  {
    name: 'invalid cluster size',
    damage: (f) => poke(f, 4, Buffer.from([0xff, 0xff, 0xff, 0xff])),
    message: 'QED cluster size is invalid',
  },
  {
    name: 'invalid table size',
    damage: (f) => poke(f, 8, Buffer.from([0xff, 0xff, 0xff, 0xff])),
    message: 'QED table size is invalid',
  },
  // header_size·cs passes the L1 offset, so the table-offset check fires first (as in QEMU).
  {
    name: 'invalid header size',
    damage: (f) => poke(f, 12, Buffer.from([0xff, 0xff, 0xff, 0xff])),
    message: 'QED table offset is invalid',
  },
  {
    name: 'invalid L1 table offset',
    damage: (f) => poke(f, 40, Buffer.alloc(8, 0xff)),
    message: 'QED table offset is invalid',
  },
  {
    name: 'invalid image size',
    damage: (f) => poke(f, 48, Buffer.alloc(8, 0xff)),
    message: 'QED image size is invalid',
  },
  {
    name: 'unknown feature bit',
    damage: (f) => poke(f, 16, Buffer.from([0x18])),
    message: 'Unsupported QED features: 18',
  },
  {
    name: 'image size not a multiple of 512',
    damage: (f) => poke(f, 48, Buffer.from([0x01, 0x02])),
    message: 'QED image size is invalid',
  },
  {
    name: 'backing file name outside the header cluster',
    damage: (f) => {
      poke(f, 16, Buffer.from([0x01]));
      poke(f, 56, Buffer.from([0x00, 0x00, 0x01, 0x00, 0x10, 0x00, 0x00, 0x00]));
    },
    message: 'QED backing filename offset is invalid',
  },
];

function poke(file: string, offset: number, bytes: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, bytes, 0, bytes.length, offset);
  fs.closeSync(fd);
}

describeWithQemu('QED open failures (iotest 116)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const dir = makeTempDir();
      const file = path.join(dir, 't.qed');
      expect(spawnSync('qemu-img', ['create', '-q', '-f', 'qed', file, '128M']).status).toBe(0);
      c.damage(file);
      const before = fs.readFileSync(file);
      const lab = runLabCli(['io', '-f', 'qed', '-c', 'read 0 128M', file]);
      expect(lab.status).not.toBe(0);
      expect(lab.stderr).toBe(`qedlab: can't open device ${file}: ${c.message}\n`);
      expect(fs.readFileSync(file).equals(before)).toBe(true);
      const qemu = spawnSync('qemu-io', ['-f', 'qed', '-c', 'read 0 128M', file], {
        encoding: 'utf8',
      });
      expect(qemu.status).not.toBe(0);
      expect(qemu.stderr).toBe(`qemu-io: can't open device ${file}: ${c.message}\n`);
    });
  }
});
