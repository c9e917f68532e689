import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import type { IoRecord } from '../src/device/types.ts';
import { flushCaches } from '../src/formats/qcow2/lazy-refcounts.ts';
import { qcow2Driver } from '../src/formats/qcow2/qcow2-format.ts';
import type { Qcow2Image } from '../src/formats/qcow2/qcow2-image.ts';
import { getRefcount } from '../src/formats/qcow2/refcount-block.ts';
import { Rng } from '../src/util/rng.ts';

const KiB = 1024;
const SIZE = 64 * 2 ** 20;

/** Every cluster's refcount as the refblocks on the device say (caches flushed first). */
function refcountsOnDevice(image: Qcow2Image, device: MemoryDevice): number[] {
  const r = image.s.refcounts;
  const clusters = Math.ceil(device.size() / r.clusterSize);
  const out: number[] = [];
  for (let i = 0; i < clusters; i++) {
    const tableIndex = Math.floor(i / r.refblockEntries);
    const blockOffset = tableIndex < r.reftableSize ? (r.reftable[tableIndex] as number) : 0;
    if (blockOffset === 0) {
      out.push(0);
      continue;
    }
    const block = device.read(blockOffset, r.clusterSize, 'refblock');
    out.push(getRefcount(block, i - tableIndex * r.refblockEntries, r.refcountOrder));
  }
  return out;
}

/** qcow2_get_refcount as QEMU runs it: a cache get and put for every cluster. */
function referenceRefcount(image: Qcow2Image, cluster: number): number {
  const r = image.s.refcounts;
  const tableIndex = Math.floor(cluster / r.refblockEntries);
  const blockOffset = tableIndex < r.reftableSize ? (r.reftable[tableIndex] as number) : 0;
  if (blockOffset === 0) return 0;
  const slot = r.refblockCache.get(blockOffset);
  const value = getRefcount(
    r.refblockCache.table(slot),
    cluster - tableIndex * r.refblockEntries,
    r.refcountOrder,
  );
  r.refblockCache.put(slot);
  return value;
}

/**
 * Random writes, discards and snapshot changes (which update, allocate, evict and discard
 * refblocks), with runs of refcount reads between them, through getRefcount or through the
 * reference; returns every answer, the refblocks' own answers and the I/O log.
 */
function run(
  options: Record<string, string>,
  seed: number,
  read: (image: Qcow2Image, cluster: number) => number,
): { answers: number[]; onDevice: number[]; log: IoRecord[] } {
  const memory = new MemoryDevice();
  qcow2Driver.create({ device: memory, sizeBytes: SIZE, options });
  const log: IoRecord[] = [];
  const clock = new SimClock();
  const device = new MeteredDevice(memory, { clock, log: (record) => log.push(record) });
  const image = qcow2Driver.open({ device, readOnly: false, forCheck: false, clock }) as Qcow2Image;
  const rng = new Rng(seed);
  const data = new Uint8Array(8 * KiB).fill(0x33);
  const answers: number[] = [];
  const onDevice: number[] = [];
  let snapshots = 0;
  for (let step = 0; step < 120; step++) {
    const what = rng.nextInt(10);
    const offset = rng.nextInt(SIZE / (8 * KiB)) * 8 * KiB;
    if (what < 6) image.write(offset, data);
    else if (what < 8) image.discard(offset, 64 * KiB);
    else if (what === 8 && snapshots < 3) {
      image.snapshots?.create(`s${snapshots++}`, { dateSec: step, dateNsec: 0 });
    } else if (snapshots > 0) image.snapshots?.delete(`s${--snapshots}`);
    // Asked while the caches may hold changes not written back yet: at random, then in order.
    const clusters = Math.ceil(memory.size() / image.s.clusterSize);
    const asked: number[] = [];
    for (let k = 0; k < 100; k++) asked.push(rng.nextInt(clusters));
    for (let i = 0; i < clusters; i += 1 + rng.nextInt(3)) asked.push(i);
    for (const cluster of asked) answers.push(read(image, cluster));
    if (step % 10 === 9) {
      flushCaches(image.s);
      const expected = refcountsOnDevice(image, memory);
      for (const cluster of asked) onDevice.push(expected[cluster] as number);
    } else {
      onDevice.push(...asked.map(() => Number.NaN));
    }
  }
  return { answers, onDevice, log };
}

/**
 * getRefcount answers a run of questions about one refblock from the table the cache released
 * last, without a get and put per cluster. It must answer what a get and put per cluster
 * answers (and what the refblocks hold once written back), and leave the cache as they do: the
 * same refblock reads, write-backs and evictions in the same order.
 */
describe('qcow2 getRefcount: the answers and I/O of a cache get and put per cluster', () => {
  it.each([
    // Refblocks of 256 and 64 entries: more than the cache's four slots, read back after
    // evictions; 4-bit refcounts: a refblock of 1,024 entries, never evicted.
    ['16-bit refcounts, 512-byte clusters', { cluster_size: '512' }, 11, 20],
    ['64-bit refcounts, 512-byte clusters', { cluster_size: '512', refcount_bits: '64' }, 13, 20],
    ['4-bit refcounts, 512-byte clusters', { cluster_size: '512', refcount_bits: '4' }, 12, 0],
  ])('%s', (_name, options, seed, refblockReadsOver) => {
    const fast = run(options, seed, (image, cluster) => image.s.refcounts.getRefcount(cluster));
    const reference = run(options, seed, referenceRefcount);
    expect(fast.answers).toEqual(reference.answers);
    expect(fast.log).toEqual(reference.log);
    const checked = fast.onDevice.filter((n) => !Number.isNaN(n)).length;
    expect(checked).toBeGreaterThan(1000);
    fast.onDevice.forEach((expected, k) => {
      if (!Number.isNaN(expected)) expect(fast.answers[k]).toBe(expected);
    });
    const refblockReads = fast.log.filter((r) => r.op === 'read' && r.kind === 'refblock');
    expect(refblockReads.length).toBeGreaterThan(refblockReadsOver);
  });
});
