import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import type { IoRecord } from '../src/device/types.ts';
import { QedImage, qedDriver } from '../src/formats/qed/qed-format.ts';
import { Rng } from '../src/util/rng.ts';
import { plainBlockDevice } from './helpers/plain-device.ts';

/**
 * The decoded-table shadow (L2 cache misses charged with noteRead instead of re-reading) changes
 * nothing observable: the same host I/O log, the same bytes, the same data read back — also on
 * a corrupt image where a data cluster aliases an L2 table, where the shadow must step aside.
 */

function run(
  bytes: Uint8Array,
  shadow: boolean,
  steps: (image: QedImage, reads: Uint8Array[]) => void,
): { log: IoRecord[]; bytes: Uint8Array; reads: Uint8Array[]; shadowEnabled: boolean } {
  const clock = new SimClock();
  const memory = MemoryDevice.fromBytes(bytes);
  const log: IoRecord[] = [];
  const metered = new MeteredDevice(memory, { clock, log: (r) => log.push(r) });
  const device = shadow ? metered : plainBlockDevice(metered);
  const image = new QedImage({ device, readOnly: false, forCheck: false, clock });
  const reads: Uint8Array[] = [];
  steps(image, reads);
  const shadowEnabled = image.state.tableShadow.enabled;
  image.close();
  return { log, bytes: memory.toBytes(), reads, shadowEnabled };
}

function fresh(sizeBytes: number, options: Record<string, string> = {}): Uint8Array {
  const memory = new MemoryDevice();
  qedDriver.create({ device: memory, sizeBytes, options });
  return memory.toBytes();
}

describe('QED decoded-table shadow', () => {
  it('random writes over 80 L2 tables (cache thrash): identical I/O, bytes and reads', () => {
    const cs = 4096;
    const l2 = (cs / 8) * 4 * cs; // 8 MiB per table with 4 KiB clusters
    const steps = (image: QedImage, reads: Uint8Array[]) => {
      const rng = new Rng(9);
      for (let i = 0; i < 600; i++) {
        const offset = rng.nextInt(80) * l2 + rng.nextInt(l2 / 512 - 8) * 512;
        image.write(offset, new Uint8Array(512 * (1 + rng.nextInt(8))).fill(1 + (i % 250)));
        if (i % 7 === 0) reads.push(image.read(offset, 4096));
      }
    };
    const base = fresh(80 * l2, { cluster_size: '4k' });
    const withShadow = run(base, true, steps);
    const without = run(base, false, steps);
    expect(withShadow.shadowEnabled).toBe(true);
    expect(withShadow.log.filter((r) => r.op === 'read' && r.kind === 'l2').length).toBeGreaterThan(
      100,
    );
    expect(withShadow.log).toEqual(without.log);
    expect(withShadow.reads).toEqual(without.reads);
    expect(Buffer.from(withShadow.bytes).equals(Buffer.from(without.bytes))).toBe(true);
  });

  it('a data cluster aliasing an L2 table turns the shadow off and reads see the file', () => {
    const cs = 65536;
    const base = fresh(2 ** 40);
    // Two tables, then point table 0's entry 5 at table 1's first cluster (a corruption).
    const setup = run(base, true, (image) => {
      image.write(0, new Uint8Array(4096).fill(1));
      image.write(2 ** 31, new Uint8Array(4096).fill(2));
    });
    const bytes = setup.bytes.slice();
    const view = new DataView(bytes.buffer);
    const l2First = Number(view.getBigUint64(cs, true));
    const l2Second = Number(view.getBigUint64(cs + 8, true));
    view.setBigUint64(l2First + 5 * 8, BigInt(l2Second), true);
    view.setUint32(16, 0, true); // clean flag, so no repair runs at open
    const steps = (image: QedImage, reads: Uint8Array[]) => {
      reads.push(image.read(2 ** 31, 4096)); // loads table 1
      image.write(5 * cs, new Uint8Array(512)); // in place: zeroes table 1's first entries
      for (let i = 0; i < 60; i++) image.write(i * 2 ** 31 + 2 ** 33, new Uint8Array(512).fill(3)); // evict
      reads.push(image.read(2 ** 31, 4096)); // table 1 re-read from the (clobbered) file
    };
    const withShadow = run(bytes, true, steps);
    const without = run(bytes, false, steps);
    expect(withShadow.shadowEnabled).toBe(false);
    expect(withShadow.log).toEqual(without.log);
    expect(withShadow.reads).toEqual(without.reads);
    expect(withShadow.reads[1]?.every((b) => b === 0)).toBe(true); // the file's view, not the copy
    expect(Buffer.from(withShadow.bytes).equals(Buffer.from(without.bytes))).toBe(true);
  });
});
