import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';

describe('MemoryDevice through many clones', () => {
  it('120 clones of one device, each followed by writes of every page kind, keep their bytes', () => {
    // Crash exploration clones one working image per state and writes on: every clone makes both
    // sides start new slabs, and each slab takes code space, so clones are what runs out first.
    const device = new MemoryDevice();
    const clones: MemoryDevice[] = [];
    for (let i = 0; i < 120; i++) {
      clones.push(device.clone());
      const page = i * 4096;
      device.write(page + 8, Uint8Array.of(i + 1), 'l2'); // a compact block
      device.write(page + 4096 * 1000 + 8, Uint8Array.of(i + 1), 'l2');
      device.write(page + 4096 * 1000 + 2000, Uint8Array.of(i + 2), 'l2'); // a sparse page
      device.write(page + 4096 * 2000, new Uint8Array(4096).fill(i + 3), 'l2'); // a full page
    }
    for (let i = 0; i < 120; i++) {
      const page = i * 4096;
      expect(device.readU64(page + 8)).toBe(i + 1);
      expect(device.readU64(page + 4096 * 1000 + 2000)).toBe(i + 2);
      expect(device.read(page + 4096 * 2000 + 4095, 1, 'l2')[0]).toBe(i + 3);
      // Clone i was taken before write i: it holds writes 0..i-1 only.
      const clone = clones[i] as MemoryDevice;
      expect(clone.readU64(page + 8)).toBe(0);
      if (i > 0) expect(clone.readU64(page - 4096 + 4096 * 1000 + 2000)).toBe(i + 1);
    }
  });
});
