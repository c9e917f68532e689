import { describe, expect, it } from 'vitest';
import type { MemoryDevice } from '../src/device/memory-device.ts';
import { readU64 } from '../src/formats/qcow2/u64.ts';
import { BudgetDevice } from '../src/fuzz/budget-device.ts';
import { LabError } from '../src/util/errors.ts';
import { headerFields, openMemory, putU64, smallQcow2 } from './helpers/qcow2-malformed.ts';

const COPIED = 0x80000000;
const TIB_HI = 0x100; // 2^40 as the high word of a u64

/** L1 entry 0 and the L2 entry of guest cluster 0 of the small image. */
function locate(memory: MemoryDevice) {
  const l1Entry = headerFields(memory).l1TableOffset;
  const l2Offset = readU64(memory.read(l1Entry, 8), 0) % 2 ** 56;
  return { l1Entry, l2Entry: l2Offset };
}

/** Writes guest cluster 0 (or another) on a budgeted device; returns the error (or undefined). */
function writeCluster0(memory: MemoryDevice, guestOffset = 0): unknown {
  const budget = new BudgetDevice(memory);
  try {
    const image = openMemory(budget, { readOnly: false, forCheck: false });
    image.write(guestOffset, new Uint8Array(4096).fill(9));
    image.close();
  } catch (error) {
    return error;
  }
  return undefined;
}

// A table entry far past EOF (a flipped high bit): QEMU follows it, growing a sparse file to
// wherever it points (a terabyte). The lab stops with a one-line error before writing there.
describe('qcow2: writes never follow an entry far past EOF', () => {
  it('an in-place L2 table (L1 entry with COPIED) 1 TiB away', () => {
    const memory = smallQcow2();
    putU64(memory, locate(memory).l1Entry, COPIED | TIB_HI, 0x4000);
    const error = writeCluster0(memory);
    expect(error).toBeInstanceOf(LabError);
    expect((error as LabError).message).toMatch(
      /^qcow2: Marking image as corrupt: L2 table offset/,
    );
    expect(memory.size()).toBeLessThan(1024 * 1024);
  });

  it('an in-place data cluster (L2 entry with COPIED) 1 TiB away', () => {
    const memory = smallQcow2();
    putU64(memory, locate(memory).l2Entry, COPIED | TIB_HI, 0x5000);
    const error = writeCluster0(memory);
    expect(error).toBeInstanceOf(LabError);
    expect((error as LabError).message).toMatch(/Data cluster offset 0x10000005000 lies far past/);
    expect(memory.size()).toBeLessThan(1024 * 1024);
  });

  it('a shared L2 table (no COPIED) 1 TiB away: its refcount cannot drop, nothing is allocated there', () => {
    const memory = smallQcow2();
    putU64(memory, locate(memory).l1Entry, TIB_HI, 0x4000);
    const error = writeCluster0(memory);
    expect(error).toBeInstanceOf(LabError);
    expect((error as LabError).message).not.toContain('\n');
    expect(memory.size()).toBeLessThan(1024 * 1024);
  });

  it('the active L1 table (l1_table_offset) 1 TiB away: no L1 entry is written there', () => {
    const memory = smallQcow2();
    putU64(memory, 40, TIB_HI, 0);
    const error = writeCluster0(memory);
    expect(error).toBeInstanceOf(LabError);
    expect((error as LabError).message).toMatch(/Active L1 table offset 0x10000000000 lies far/);
    expect(memory.size()).toBeLessThan(1024 * 1024);
  });

  it('the refcount table (refcount_table_offset) 1 TiB away: no reftable entry is written there', () => {
    const memory = smallQcow2();
    putU64(memory, 48, TIB_HI, 0);
    const error = writeCluster0(memory, 256 * 1024); // unallocated: needs a new cluster
    expect(error).toBeInstanceOf(LabError);
    expect((error as LabError).message).toMatch(/table lies past the end of the file/);
    expect(memory.size()).toBeLessThan(1024 * 1024);
  });

  it('an entry just past EOF is still followed, as QEMU does', () => {
    const memory = smallQcow2();
    const eof = memory.size();
    const next = Math.ceil(eof / 4096) * 4096;
    putU64(memory, locate(memory).l2Entry, COPIED, next);
    expect(writeCluster0(memory)).toBeUndefined();
    expect(memory.read(next, 4)).toEqual(new Uint8Array([9, 9, 9, 9]));
  });
});
