import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { IO_KIND_INDEX } from '../src/device/types.ts';
import { qedDriver } from '../src/formats/qed/qed-format.ts';
import { parseDurationNs } from '../src/formats/qed/variants.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import {
  crashedImages,
  exploreVariant,
  labCheck,
  qemuCheckCounts,
} from './helpers/variant-crash.ts';

const S = 1_000_000_000;

/** Header writes over an hour of one allocating 4 KiB write every `gapS` seconds. */
function headerWritesPerHour(variant: string, gapS: number): number {
  const mem = new MemoryDevice();
  qedDriver.create({ device: new MeteredDevice(mem), sizeBytes: 1024 ** 3, options: {}, variant });
  const clock = new SimClock();
  const device = new MeteredDevice(mem, { clock });
  const image = qedDriver.open({ device, readOnly: false, forCheck: false, clock, variant });
  device.counters.reset();
  for (let t = 0; t < 3600; t += gapS) {
    image.write((t / gapS) * 65536, new Uint8Array(4096).fill(3));
    clock.sleepNs(gapS * S);
  }
  return device.counters.writeOps[IO_KIND_INDEX.header] as number;
}

/** QED `clean-timer=<duration>`: the need-check timer's interval, QEMU's on-disk format. */
describe('QED clean-timer variant', () => {
  it('parses durations and trades header syncs for the time the flag stays set', () => {
    expect(parseDurationNs('5s')).toBe(5 * S);
    expect(parseDurationNs('5min')).toBe(300 * S);
    expect(parseDurationNs('300ms')).toBe(0.3 * S);
    expect(() => parseDurationNs('soon')).toThrow(/invalid duration/);
    // One allocating write a minute: a 5 s timer clears the flag after each (2 header writes a
    // minute: set, clear); a 5 min timer never fires between writes (one set, once).
    const qemu = headerWritesPerHour('clean-timer=5s', 60);
    const thread = headerWritesPerHour('clean-timer=5min', 60);
    expect(qemu).toBe(120);
    expect(thread).toBe(1);
  });

  it('power cuts at random points: reopen finds no corruption and flushed data reads back', () => {
    for (const workload of ['mixed', 'sparse']) {
      const result = exploreVariant('qed', 'clean-timer=5min', workload, { states: 50 });
      expect(result.statesExplored).toBeGreaterThanOrEqual(40);
      expect(result.violations).toBe(0);
    }
  });
});

describeWithQemu('QED clean-timer variant vs qemu-img check', () => {
  it('qemu-img check agrees with the lab on images cut at random points', () => {
    const images = crashedImages('qed', 'clean-timer=5min', 'mixed', 7, 6);
    expect(images.length).toBe(6);
    for (const device of images) {
      const bytes = device.toBytes();
      const lab = labCheck('qed', 'clean-timer=5min', device);
      expect(qemuCheckCounts('qed', bytes)).toEqual({
        corruptions: lab.corruptions,
        leaks: lab.leaks,
        checkErrors: lab.checkErrors,
      });
    }
  });
});
