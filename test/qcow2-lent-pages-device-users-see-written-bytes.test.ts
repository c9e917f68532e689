import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { entryOffset } from '../src/formats/qcow2/l2-entry.ts';
import { type LentPages, stopLendingL2CachePages } from '../src/formats/qcow2/lent-pages.ts';
import type { Qcow2Image } from '../src/formats/qcow2/qcow2-image.ts';
import { Rng } from '../src/util/rng.ts';
import { expectSameRun, loggedQcow2 } from './helpers/same-run.ts';

const WRITES = 100_000;
/** Guest bytes one 4 KiB L2 slice maps (512 clusters of 64 KiB), and how many slices are used. */
const SLICE_SPAN_BYTES = 512 * 65536;
const SLICES = 16384;

function digest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

interface Run {
  /** Host I/O of the images, and what the device's other users saw, in order. */
  log: string[];
  nowNs: number;
  memory: MemoryDevice;
  lentAtEnd: boolean;
  slices: number[];
  /** Of the image open at the end (lent-pages.ts counters). */
  borrows: number;
  reclaims: number;
}

/** The header cluster, L1 and refcount structures (first 256 KiB) and the slices given. */
function fingerprint(device: MemoryDevice, slices: readonly number[]): string {
  const hash = createHash('sha256').update(device.read(0, 2 ** 18));
  for (const slice of new Set(slices)) hash.update(device.read(slice, 4096));
  return hash.digest('hex');
}

/**
 * Writable qcow2 images on a MeteredDevice over a MemoryDevice keep their L2 cache in the device's
 * pages. Here the device has other users while an image is open, none of them going through the
 * image: reads of the device (whole L2 slices that are dirty in the cache among them), clones
 * taken mid-run (a crash explorer's snapshot) and read later, and an image abandoned without a
 * close (a simulated power cut) whose device is opened again. Each must see what QEMU's file
 * would hold, which the same run with lending turned off shows.
 */
function run(lend: boolean, seed: number): Run {
  const memory = new MemoryDevice({ dataMode: 'drop' });
  const logged = loggedQcow2(memory, { costModel: 'nvme' });
  const { log, clock } = logged;
  const open = (): Qcow2Image => {
    const image = logged.open();
    if (!lend) stopLendingL2CachePages(image);
    return image as Qcow2Image;
  };
  let image = open();
  const rng = new Rng(seed);
  const clones: MemoryDevice[] = [];
  const slices: number[] = [];
  for (let i = 0; i < WRITES; i++) {
    // Twice as many slices as the cache holds: slices are evicted, read again and lent.
    const at = rng.nextInt(SLICES) * SLICE_SPAN_BYTES + rng.nextInt(SLICE_SPAN_BYTES / 4096) * 4096;
    image.write(at, new Uint8Array(4096).fill(1 + (i % 250)));
    const s = image.s;
    const cluster = Math.floor(at / s.clusterSize);
    const l2Offset = entryOffset(s.l1, Math.floor(cluster / s.l2Size));
    slices.push(l2Offset + 8 * ((cluster % s.l2Size) - (cluster % s.l2SliceSize)));
    if (i % 500 !== 499) continue;
    const event = (i - 499) / 500;
    // Another user reads slices the image changed lately (dirty in its cache), from the device.
    for (let k = 0; k < 4; k++) {
      const slice = slices[slices.length - 1 - rng.nextInt(64)] as number;
      log.push(`device ${slice} ${digest(memory.read(slice, 4096))}`);
      log.push(`u64 ${slice} ${memory.readU64(slice + 8 * rng.nextInt(512))}`);
    }
    if (event === 10 || event === 100 || event === 180) clones.push(memory.clone());
    if (event === 70 || event === 150) {
      // Power cut: the image is dropped without a close and the device opened again.
      image = open();
      log.push('reopened');
    }
    if (event % 7 === 5) image.flush();
  }
  for (const [n, clone] of clones.entries()) {
    log.push(`clone ${n} ${fingerprint(clone, slices.slice(-256))}`);
  }
  const lent = image.s.file.lent as LentPages | null;
  image.close();
  return {
    log,
    nowNs: clock.nowNs(),
    memory,
    lentAtEnd: lent !== null,
    slices,
    borrows: lent?.borrows ?? 0,
    reclaims: lent?.reclaims ?? 0,
  };
}

describe('qcow2 L2 cache kept in the memory device’s pages, seen by the device’s other users', () => {
  it('reads, clones and a reopen after a power cut see the bytes QEMU’s file would hold', () => {
    const lent = run(true, 11);
    const copied = run(false, 11);
    expect(lent.lentAtEnd).toBe(true);
    expect(lent.borrows).toBeGreaterThan(WRITES / 50);
    expect(lent.reclaims).toBeGreaterThan(20);
    expect(copied.lentAtEnd).toBe(false);
    expectSameRun(lent, copied);
    expect(lent.memory.size()).toBe(copied.memory.size());
    expect(fingerprint(lent.memory, lent.slices)).toBe(fingerprint(copied.memory, copied.slices));
  });
});
