import { afterEach, describe, expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { writePathShortcuts } from '../src/formats/qcow2/write-path.ts';
import type { ImageFormat } from '../src/formats/types.ts';
import { Rng } from '../src/util/rng.ts';
import { expectSameDeviceBytes, expectSameRun, loggedQcow2 } from './helpers/same-run.ts';

const TiB = 2 ** 40;
const GiB = 2 ** 30;
/** Guest bytes one 4 KiB L2 slice maps with 64 KiB clusters. */
const SLICE_SPAN = 512 * 65536;

interface Run {
  log: string[];
  nowNs: number;
  memory: MemoryDevice;
  shortcutAnswers: number;
}

/**
 * Writes of 512 B to 144 KiB at sector-aligned offsets (COW heads and tails, requests crossing
 * clusters) into clusters that are new, already allocated, ZERO (from zero writes and v3
 * discards) or shared with an internal snapshot, guest flushes in between; and requests across
 * the boundary of two L2 slices while the 32 MiB L2 cache is full, followed by enough single
 * sector writes over the whole TiB to evict them (v3 only): the slice of such a request's first COW region
 * is not the last one used, and the order the two are released in decides later victims.
 */
function run(shortcut: boolean, seed: number, compat: '0.10' | '1.1'): Run {
  writePathShortcuts.zeroCowFromCachedSlice = shortcut;
  writePathShortcuts.zeroCowAnswers = 0;
  const memory = new MemoryDevice({ dataMode: 'drop' });
  const { log, clock, open } = loggedQcow2(memory, {
    costModel: 'sata-ssd',
    createOptions: { compat },
  });
  const image = open();
  const rng = new Rng(seed);
  for (let i = 0; i < 3000; i++) {
    const roll = rng.nextInt(1000);
    const span = roll % 4 === 0 ? TiB : 4 * GiB;
    const sectors = 1 + rng.nextInt(288);
    const offset = Math.min(rng.nextInt(span / 512) * 512, TiB - sectors * 512);
    if (i === 1500) {
      image.snapshots?.create('s1', { dateSec: 1, dateNsec: 0 });
    } else if (roll < 40) {
      image.writeZeroes(offset, sectors * 512, { mayUnmap: roll < 20 });
    } else if (roll < 70) {
      image.discard(offset, sectors * 512);
    } else if (roll < 80) {
      image.flush();
    } else {
      image.write(offset, new Uint8Array(sectors * 512).fill(1 + (i % 255)));
    }
  }
  if (compat === '1.1') crossFullCache(image, rng);
  image.close();
  return {
    log,
    nowNs: clock.nowNs(),
    memory,
    shortcutAnswers: writePathShortcuts.zeroCowAnswers,
  };
}

/** Fills the cache (8,192 slices of 32 MiB of guest space each), crosses slice boundaries, evicts. */
function crossFullCache(image: ImageFormat, rng: Rng): void {
  const sector = new Uint8Array(512).fill(7);
  const scatter = (n: number) => {
    for (let i = 0; i < n; i++) image.write(rng.nextInt(TiB / 512) * 512, sector);
  };
  scatter(9000);
  for (let i = 0; i < 600; i++) {
    const boundary = (1 + rng.nextInt(TiB / SLICE_SPAN - 1)) * SLICE_SPAN;
    const sectors = 2 + rng.nextInt(250);
    const before = 1 + rng.nextInt(sectors - 1);
    image.write(boundary - before * 512, new Uint8Array(sectors * 512).fill(3));
  }
  scatter(9000);
}

afterEach(() => {
  writePathShortcuts.zeroCowFromCachedSlice = true;
});

describe('qcow2 zero-COW check answered from the cached L2 slice', () => {
  for (const compat of ['1.1', '0.10'] as const) {
    it(`issues the same host I/O, takes the same time and leaves the same bytes (compat ${compat})`, () => {
      const fast = run(true, 11, compat);
      const full = run(false, 11, compat);
      expectSameRun(fast, full);
      expectSameDeviceBytes(fast.memory, full.memory);
      // The shortcut did answer most COW checks, and the full path answered all of them.
      expect(fast.shortcutAnswers).toBeGreaterThan(2000);
      expect(full.shortcutAnswers).toBe(0);
    });
  }
});
