import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { IO_KIND_INDEX } from '../src/device/types.ts';
import { qedDriver } from '../src/formats/qed/qed-format.ts';
import { exploreVariant } from './helpers/variant-crash.ts';

/** QED `always-scan`: no clean flag is ever written, and every writable open scans the tables. */
describe('QED always-scan variant', () => {
  it('never writes the header while allocating, and scans all L2 tables at every writable open', () => {
    const mem = new MemoryDevice();
    qedDriver.create({
      device: new MeteredDevice(mem),
      sizeBytes: 64 * 1024 ** 3,
      options: {},
      variant: 'always-scan',
    });
    const clock = new SimClock();
    const device = new MeteredDevice(mem, { clock });
    const image = qedDriver.open({
      device,
      readOnly: false,
      forCheck: false,
      clock,
      variant: 'always-scan',
    });
    device.counters.reset();
    // Three L2 tables' worth of guest space (each covers 16 GiB at the defaults).
    for (const gib of [0, 20, 40]) image.write(gib * 1024 ** 3, new Uint8Array(4096).fill(1));
    image.flush();
    expect(device.counters.writeOps[IO_KIND_INDEX.header]).toBe(0);
    // No clean flag: the image is never known clean (info reports it as needing a check).
    expect(image.info().dirty).toBe(true);
    image.close();

    const reopened = new MeteredDevice(mem, { clock });
    qedDriver.open({
      device: reopened,
      readOnly: false,
      forCheck: false,
      clock,
      variant: 'always-scan',
    });
    expect(reopened.counters.readOps[IO_KIND_INDEX.l2]).toBe(3);
    const baseline = new MeteredDevice(mem, { clock });
    qedDriver.open({ device: baseline, readOnly: false, forCheck: false, clock });
    expect(baseline.counters.readOps[IO_KIND_INDEX.l2]).toBe(0);
  });

  it('power cuts at random points: reopen finds no corruption and flushed data reads back', () => {
    for (const workload of ['mixed', 'random']) {
      const result = exploreVariant('qed', 'always-scan', workload, { states: 50 });
      expect(result.statesExplored).toBeGreaterThanOrEqual(40);
      expect(result.byClass).toEqual({});
    }
  });
});
