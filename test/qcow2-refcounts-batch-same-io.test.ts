import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import type { IoRecord } from '../src/device/types.ts';
import { qcow2Driver } from '../src/formats/qcow2/qcow2-format.ts';
import type { Qcow2Image } from '../src/formats/qcow2/qcow2-image.ts';

const KiB = 1024;

/**
 * An image of 512-byte clusters holding data in about 2,000 clusters: with 16-bit refcounts (256
 * clusters per refblock) nine refblocks, more than the refblock cache's four slots, so reading
 * the refcounts in order evicts and re-reads.
 */
function imageBytes(options: Record<string, string>): Uint8Array {
  const memory = new MemoryDevice();
  qcow2Driver.create({ device: memory, sizeBytes: 64 * 2 ** 20, options });
  const image = qcow2Driver.open({
    device: memory,
    readOnly: false,
    forCheck: false,
    clock: new SimClock(),
  });
  const block = new Uint8Array(4 * KiB).fill(0x5a);
  for (let i = 0; i < 250; i++) image.write(((i * 37) % 1000) * 16 * KiB, block);
  // Some clusters freed again: refcounts of 0 between used ones.
  for (let i = 0; i < 40; i++) image.discard?.(((i * 91) % 1000) * 16 * KiB, 16 * KiB);
  image.close();
  return memory.toBytes();
}

function openLogged(bytes: Uint8Array): { image: Qcow2Image; log: IoRecord[] } {
  const log: IoRecord[] = [];
  const clock = new SimClock();
  const device = new MeteredDevice(MemoryDevice.fromBytes(bytes.slice()), {
    clock,
    log: (r) => log.push(r),
  });
  const image = qcow2Driver.open({ device, readOnly: true, forCheck: true, clock }) as Qcow2Image;
  log.length = 0;
  return { image, log };
}

/** Runs of clusters read one at a time and as batches (some splitting refblocks, some past them). */
const RUNS: Array<[first: number, count: number]> = [
  [0, 3000],
  [100, 1],
  [255, 2],
  [700, 513],
  [2500, 1000],
  [0, 40],
];

/**
 * check's comparison reads the refcounts a batch at a time (getRefcounts), not one getRefcount
 * per cluster: the same values, the same refblock reads in the same order (the cache misses and
 * evicts alike), and the same error for a refblock that is not cluster aligned.
 */
describe('qcow2 refcounts read in batches: same values and I/O as one at a time', () => {
  it.each([
    ['16-bit refcounts', { cluster_size: '512' }, 5],
    ['8-bit refcounts', { cluster_size: '512', refcount_bits: '8' }, 5],
    ['64-bit refcounts', { cluster_size: '512', refcount_bits: '64' }, 5],
    ['1-bit refcounts (one refblock)', { cluster_size: '512', refcount_bits: '1' }, 1],
  ])('%s', (_name, options, refblocks) => {
    const bytes = imageBytes(options);
    const single = openLogged(bytes);
    const batched = openLogged(bytes);
    const r1 = single.image.s.refcounts;
    const r2 = batched.image.s.refcounts;
    expect(r1.reftable.filter((offset) => offset !== 0).length).toBeGreaterThanOrEqual(refblocks);
    let used = 0;
    for (const [first, count] of RUNS) {
      const one = Array.from({ length: count }, (_, k) => r1.getRefcount(first + k));
      const out = new Float64Array(count);
      r2.getRefcounts(first, out);
      expect(Array.from(out)).toEqual(one);
      used += one.filter((n) => n > 0).length;
    }
    expect(used).toBeGreaterThan(200);
    expect(batched.log).toEqual(single.log);
    expect(batched.log.filter((r) => r.op === 'read').length).toBeGreaterThanOrEqual(refblocks);
  });

  it('an unaligned refblock offset fails the same way', () => {
    const bytes = imageBytes({ cluster_size: '512' });
    const single = openLogged(bytes);
    const batched = openLogged(bytes);
    for (const r of [single.image.s.refcounts, batched.image.s.refcounts]) {
      r.reftable[2] = (r.reftable[2] as number) + 8;
    }
    const r1 = single.image.s.refcounts;
    let error: unknown;
    try {
      for (let i = 0; i < 1000; i++) r1.getRefcount(i);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    expect(() => batched.image.s.refcounts.getRefcounts(0, new Float64Array(1000))).toThrow(
      (error as Error).message,
    );
    expect(batched.log).toEqual(single.log);
  });
});
