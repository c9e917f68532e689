import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BudgetDevice } from '../src/fuzz/budget-device.ts';
import { LabError } from '../src/util/errors.ts';
import { headerFields, openMemory, putU64, smallQcow2 } from './helpers/qcow2-malformed.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir, qemuImgCheckJson } from './helpers/qemu-compare.ts';

/** The small image with reftable entry 0 (the refblock covering the header) moved to hi:lo. */
function imageWithRefblockAt(hi: number, lo: number) {
  const memory = smallQcow2();
  putU64(memory, headerFields(memory).refcountTableOffset, hi, lo);
  return memory;
}

const CASES: Array<[string, number, number]> = [
  ['2^63 (past INT64_MAX)', 0x80000000, 0x2000],
  ['2^62', 0x40000000, 0x2000],
  ['1 TiB (a filesystem may allow it; the lab does not)', 0x100, 0x2000],
];

// A refcount-table entry pointing far past EOF: `check -r all` would grow the file to the
// refblock (QEMU tries; the filesystem refuses past 16 TiB, INT64_MAX is EINVAL), so the repair
// falls back to rebuilding the refcount structure, and a write refuses to touch that refblock.
describe('qcow2: refcount block far past EOF', () => {
  for (const [name, hi, lo] of CASES) {
    it(`${name}: the repair rebuilds instead of growing the file`, () => {
      const memory = imageWithRefblockAt(hi, lo);
      const sizeBefore = memory.size();
      const budget = new BudgetDevice(memory);
      const image = openMemory(budget, { readOnly: false, forCheck: true });
      const result = image.check('all');
      expect(result.messages).toContain('Rebuilding refcount structure');
      expect(result.messages.some((m) => m.startsWith('ERROR could not resize image: '))).toBe(
        true,
      );
      expect(result.corruptions).toBe(0);
      expect(result.corruptionsFixed).toBeGreaterThan(0);
      image.close();
      expect(memory.size()).toBeLessThan(sizeBefore + 64 * 1024);
      const again = openMemory(memory, { readOnly: true, forCheck: true }).check('none');
      expect(again.corruptions + again.leaks + again.checkErrors).toBe(0);
    });

    it(`${name}: a write refuses to update that refblock`, () => {
      const memory = imageWithRefblockAt(hi, lo);
      const image = openMemory(new BudgetDevice(memory), { readOnly: false, forCheck: false });
      let error: unknown;
      try {
        image.write(256 * 1024, new Uint8Array(4096).fill(3));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(LabError);
      expect((error as LabError).message).toMatch(/past the end of the file/);
    });
  }
});

describeWithQemu('qcow2: refcount block far past EOF, against qemu-img', () => {
  it('2^62: the lab repairs as qemu-img check -r all does, and QEMU finds the result clean', () => {
    const dir = makeTempDir('qcow2-refblock-eof-');
    const memory = imageWithRefblockAt(0x40000000, 0x2000);
    const qemuFile = path.join(dir, 'qemu.qcow2');
    fs.writeFileSync(qemuFile, memory.toBytes());
    const qemu = qemuImgCheckJson(qemuFile, 'qcow2', 'all');
    expect(qemu.stderr).toMatch(/could not resize image: File too large/);
    const result = openMemory(memory, { readOnly: false, forCheck: true }).check('all');
    expect(result.corruptionsFixed).toBe(qemu.json['corruptions-fixed']);
    const labFile = path.join(dir, 'lab.qcow2');
    fs.writeFileSync(labFile, memory.toBytes());
    expect(qemuImgCheckJson(labFile, 'qcow2').status).toBe(0);
    expect(fs.statSync(labFile).size).toBe(fs.statSync(qemuFile).size);
  });
});
