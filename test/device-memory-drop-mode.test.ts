import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';

describe("MemoryDevice dataMode 'drop' keeps metadata, not guest data", () => {
  it('data and zero-fill writes extend the size, store nothing and read as zeros', () => {
    const device = new MemoryDevice({ dataMode: 'drop' });
    device.write(1 << 20, new Uint8Array(65536).fill(0x55), 'data');
    device.write(3 << 20, new Uint8Array(4096).fill(0x66), 'zero-fill');
    expect(device.size()).toBe((3 << 20) + 4096);
    expect(device.storedBytes()).toBe(0);
    expect(device.read(1 << 20, 65536, 'data').every((b) => b === 0)).toBe(true);
  });

  it('metadata kinds are stored and read back', () => {
    const device = new MemoryDevice({ dataMode: 'drop' });
    for (const kind of ['header', 'l1', 'l2', 'refblock', 'reftable'] as const) {
      device.write(0, new Uint8Array([1, 2, 3]), kind);
      expect([...device.read(0, 3, kind)]).toEqual([1, 2, 3]);
    }
    // Three bytes in one 32-byte block: a compact page.
    expect(device.storedBytes()).toBe(32);
  });

  it('a data write over former metadata leaves zeros, not stale table bytes', () => {
    const device = new MemoryDevice({ dataMode: 'drop' });
    device.write(0, new Uint8Array(8192).fill(7), 'l2');
    device.write(0, new Uint8Array(4096).fill(1), 'data');
    expect(device.read(0, 4096, 'data').every((b) => b === 0)).toBe(true);
    expect(device.read(4096, 1, 'l2')[0]).toBe(7);
  });

  it('a clone keeps the mode', () => {
    expect(new MemoryDevice({ dataMode: 'drop' }).clone().dataMode).toBe('drop');
  });
});
