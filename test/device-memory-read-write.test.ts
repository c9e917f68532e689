import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { zeroBytes } from '../src/device/types.ts';
import { expectBytesEqual } from './helpers/bytes.ts';

function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff || 1;
  return out;
}

describe('MemoryDevice reads, writes and size', () => {
  it('reads back what was written, across page boundaries', () => {
    const device = new MemoryDevice();
    const data = pattern(10_000, 5);
    device.write(4000, data, 'data');
    expectBytesEqual(device.read(4000, 10_000, 'data'), data);
    expectBytesEqual(device.read(4100, 50, 'data'), data.subarray(100, 150));
  });

  it('reads unwritten ranges, and ranges past the end, as zeros', () => {
    const device = new MemoryDevice();
    expect(device.read(0, 8192, 'data').every((b) => b === 0)).toBe(true);
    device.write(100, new Uint8Array([1, 2, 3]), 'header');
    const out = device.read(98, 8, 'header');
    expect([...out]).toEqual([0, 0, 1, 2, 3, 0, 0, 0]);
    expect(device.read(1 << 30, 16, 'data').every((b) => b === 0)).toBe(true);
  });

  it('a write past the end extends the size; a write inside does not', () => {
    const device = new MemoryDevice();
    expect(device.size()).toBe(0);
    device.write(65536, new Uint8Array(512).fill(1), 'l2');
    expect(device.size()).toBe(65536 + 512);
    device.write(0, new Uint8Array(512).fill(1), 'header');
    expect(device.size()).toBe(65536 + 512);
  });

  it('an all-zero write extends the size but stores nothing, and frees a page it overwrites', () => {
    const device = new MemoryDevice();
    device.write(0, new Uint8Array(8192), 'data');
    expect(device.size()).toBe(8192);
    expect(device.storedBytes()).toBe(0);
    device.write(4096, new Uint8Array(4096).fill(7), 'data');
    expect(device.storedBytes()).toBe(4096);
    device.write(4096, zeroBytes(4096), 'zero-fill');
    expect(device.storedBytes()).toBe(0);
    expect(device.read(4096, 4096, 'data').every((b) => b === 0)).toBe(true);
  });

  it('read returns a plain Uint8Array over its own ArrayBuffer, zeros where nothing was written', () => {
    const device = new MemoryDevice();
    device.write(8192, new Uint8Array(4096).fill(0xff), 'l2');
    // Churn allocations so recycled (dirty) memory would show through if any byte were skipped.
    for (let i = 0; i < 200; i++) device.read(8192, 4096, 'l2');
    const out = device.read(0, 3 * 4096, 'l2');
    expect(Object.getPrototypeOf(out)).toBe(Uint8Array.prototype);
    expect(out.byteOffset).toBe(0);
    expect(out.buffer.byteLength).toBe(3 * 4096);
    expect(out.subarray(0, 8192).every((b) => b === 0)).toBe(true);
    expect(out.subarray(8192).every((b) => b === 0xff)).toBe(true);
  });

  it('readInto fills a caller buffer, zeroing what was never written', () => {
    const device = new MemoryDevice();
    device.write(10, new Uint8Array([5]), 'l1');
    const out = new Uint8Array(20).fill(0xff);
    device.readInto(0, out);
    expect([...out]).toEqual([...new Uint8Array(10), 5, ...new Uint8Array(9)]);
  });

  it('fromBytes and toBytes round-trip an image', () => {
    const bytes = pattern(12_345, 9);
    const device = MemoryDevice.fromBytes(bytes);
    expect(device.size()).toBe(12_345);
    expectBytesEqual(device.toBytes(), bytes);
  });

  it('rejects a page size that is not a power of two', () => {
    expect(() => new MemoryDevice({ pageBytes: 3000 })).toThrow(/power of two/);
  });
});
