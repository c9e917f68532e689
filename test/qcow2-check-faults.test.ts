import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { labOpen } from './helpers/qcow2-lab.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir, qemuImgCheckJson, runLabCli } from './helpers/qemu-compare.ts';

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

function withoutName(json: Record<string, unknown>): Record<string, unknown> {
  const { filename: _filename, ...rest } = json;
  return rest;
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
  // L2[1] (data cluster 6, COPIED) pointing 512 bytes into its cluster
  'data cluster not aligned': (f) => patch(f, L2 + 8, [0x80, 0, 0, 0, 0, 0x06, 0x02, 0x00]),
  // L2[1] a preallocated zero cluster (offset and bit 0) 512 bytes into cluster 6
  'preallocated zero cluster not aligned': (f) =>
    patch(f, L2 + 8, [0x80, 0, 0, 0, 0, 0x06, 0x02, 0x01]),
};

/** Corruptions neither qemu-img nor the lab can repair. */
const UNREPAIRABLE = new Set(['L2 entry past EOF', 'data cluster not aligned']);

describeWithQemu('qcow2: check agrees with qemu-img check on injected faults', () => {
  for (const [name, inject] of Object.entries(FAULTS)) {
    it(name, () => {
      const dir = makeTempDir('qcow2-fault-');
      const file = baseImage(dir);
      inject(file);
      const qemuCopy = path.join(dir, 'qemu-repaired.qcow2');
      fs.copyFileSync(file, qemuCopy);
      const qemu = qemuImgCheckJson(file, 'qcow2');
      const lab = runLabCli(['check', '--output', 'json', '-f', 'qcow2', file]);
      expect(lab.status).toBe(qemu.status);
      expect(withoutName(JSON.parse(lab.stdout))).toEqual(withoutName(qemu.json));
      expect(Number(qemu.json.corruptions ?? 0) + Number(qemu.json.leaks ?? 0)).toBeGreaterThan(0);
      // The engine's own counters are what the CLI printed.
      const opened = labOpen(file, { forCheck: true, readOnly: true });
      const result = opened.image.check?.('none');
      opened.abort();
      expect(result?.corruptions).toBe(qemu.json.corruptions ?? 0);
      expect(result?.leaks).toBe(qemu.json.leaks ?? 0);
      expect(result?.allocatedClusters).toBe(qemu.json['allocated-clusters']);

      // -r all: the same report as qemu-img's own repair, and QEMU then finds the lab's image as
      // clean as its own (or, for UNREPAIRABLE, as broken).
      const qemuRepair = qemuImgCheckJson(qemuCopy, 'qcow2', 'all');
      const labRepair = runLabCli(['check', '-r', 'all', '--output', 'json', '-f', 'qcow2', file]);
      expect(labRepair.status).toBe(qemuRepair.status);
      expect(withoutName(JSON.parse(labRepair.stdout))).toEqual(withoutName(qemuRepair.json));
      const after = qemuImgCheckJson(file, 'qcow2');
      expect(withoutName(after.json)).toEqual(
        withoutName(qemuImgCheckJson(qemuCopy, 'qcow2').json),
      );
      expect(after.json.leaks ?? 0).toBe(0);
      if (!UNREPAIRABLE.has(name)) expect(after.status, JSON.stringify(after.json)).toBe(0);
    });
  }
});
