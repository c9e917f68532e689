import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { labOpen } from './helpers/qcow2-lab.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir, qemuImgCheckJson } from './helpers/qemu-compare.ts';

/**
 * Default 1 GiB image after `write 0 128k`: header 0, reftable 0x10000, refblock 0x20000,
 * L1 0x30000, L2 0x40000, data 0x50000 and 0x60000 (qemu-formats.md §2.13).
 */
function baseImage(dir: string): string {
  const file = path.join(dir, 'base.qcow2');
  spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, '1G']);
  spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 7 0 128k', file]);
  return file;
}

function patch(file: string, offset: number, bytes: number[]): void {
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Uint8Array.from(bytes), 0, bytes.length, offset);
  fs.closeSync(fd);
}

const REFBLOCK = 0x20000;
const L2 = 0x40000;

const FAULTS: Record<string, (file: string) => void> = {
  // refcount of data cluster 5 = 0 (too low: referenced but free)
  'refcount too low': (f) => patch(f, REFBLOCK + 5 * 2, [0, 0]),
  // refcount of data cluster 6 = 2 (too high: a leak, and COPIED now wrong)
  'refcount too high': (f) => patch(f, REFBLOCK + 6 * 2, [0, 2]),
  // L2[1] points one cluster past the end of the file
  'L2 entry past EOF': (f) => {
    const size = fs.statSync(f).size;
    const target = Math.ceil(size / 65536) * 65536 + 65536;
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(target) | (1n << 63n));
    patch(f, L2 + 8, [...b]);
  },
  // L2[0] without COPIED although its refcount is 1
  'wrong COPIED flag': (f) => patch(f, L2, [0x00]),
};

describeWithQemu('qcow2: check agrees with qemu-img check on injected faults', () => {
  for (const [name, inject] of Object.entries(FAULTS)) {
    it(name, () => {
      const dir = makeTempDir('qcow2-fault-');
      const file = baseImage(dir);
      inject(file);
      const qemu = qemuImgCheckJson(file, 'qcow2');
      const lab = labOpen(file, { forCheck: true, readOnly: true });
      const result = lab.image.check?.('none');
      lab.abort();
      expect(result).toBeDefined();
      expect(result?.corruptions).toBe(qemu.json.corruptions ?? 0);
      expect(result?.leaks).toBe(qemu.json.leaks ?? 0);
      expect(result?.allocatedClusters).toBe(qemu.json['allocated-clusters']);
      expect(result?.imageEndOffsetBytes).toBe(qemu.json['image-end-offset']);
      expect((result?.corruptions ?? 0) + (result?.leaks ?? 0)).toBeGreaterThan(0);

      const qemuCopy = path.join(dir, 'qemu-repaired.qcow2');
      fs.copyFileSync(file, qemuCopy);
      qemuImgCheckJson(qemuCopy, 'qcow2', 'all');
      const qemuAfter = qemuImgCheckJson(qemuCopy, 'qcow2');
      const repairing = labOpen(file, { forCheck: true });
      repairing.image.check?.('all');
      repairing.close();
      const after = qemuImgCheckJson(file, 'qcow2');
      // QEMU judges the lab's repair as it judges its own: clean, except that an L2 entry past
      // EOF is a corruption neither can repair.
      expect(after.json.corruptions ?? 0).toBe(qemuAfter.json.corruptions ?? 0);
      expect(after.json.leaks ?? 0).toBe(0);
      if (name !== 'L2 entry past EOF') expect(after.status, JSON.stringify(after.json)).toBe(0);
    });
  }
});
