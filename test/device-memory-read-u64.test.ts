import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { Rng } from '../src/util/rng.ts';

/** What readInto reads at `offsetBytes`, decoded as a little-endian u64 (two u32 halves). */
function viaReadInto(device: MemoryDevice, offsetBytes: number): number {
  const out = new Uint8Array(8);
  device.readInto(offsetBytes, out);
  const view = new DataView(out.buffer);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  return hi === 0 ? lo : hi * 4294967296 + lo;
}

describe('MemoryDevice.readU64', () => {
  it('reads what readInto reads over empty, compact and full pages and across their edges', () => {
    const rng = new Rng(7);
    const device = new MemoryDevice({ pageBytes: 4096, compactBytes: 64 });
    // Compact pages (one small write each), full pages, and values with high halves set.
    const written: number[] = [];
    for (let page = 0; page < 32; page++) {
      const at = page * 4096 + rng.nextInt(4096 - 16);
      const bytes = new Uint8Array(1 + rng.nextInt(12));
      for (let i = 0; i < bytes.length; i++) bytes[i] = 1 + rng.nextInt(255);
      device.write(at, bytes);
      written.push(at);
      if (page % 3 === 0) device.write(page * 4096 + rng.nextInt(4096 - 8), bytes.subarray(0, 1));
    }
    const offsets: number[] = [];
    for (let i = 0; i < 4000; i++) offsets.push(rng.nextInt(33 * 4096));
    // Page and 64-byte block edges, where an entry straddles two homes.
    for (let page = 0; page < 33; page++) {
      for (let d = -8; d <= 8; d++) offsets.push(Math.max(0, page * 4096 + d));
      for (let b = 1; b < 64; b++)
        for (const d of [-7, -4, -1, 0]) offsets.push(page * 4096 + b * 64 + d);
    }
    for (const at of written) for (let d = -7; d < 13; d++) offsets.push(Math.max(0, at + d));
    let nonZero = 0;
    for (const offset of offsets) {
      const expected = viaReadInto(device, offset);
      if (expected !== 0) nonZero++;
      expect(device.readU64(offset)).toBe(expected);
    }
    expect(nonZero).toBeGreaterThan(300);
  });

  it('reads table entries past 2^32 exactly, with compact pages turned off as well', () => {
    for (const compactBytes of [0, 64]) {
      const device = new MemoryDevice({ compactBytes });
      const value = 2 ** 45 + 2 ** 33 + 65536;
      const bytes = new Uint8Array(8);
      new DataView(bytes.buffer).setBigUint64(0, BigInt(value), true);
      device.write(2 ** 41 + 8 * 100, bytes);
      expect(device.readU64(2 ** 41 + 8 * 100)).toBe(value);
      expect(device.readU64(2 ** 41 + 8 * 101)).toBe(0);
      expect(device.readU64(2 ** 41 + 8 * 100 + 4)).toBe(
        viaReadInto(device, 2 ** 41 + 8 * 100 + 4),
      );
    }
  });

  it('reads the next page bytes of an entry that leaves a compact page away from its block', () => {
    const device = new MemoryDevice();
    // Page 0 compact with its block at the start; page 1 starts with a non-zero byte.
    device.write(10, new Uint8Array([1]));
    device.write(4096, new Uint8Array([0x20, 0x30]));
    for (let at = 4089; at < 4096; at++) {
      expect(device.readU64(at)).toBe(viaReadInto(device, at));
      expect(device.readU64(at)).not.toBe(0);
    }
  });
});
