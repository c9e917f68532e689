import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { qedDriver } from '../src/formats/qed/qed-format.ts';
import { exploreVariant } from './helpers/variant-crash.ts';

/** QED `cluster_size=<size>` and `table_size=<n>`: create options as variant (sweep) axes. */
describe('QED geometry variant axes', () => {
  it('create with the variant gives the geometry it names; the suite options still apply', () => {
    const mem = new MemoryDevice();
    qedDriver.create({
      device: new MeteredDevice(mem),
      sizeBytes: 1024 ** 3,
      options: { table_size: '2' },
      variant: 'cluster_size=16k',
    });
    const clock = new SimClock();
    const image = qedDriver.open({
      device: new MeteredDevice(mem, { clock }),
      readOnly: true,
      forCheck: false,
      clock,
    });
    expect(image.info().clusterSizeBytes).toBe(16384);
    // Header bytes 8..11: table_size in clusters.
    expect(new DataView(mem.read(0, 64, 'header').buffer).getUint32(8, true)).toBe(2);
  });

  it('power cuts at random points under small clusters and one-cluster tables: no violation', () => {
    for (const variant of ['cluster_size=4k', 'table_size=1']) {
      const result = exploreVariant('qed', variant, 'mixed', { states: 40 });
      expect(result.statesExplored).toBeGreaterThanOrEqual(30);
      expect(result.violations).toBe(0);
    }
  });
});
