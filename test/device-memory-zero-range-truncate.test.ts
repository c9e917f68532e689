import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';

function filled(length: number, value: number): Uint8Array {
  return new Uint8Array(length).fill(value);
}

describe('MemoryDevice zeroRange and truncate', () => {
  it('zeroRange zeroes a partial-page range and keeps the rest of the page', () => {
    const device = new MemoryDevice();
    device.write(0, filled(8192, 0xee), 'l2');
    device.zeroRange(100, 5000, 'zero-fill');
    const out = device.read(0, 8192, 'l2');
    expect(out[99]).toBe(0xee);
    expect(out.subarray(100, 5100).every((b) => b === 0)).toBe(true);
    expect(out[5100]).toBe(0xee);
    expect(device.storedBytes()).toBe(8192);
  });

  it('zeroRange over whole pages frees them', () => {
    const device = new MemoryDevice();
    device.write(0, filled(4 * 4096, 1), 'l2');
    device.zeroRange(4096, 2 * 4096, 'zero-fill');
    expect(device.storedBytes()).toBe(2 * 4096);
  });

  it('zeroRange past the end extends the size, like fallocate(ZERO_RANGE)', () => {
    const device = new MemoryDevice();
    device.write(0, filled(100, 1), 'header');
    device.zeroRange(50, 1 << 20, 'zero-fill');
    expect(device.size()).toBe(50 + (1 << 20));
    expect(
      device
        .read(0, 100, 'header')
        .subarray(50)
        .every((b) => b === 0),
    ).toBe(true);
    expect(device.read(0, 50, 'header').every((b) => b === 1)).toBe(true);
  });

  it('truncate shrinks: bytes past the new end are gone, and growing again reads zeros', () => {
    const device = new MemoryDevice();
    device.write(0, filled(3 * 4096, 9), 'data');
    device.truncate(4096 + 10);
    expect(device.size()).toBe(4096 + 10);
    expect(device.storedBytes()).toBe(2 * 4096);
    device.truncate(3 * 4096);
    const out = device.read(0, 3 * 4096, 'data');
    expect(out.subarray(0, 4106).every((b) => b === 9)).toBe(true);
    expect(out.subarray(4106).every((b) => b === 0)).toBe(true);
  });

  it('truncate grows without storing anything', () => {
    const device = new MemoryDevice();
    device.truncate(2 ** 40);
    expect(device.size()).toBe(2 ** 40);
    expect(device.storedBytes()).toBe(0);
  });
});
