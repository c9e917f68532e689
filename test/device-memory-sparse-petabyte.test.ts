import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { Rng } from '../src/util/rng.ts';

const PiB = 2 ** 50;
const KiB4 = 4096;

describe('a 1 PiB memory device holds memory proportional to the data written', () => {
  it('20,000 scattered 4 KiB writes over 1 PiB store exactly the pages written', () => {
    const device = new MemoryDevice();
    const rng = new Rng(42);
    const offsets = new Set<number>();
    const before = process.memoryUsage().arrayBuffers;
    const block = new Uint8Array(KiB4).fill(0xa5);
    for (let i = 0; i < 20_000; i++) {
      const offset = rng.nextInt(PiB / KiB4) * KiB4;
      offsets.add(offset);
      block[0] = i & 0xff;
      block[1] = 1;
      device.write(offset, block, 'l2');
    }
    device.truncate(PiB);
    const writtenBytes = offsets.size * KiB4;
    expect(device.size()).toBe(PiB);
    expect(device.storedBytes()).toBe(writtenBytes);
    // Process-level check: ArrayBuffer memory grew by about the data (slabs), not by the span.
    const grownBytes = process.memoryUsage().arrayBuffers - before;
    expect(grownBytes).toBeLessThan(2 * writtenBytes + 16 * 2 ** 20);
    // Every written page reads back; a page next to it reads as zeros.
    const last = [...offsets].pop() as number;
    expect(device.read(last, 2, 'l2')[1]).toBe(1);
    expect(device.read(last + KiB4, KiB4, 'l2').every((b) => b === 0)).toBe(true);
  });

  it('a write at the last 4 KiB below 1 PiB and at offset 0 costs a page and a compact block', () => {
    const device = new MemoryDevice();
    device.write(PiB - KiB4, new Uint8Array(KiB4).fill(1), 'l1');
    device.write(0, new Uint8Array([9]), 'header');
    expect(device.size()).toBe(PiB);
    expect(device.storedPages()).toBe(2);
    expect(device.storedBytes()).toBe(KiB4 + 32);
    expect(device.read(PiB - 1, 1, 'l1')[0]).toBe(1);
    expect(device.read(0, 1, 'header')[0]).toBe(9);
  });

  it('zeroing everything frees every page', () => {
    const device = new MemoryDevice();
    const rng = new Rng(7);
    for (let i = 0; i < 1000; i++)
      device.write(rng.nextInt(PiB / KiB4) * KiB4, new Uint8Array(KiB4).fill(3), 'l2');
    expect(device.storedPages()).toBe(1000);
    device.zeroRange(0, PiB, 'zero-fill');
    expect(device.storedBytes()).toBe(0);
    expect(device.size()).toBe(PiB);
  });
});
