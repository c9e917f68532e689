import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { qcow2Driver } from '../src/formats/qcow2/qcow2-format.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import {
  crashedImages,
  exploreVariant,
  labCheck,
  qemuCheckCounts,
} from './helpers/variant-crash.ts';

const VARIANT = 'lazy-refcounts';

/** qcow2 `lazy-refcounts`: the create option as a variant; QEMU's on-disk format. */
describe('qcow2 lazy-refcounts variant', () => {
  it('creates an image with the lazy_refcounts compat bit', () => {
    const mem = new MemoryDevice();
    qcow2Driver.create({
      device: new MeteredDevice(mem),
      sizeBytes: 1024 ** 3,
      options: {},
      variant: VARIANT,
    });
    const clock = new SimClock();
    const image = qcow2Driver.open({
      device: new MeteredDevice(mem, { clock }),
      readOnly: true,
      forCheck: false,
      clock,
    });
    const data = (image.info().formatSpecific as { data: Record<string, unknown> }).data;
    expect(data['lazy-refcounts']).toBe(true);
  });

  it('power cuts at random points: reopen (repairing) finds no corruption and flushed data reads back', () => {
    for (const workload of ['mixed', 'discard-churn']) {
      const result = exploreVariant('qcow2', VARIANT, workload, { states: 50 });
      expect(result.statesExplored).toBeGreaterThanOrEqual(40);
      expect(result.violations).toBe(0);
    }
  });
});

describeWithQemu('qcow2 lazy-refcounts variant vs qemu-img check', () => {
  it('qemu-img check agrees with the lab on images cut at random points (dirty ones included)', () => {
    const images = crashedImages('qcow2', VARIANT, 'random', 9, 6);
    for (const device of images) {
      const bytes = device.toBytes();
      const lab = labCheck('qcow2', VARIANT, device);
      expect(qemuCheckCounts('qcow2', bytes)).toEqual({
        corruptions: lab.corruptions,
        leaks: lab.leaks,
        checkErrors: lab.checkErrors,
      });
    }
  });
});
