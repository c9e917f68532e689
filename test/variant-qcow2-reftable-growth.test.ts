import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { createCostModel } from '../src/device/cost-models.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { qcow2Driver } from '../src/formats/qcow2/qcow2-format.ts';
import type { Qcow2Image } from '../src/formats/qcow2/qcow2-image.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import { crashedImages, cutAndVerify, labCheck, qemuCheckCounts } from './helpers/variant-crash.ts';

// 512-byte clusters: a one-cluster refcount table (64 refblocks of 256 refcounts) covers 8 MiB of
// file, so a few thousand 4 KiB writes grow it several times.
const SMALL = { cluster_size: '512' };
const SIZE = 1024 ** 3;

function fill(variant: string, writes: number): { image: Qcow2Image; clock: SimClock } {
  const mem = new MemoryDevice();
  const v = variant === 'qemu' ? {} : { variant };
  qcow2Driver.create({ device: new MeteredDevice(mem), sizeBytes: SIZE, options: SMALL, ...v });
  const clock = new SimClock();
  const device = new MeteredDevice(mem, { clock, costModel: createCostModel('hdd') });
  const image = qcow2Driver.open({
    device,
    readOnly: false,
    forCheck: false,
    clock,
    ...v,
  }) as Qcow2Image;
  for (let i = 0; i < writes; i++) image.write(i * 4096, new Uint8Array(4096).fill(1));
  image.flush();
  return { image, clock };
}

/** qcow2 `reftable-growth=1.5x|double|prealloc|background`. */
describe('qcow2 reftable-growth variant', () => {
  it('double grows the table to twice the refblocks it needs, 1.5x (QEMU) to one and a half', () => {
    const qemu = fill('qemu', 3000).image.s.refcounts;
    const double = fill('reftable-growth=double', 3000).image.s.refcounts;
    expect(double.reftableSize).toBeGreaterThan(qemu.reftableSize);
    expect(qemu.reftableSize).toBeGreaterThan(64);
  });

  it('prealloc sizes the table for the whole virtual disk at create: it never moves afterwards', () => {
    const { image } = fill('reftable-growth=prealloc', 3000);
    const r = image.s.refcounts;
    // 1 GiB of 512-byte clusters plus their L2 tables need > 8192 refblocks of 256 entries.
    expect(r.reftableSize).toBeGreaterThanOrEqual(8192);
    const before = r.reftableOffset;
    for (let i = 3000; i < 6000; i++) image.write(i * 4096, new Uint8Array(4096).fill(2));
    expect(r.reftableOffset).toBe(before);
    expect(image.check('none')).toMatchObject({ corruptions: 0, leaks: 0 });
  });

  it('background takes the growth off the request path: a smaller worst stall than 1.5x', () => {
    const worst = (variant: string): number => {
      const mem = new MemoryDevice();
      const v = variant === 'qemu' ? {} : { variant };
      qcow2Driver.create({ device: new MeteredDevice(mem), sizeBytes: SIZE, options: SMALL, ...v });
      const clock = new SimClock();
      const device = new MeteredDevice(mem, { clock, costModel: createCostModel('hdd') });
      const image = qcow2Driver.open({ device, readOnly: false, forCheck: false, clock, ...v });
      let maxNs = 0;
      for (let i = 0; i < 6000; i++) {
        const t = clock.nowNs();
        image.write(i * 4096, new Uint8Array(4096).fill(1));
        maxNs = Math.max(maxNs, clock.nowNs() - t);
      }
      return maxNs;
    };
    expect(worst('reftable-growth=background')).toBeLessThan(worst('qemu'));
  });

  it('background: an allocation that needs the new table before its growth completes waits, and the wait is reported', () => {
    const mem = new MemoryDevice();
    const variant = 'reftable-growth=background';
    qcow2Driver.create({
      device: new MeteredDevice(mem),
      sizeBytes: SIZE,
      options: SMALL,
      variant,
    });
    const clock = new SimClock();
    const device = new MeteredDevice(mem, { clock, costModel: createCostModel('hdd') });
    const image = qcow2Driver.open({ device, readOnly: false, forCheck: false, clock, variant });
    const q = image as Qcow2Image;
    const r = q.s.refcounts;
    const background = q.variant?.background;
    if (!background) throw new Error('background growth not attached');
    const coveredBytes = r.reftableSize * r.refblockEntries * 512;
    // An allocation at 80% of what the table covers starts the growth (at the current time)...
    background.afterAlloc(Math.floor(coveredBytes * 0.8), 512);
    expect(background.growths).toBe(1);
    // ...and one that needs refblocks past the old table right away waits for it to finish.
    const before = clock.nowNs();
    r.allocClusters(coveredBytes);
    expect(background.waits).toBe(1);
    expect(clock.nowNs() - before).toBeGreaterThanOrEqual(background.waitNs);
    const info = image.info().formatSpecific as Record<string, number>;
    expect(info['reftable-background-growths']).toBeGreaterThan(0);
    expect(info['reftable-growth-waits']).toBeGreaterThan(0);
    expect(info['reftable-growth-wait-ns']).toBeGreaterThan(0);
    // The clusters taken straight from the allocator are referenced by nothing: leaks, no more.
    expect(q.check('none')).toMatchObject({ corruptions: 0, checkErrors: 0 });
  });

  it('power cuts at random points through table growths: no corruption, flushed data reads back', () => {
    for (const variant of [
      'reftable-growth=double',
      'reftable-growth=background',
      'reftable-growth=prealloc',
    ]) {
      const verdict = cutAndVerify({
        format: 'qcow2',
        variant,
        createOptions: SMALL,
        sizeBytes: 256 * 1024 ** 2,
        writes: 2500,
        flushEvery: 16,
        cuts: 6,
        seed: 11,
      });
      expect(verdict.cuts).toBe(6);
      expect(verdict.failures).toEqual([]);
    }
  });
});

describeWithQemu('qcow2 reftable-growth=prealloc vs qemu-img check', () => {
  it('keeps the qcow2 format: qemu-img check agrees on images cut at random points', () => {
    for (const device of crashedImages('qcow2', 'reftable-growth=prealloc', 'mixed', 5, 5)) {
      const bytes = device.toBytes();
      const lab = labCheck('qcow2', 'reftable-growth=prealloc', device);
      expect(qemuCheckCounts('qcow2', bytes)).toEqual({
        corruptions: lab.corruptions,
        leaks: lab.leaks,
        checkErrors: lab.checkErrors,
      });
    }
  });
});
