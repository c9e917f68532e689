import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { qcow2Driver } from '../src/formats/qcow2/qcow2-format.ts';
import { parseQcow2Variant } from '../src/formats/qcow2/variants.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import {
  crashedImages,
  exploreVariant,
  labCheck,
  qemuCheckCounts,
} from './helpers/variant-crash.ts';

/** qcow2 `refcount-bits=<1..64>` (2 is the thread's suggestion); QEMU's on-disk format. */
describe('qcow2 refcount-bits variant', () => {
  it('sets the refcount width and refuses widths that are not powers of two up to 64', () => {
    for (const bits of [1, 2, 8, 64]) {
      const mem = new MemoryDevice();
      qcow2Driver.create({
        device: new MeteredDevice(mem),
        sizeBytes: 1024 ** 3,
        options: {},
        variant: `refcount-bits=${bits}`,
      });
      const clock = new SimClock();
      const image = qcow2Driver.open({
        device: new MeteredDevice(mem, { clock }),
        readOnly: true,
        forCheck: false,
        clock,
      });
      const data = (image.info().formatSpecific as { data: Record<string, unknown> }).data;
      expect(data['refcount-bits']).toBe(bits);
    }
    expect(() => parseQcow2Variant('refcount-bits=3')).toThrow(/power of two/);
    expect(() => parseQcow2Variant('refcount-bits=128')).toThrow(/power of two/);
  });

  it('power cuts at random points with 2-bit refcounts: no corruption, flushed data reads back', () => {
    for (const workload of ['mixed', 'discard-churn']) {
      const result = exploreVariant('qcow2', 'refcount-bits=2', workload, { states: 50 });
      expect(result.statesExplored).toBeGreaterThanOrEqual(40);
      expect(result.violations).toBe(0);
    }
  });
});

describeWithQemu('qcow2 refcount-bits variant vs qemu-img check', () => {
  it('qemu-img check agrees with the lab on 2-bit and 64-bit images cut at random points', () => {
    for (const variant of ['refcount-bits=2', 'refcount-bits=64']) {
      for (const device of crashedImages('qcow2', variant, 'mixed', 4, 4)) {
        const bytes = device.toBytes();
        const lab = labCheck('qcow2', variant, device);
        expect(qemuCheckCounts('qcow2', bytes)).toEqual({
          corruptions: lab.corruptions,
          leaks: lab.leaks,
          checkErrors: lab.checkErrors,
        });
      }
    }
  });
});
