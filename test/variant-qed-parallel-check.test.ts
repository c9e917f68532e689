import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { createCostModel } from '../src/device/cost-models.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { IO_KIND_INDEX } from '../src/device/types.ts';
import { qedDriver } from '../src/formats/qed/qed-format.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import {
  crashedImages,
  exploreVariant,
  labCheck,
  qemuCheckCounts,
} from './helpers/variant-crash.ts';

/** An image with writes spread over 64 L2 tables (4 KiB clusters, 1-cluster tables: 2 MiB each). */
function spreadImage(): MemoryDevice {
  const mem = new MemoryDevice();
  qedDriver.create({
    device: new MeteredDevice(mem),
    sizeBytes: 512 * 1024 ** 2,
    options: { cluster_size: '4k', table_size: '1' },
  });
  const clock = new SimClock();
  const image = qedDriver.open({
    device: new MeteredDevice(mem, { clock }),
    readOnly: false,
    forCheck: false,
    clock,
  });
  // Shuffled, so the tables lie in the file out of L1 order (an elevator has work to do).
  for (let t = 0; t < 64; t++) {
    const table = (t * 37) % 64;
    image.write(table * 4 * 1024 ** 2, new Uint8Array(4096).fill(t + 1));
  }
  image.close();
  return mem;
}

function timedCheck(mem: MemoryDevice, model: string, variant: string) {
  const clock = new SimClock();
  const device = new MeteredDevice(mem, { clock, costModel: createCostModel(model) });
  const image = qedDriver.open({
    device,
    readOnly: true,
    forCheck: true,
    clock,
    ...(variant === 'qemu' ? {} : { variant }),
  });
  const start = clock.nowNs();
  const result = image.check?.('none');
  return { result, ns: clock.nowNs() - start, l2Reads: device.counters.readOps[IO_KIND_INDEX.l2] };
}

/** QED `parallel-check=<n>`: the check reads L2 tables with n in flight (cost model batchCostNs). */
describe('QED parallel-check variant', () => {
  it('finds exactly what the sequential check finds, reading each table once, in less simulated time', () => {
    const mem = spreadImage();
    for (const model of ['hdd', 'nvme']) {
      const sequential = timedCheck(mem, model, 'qemu');
      const parallel = timedCheck(mem, model, 'parallel-check=16');
      expect(parallel.result).toEqual(sequential.result);
      expect(parallel.l2Reads).toBe(64);
      expect(sequential.l2Reads).toBe(64);
      expect(parallel.ns).toBeLessThan(sequential.ns);
    }
    // One in flight is the sequential check's cost.
    const one = timedCheck(mem, 'nvme', 'parallel-check=1');
    expect(one.ns).toBe(timedCheck(mem, 'nvme', 'qemu').ns);
  });

  it('power cuts at random points: reopen finds no corruption and flushed data reads back', () => {
    const result = exploreVariant('qed', 'parallel-check=8', 'mixed', { states: 50 });
    expect(result.statesExplored).toBeGreaterThanOrEqual(40);
    expect(result.violations).toBe(0);
  });
});

describeWithQemu('QED parallel-check variant vs qemu-img check', () => {
  it('qemu-img check agrees with the lab on images cut at random points', () => {
    for (const device of crashedImages('qed', 'parallel-check=8', 'random', 3, 5)) {
      const bytes = device.toBytes();
      const lab = labCheck('qed', 'parallel-check=8', device);
      expect(qemuCheckCounts('qed', bytes)).toEqual({
        corruptions: lab.corruptions,
        leaks: lab.leaks,
        checkErrors: lab.checkErrors,
      });
    }
  });
});
