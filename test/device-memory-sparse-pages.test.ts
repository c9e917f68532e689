import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { type PatchedWrite, writePatched, zeroBytes } from '../src/device/types.ts';
import { Rng } from '../src/util/rng.ts';
import { expectBytesEqual } from './helpers/bytes.ts';

const PAGE = 4096;
const SPAN_PAGES = 12;
const SPAN_BYTES = SPAN_PAGES * PAGE;

function entry(rng: Rng): Uint8Array {
  const bytes = new Uint8Array(8);
  for (let i = 0; i < 8; i++) bytes[i] = rng.nextInt(4) === 0 ? 0 : 1 + rng.nextInt(255);
  return bytes;
}

/** A buffer of mostly zeros with a few non-zero entries: a table region as QEMU writes it. */
function tableBytes(rng: Rng, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  const entries = rng.nextInt(12);
  for (let i = 0; i < entries; i++) {
    const at = rng.nextInt(Math.max(1, length - 8));
    bytes.set(entry(rng).subarray(0, Math.min(8, length - at)), at);
  }
  return bytes;
}

/** What readInto gives for `length` bytes at `offset`, into a buffer at byte offset `shift`. */
function readShifted(device: MemoryDevice, offset: number, length: number, shift: number) {
  const backing = new Uint8Array(length + shift + 3).fill(0xee);
  const out = backing.subarray(shift, shift + length);
  device.readInto(offset, out);
  return out;
}

/**
 * Table-entry writes piling up in a few pages (each page grows block by block, chunk by chunk,
 * then past half a page into a full page), table-shaped multi-block writes, zero writes and
 * ranges, patched writes, truncates, reads short and long, aligned and not (long aligned ones
 * copy words), whole-page reads (which make a sparse page full) and readU64 at block edges.
 */
function randomOp(rng: Rng, devices: MemoryDevice[]): void {
  const choice = rng.nextInt(100);
  const page = rng.nextInt(SPAN_PAGES);
  const entryOffset = page * PAGE + rng.nextInt(PAGE / 8) * 8;
  const offset = page * PAGE + rng.nextInt(PAGE);
  const [first, ...others] = devices as [MemoryDevice, ...MemoryDevice[]];
  if (choice < 40) {
    const bytes = entry(rng);
    for (const d of devices) d.write(entryOffset, bytes, 'l2');
  } else if (choice < 50) {
    const bytes = tableBytes(rng, 1 + rng.nextInt(rng.nextInt(3) === 0 ? 6000 : 700));
    for (const d of devices) d.write(offset, bytes, 'l2');
  } else if (choice < 54) {
    const bytes = zeroBytes(1 + rng.nextInt(2000));
    for (const d of devices) d.write(offset, bytes, 'zero-fill');
  } else if (choice < 60) {
    const length = 1 + rng.nextInt(rng.nextInt(4) === 0 ? 9000 : 300);
    for (const d of devices) d.zeroRange(offset, length, 'zero-fill');
  } else if (choice < 70) {
    const write: PatchedWrite = {
      base: rng.nextInt(4) === 0 ? 'zero' : 'unchanged',
      patches: [{ atBytes: rng.nextInt(PAGE / 8) * 8, bytes: entry(rng) }],
    };
    for (const d of devices) writePatched(d, page * PAGE, PAGE, write, 'l2');
  } else if (choice < 72) {
    const size = rng.nextInt(SPAN_BYTES);
    for (const d of devices) d.truncate(size);
  } else if (choice < 85) {
    const length = rng.nextInt(rng.nextInt(2) === 0 ? 9000 : 64);
    const at = rng.nextInt(2) === 0 ? offset & ~3 : offset;
    const shift = rng.nextInt(2) === 0 ? 0 : 1 + rng.nextInt(3);
    const expected = readShifted(first, at, length, shift);
    for (const d of others) expectBytesEqual(readShifted(d, at, length, shift), expected);
  } else if (choice < 88) {
    // A whole-page read: a sparse page becomes full, with the same bytes.
    const expected = first.read(page * PAGE, PAGE, 'l2');
    for (const d of others) expectBytesEqual(d.read(page * PAGE, PAGE, 'l2'), expected);
  } else {
    const edge = page * PAGE + rng.nextInt(PAGE / 16 + 1) * 16;
    for (let d = -8; d <= 8; d++) {
      const at = Math.max(0, edge + d);
      const expected = first.readU64(at);
      for (const other of others) expect(other.readU64(at)).toBe(expected);
    }
  }
}

describe('MemoryDevice sparse pages (a page stored as the blocks holding its non-zero bytes)', () => {
  it('read back what a device of full pages holds, through growth, clears, clones and reads', () => {
    const rng = new Rng(2024);
    const options = [
      { compactBytes: 0 },
      {},
      { compactBytes: 16 },
      { compactBytes: 64 },
      { pageBytes: 1024, compactBytes: 32 },
    ];
    let devices = options.map((o) => new MemoryDevice(o));
    const clones: MemoryDevice[][] = [];
    for (let i = 0; i < 12000; i++) {
      randomOp(rng, devices);
      if (i % 1000 === 999) {
        // The old devices live on too: a clone shares headers and chunks until either side writes.
        clones.push(devices);
        devices = devices.map((d) => d.clone());
      }
      if (i % 37 === 0 && clones.length > 0) {
        randomOp(rng, clones[rng.nextInt(clones.length)] as MemoryDevice[]);
      }
    }
    for (const set of [devices, ...clones]) {
      const [plain, ...others] = set as [MemoryDevice, ...MemoryDevice[]];
      const bytes = plain.toBytes();
      for (const d of others) {
        expect(d.size()).toBe(plain.size());
        // Every entry offset and every 4-byte offset (straddling blocks and pages), one expect.
        const mismatches: number[] = [];
        for (let at = 0; at + 8 <= bytes.length; at += 4) {
          if (d.readU64(at) !== plain.readU64(at)) mismatches.push(at);
        }
        expect(mismatches).toEqual([]);
        expectBytesEqual(d.toBytes(), bytes);
      }
    }
  });

  it('a page with a few entries costs a fraction of a page; one filling up becomes full', () => {
    const rng = new Rng(5);
    const device = new MemoryDevice();
    const plain = new MemoryDevice({ compactBytes: 0 });
    // Three entries in each of 100 pages (QED's L2 pages after 100,000 random writes in a TiB).
    for (let page = 0; page < 100; page++) {
      for (let i = 0; i < 3; i++) {
        const at = page * PAGE + i * 1360 + rng.nextInt(100) * 8;
        const bytes = entry(rng);
        bytes[0] = 1;
        device.write(at, bytes, 'l2');
        plain.write(at, bytes, 'l2');
      }
    }
    expect(device.storedPages()).toBe(100);
    expect(device.storedBytes()).toBeLessThanOrEqual(100 * 512);
    for (let at = 0; at < 100 * PAGE; at += 8) expect(device.readU64(at)).toBe(plain.readU64(at));
    // One page taking an entry in every block grows past half a page: a full page.
    for (let block = 0; block < PAGE / 32; block++)
      device.write(block * 32, Uint8Array.of(1), 'l2');
    expect(device.storedBytes()).toBeGreaterThanOrEqual(99 * 300 + PAGE);
    expect(device.storedBytes()).toBeLessThanOrEqual(99 * 512 + PAGE);
    expect(device.readU64(31 * 32)).toBe(1);
  });

  it('a clone and its original each keep their own entries in a shared sparse page', () => {
    const original = new MemoryDevice();
    for (let i = 0; i < 10; i++) original.write(i * 200, Uint8Array.of(i + 1), 'l2');
    const clone = original.clone();
    clone.write(5 * 200, Uint8Array.of(99), 'l2');
    clone.write(3000, Uint8Array.of(77), 'l2');
    original.write(7 * 200, Uint8Array.of(55), 'l2');
    expect(original.readU64(5 * 200)).toBe(6);
    expect(original.readU64(3000)).toBe(0);
    expect(original.readU64(7 * 200)).toBe(55);
    expect(clone.readU64(5 * 200)).toBe(99);
    expect(clone.readU64(3000)).toBe(77);
    expect(clone.readU64(7 * 200)).toBe(8);
    clone.zeroRange(0, 1000, 'zero-fill');
    expect(clone.readU64(0)).toBe(0);
    expect(original.readU64(0)).toBe(1);
  });
});
