import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { type PatchedWrite, writePatched, zeroBytes } from '../src/device/types.ts';
import { Rng } from '../src/util/rng.ts';
import { expectBytesEqual } from './helpers/bytes.ts';

const SPAN_BYTES = 16 * 4096;

function filled(length: number, value: number): Uint8Array {
  return new Uint8Array(length).fill(value);
}

/**
 * Writes that mostly stay inside one 32-byte block of a page (a table entry),
 * some crossing into others (sparse and full pages), full-page writes, zeros, clears, patched writes and
 * clones: a compact device must read back exactly what a device of full pages holds, through
 * read and through readU64 (the QED engine's entry reads), at and across block edges.
 */
function randomOp(rng: Rng, devices: MemoryDevice[]): void {
  const choice = rng.nextInt(100);
  const page = rng.nextInt(SPAN_BYTES / 4096);
  const inPage = rng.nextInt(4096);
  const offset = page * 4096 + inPage;
  if (choice < 50) {
    const length = 1 + rng.nextInt(rng.nextInt(5) === 0 ? 1500 : 16);
    const data = new Uint8Array(length);
    if (rng.nextInt(5) !== 0) for (let i = 0; i < length; i++) data[i] = 1 + rng.nextInt(255);
    for (const d of devices) d.write(offset, data, 'l2');
  } else if (choice < 58) {
    const data = rng.nextInt(3) === 0 ? zeroBytes(4096) : filled(4096, 1 + rng.nextInt(255));
    for (const d of devices) d.write(page * 4096, data, 'l2');
  } else if (choice < 70) {
    const length = 1 + rng.nextInt(rng.nextInt(3) === 0 ? 9000 : 600);
    for (const d of devices) d.zeroRange(offset, length, 'zero-fill');
  } else if (choice < 82) {
    const at = rng.nextInt(4096 - 8);
    const write: PatchedWrite = {
      base: rng.nextInt(2) === 0 ? 'zero' : 'unchanged',
      patches: [{ atBytes: at, bytes: filled(8, 1 + rng.nextInt(255)) }],
    };
    for (const d of devices) writePatched(d, page * 4096, 4096, write, 'l2');
  } else if (choice < 86) {
    const size = rng.nextInt(SPAN_BYTES);
    for (const d of devices) d.truncate(size);
  } else if (choice < 93) {
    const length = rng.nextInt(9000);
    const [first, ...others] = devices as [MemoryDevice, ...MemoryDevice[]];
    const expected = first.read(offset, length, 'l1');
    for (const d of others) expectBytesEqual(d.read(offset, length, 'l1'), expected);
  } else {
    // Table entries the way the QED engine reads them, at and across the 32-byte block edges.
    const [first, ...others] = devices as [MemoryDevice, ...MemoryDevice[]];
    const edge = page * 4096 + rng.nextInt(129) * 32;
    for (let d = -8; d <= 8; d++) {
      const at = Math.max(0, edge + d);
      const expected = first.readU64(at);
      for (const other of others) expect(other.readU64(at)).toBe(expected);
    }
  }
}

/** readU64 at every 8-byte offset and around every block edge, against the full-page device. */
function expectSameU64s(plain: MemoryDevice, compact: MemoryDevice): void {
  for (let at = 0; at + 8 <= SPAN_BYTES; at += 8)
    expect(compact.readU64(at)).toBe(plain.readU64(at));
  for (let edge = 32; edge < SPAN_BYTES; edge += 32) {
    for (const d of [-7, -3, -1, 1, 5])
      expect(compact.readU64(edge + d)).toBe(plain.readU64(edge + d));
  }
}

describe('MemoryDevice stores a page whose non-zero bytes lie in one 32-byte block in that block', () => {
  it('reads back what a device of full pages holds, across promotions, clears and clones', () => {
    const rng = new Rng(99);
    let plain = new MemoryDevice({ compactBytes: 0 });
    let compact = new MemoryDevice();
    const clones: Array<[MemoryDevice, MemoryDevice]> = [];
    for (let i = 0; i < 6000; i++) {
      randomOp(rng, [plain, compact]);
      if (i % 500 === 499) {
        // Keep the old pair, continue on the clones: both sides copy shared pages on write.
        clones.push([plain, compact]);
        plain = plain.clone();
        compact = compact.clone();
      }
    }
    expect(compact.size()).toBe(plain.size());
    expectBytesEqual(compact.toBytes(), plain.toBytes());
    expectSameU64s(plain, compact);
    for (const [p, c] of clones) {
      expectBytesEqual(c.toBytes(), p.toBytes());
      expectSameU64s(p, c);
    }
    expect(compact.storedBytes()).toBeLessThanOrEqual(plain.storedBytes());
  });

  it('one entry in a fresh table costs a block; entries in other blocks make it sparse', () => {
    const device = new MemoryDevice();
    // A 1 MiB table written on a zero base with one 8-byte entry (a fresh QED or qcow2 L2).
    writePatched(
      device,
      1 << 20,
      1 << 20,
      { base: 'zero', patches: [{ atBytes: 5000, bytes: filled(8, 7) }] },
      'l2',
    );
    expect(device.storedPages()).toBe(1);
    expect(device.storedBytes()).toBe(32);
    // Another entry in the same block stays compact.
    device.write((1 << 20) + 5000 + 16, filled(8, 8), 'l2');
    expect(device.storedBytes()).toBe(32);
    // One in another block of the page makes it a sparse page (less than a page), bytes kept.
    device.write((1 << 20) + 4096 + 100, Uint8Array.of(9, 9, 9, 9, 9, 9, 0, 0), 'l2');
    const sparseBytes = device.storedBytes();
    expect(sparseBytes).toBeGreaterThan(64);
    expect(sparseBytes).toBeLessThan(512);
    expect(device.readU64((1 << 20) + 4096 + 100)).toBe(0x090909090909);
    // Read whole, it becomes a full page.
    const page = device.read((1 << 20) + 4096, 4096, 'l2');
    expect(device.storedBytes()).toBe(4096);
    expect(page[100]).toBe(9);
    expect(page[5000 - 4096]).toBe(7);
    expect(page[5000 - 4096 + 16]).toBe(8);
    expect(page.filter((b) => b !== 0).length).toBe(22);
    // Clearing the block's bytes frees the compact page of another table.
    device.write(3 << 20, filled(8, 1), 'l2');
    expect(device.storedBytes()).toBe(4096 + 32);
    device.zeroRange(3 << 20, 512, 'zero-fill');
    expect(device.storedBytes()).toBe(4096);
    expect(device.storedPages()).toBe(1);
  });

  it('a whole-page write holding one entry is stored compact: only non-zero bytes need a home', () => {
    const device = new MemoryDevice();
    const table = new Uint8Array(8192);
    table.set(filled(8, 5), 4096 + 2000);
    device.write(1 << 30, table, 'l2');
    expect(device.storedPages()).toBe(1);
    expect(device.storedBytes()).toBe(32);
    expectBytesEqual(device.read(1 << 30, 8192, 'l2'), table);
    // Zeros written over the rest of the page keep it compact; zeros over its whole block free it.
    device.write((1 << 30) + 4096, new Uint8Array(1000), 'l2');
    expect(device.storedBytes()).toBe(32);
    device.write((1 << 30) + 4096 + 1984, new Uint8Array(32), 'l2');
    expect(device.storedPages()).toBe(0);
  });

  it('compactBytes 0 turns compact pages off', () => {
    const device = new MemoryDevice({ pageBytes: 512, compactBytes: 0 });
    expect(device.compactBytes).toBe(0);
    device.write(100, filled(8, 1), 'l2');
    expect(device.storedBytes()).toBe(512);
    expect(() => new MemoryDevice({ compactBytes: 48 })).toThrow(/power of two/);
  });
});
