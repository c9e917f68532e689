import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { IO_KIND_INDEX } from '../src/device/types.ts';
import { qcow2Driver } from '../src/formats/qcow2/qcow2-format.ts';
import type { Qcow2Image } from '../src/formats/qcow2/qcow2-image.ts';
import { refcountMetadataSize } from '../src/formats/qcow2/refcount-table.ts';
import { flatRefcountBytes } from '../src/formats/qcow2/variants.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import { cutAndVerify, qemuCheckCounts } from './helpers/variant-crash.ts';

const PIB = 1024 ** 5;
const GIB = 1024 ** 3;

function run(variant: string): { mem: MemoryDevice; image: Qcow2Image; device: MeteredDevice } {
  const mem = new MemoryDevice();
  const v = variant === 'qemu' ? {} : { variant };
  qcow2Driver.create({
    device: new MeteredDevice(mem),
    sizeBytes: GIB,
    options: { cluster_size: '4k' },
    ...v,
  });
  const clock = new SimClock();
  const device = new MeteredDevice(mem, { clock });
  const image = qcow2Driver.open({
    device,
    readOnly: false,
    forCheck: false,
    clock,
    ...v,
  }) as Qcow2Image;
  for (let i = 0; i < 4000; i++) image.write(i * 8192, new Uint8Array(4096).fill(1));
  image.flush();
  return { mem, image, device };
}

/**
 * qcow2 `flat-refcounts`: the contiguous 8-byte-per-cluster array the thread assumed, modelled
 * beside the real refcounts, copied whole on every growth.
 */
describe('qcow2 flat-refcounts variant', () => {
  it('a fully allocated 1 PiB disk needs a 128 GiB flat array; the two-level layout ~32 GiB at 16 bits', () => {
    expect(flatRefcountBytes(PIB, 65536)).toBe(128 * GIB);
    const twoLevel = refcountMetadataSize(PIB / 65536, 65536, 4, false);
    expect(twoLevel.bytes).toBeLessThan(33 * GIB);
    expect(twoLevel.tableClusters * 65536).toBeLessThanOrEqual(8 * 1024 ** 2);
  });

  it('copies the whole array on each growth and writes more refcount metadata than the real layout', () => {
    const flat = run('flat-refcounts');
    const qemu = run('qemu');
    const info = flat.image.info().formatSpecific as Record<string, number>;
    expect(info['flat-refcount-growths']).toBeGreaterThan(2);
    expect(info['flat-refcount-copied-bytes']).toBeGreaterThan(0);
    const refblockBytes = (d: MeteredDevice) =>
      d.counters.writeBytes[IO_KIND_INDEX.refblock] as number;
    expect(refblockBytes(flat.device)).toBeGreaterThan(refblockBytes(qemu.device));
    // The region is referenced while open, freed at a clean close.
    expect(flat.image.check('none')).toMatchObject({ corruptions: 0, leaks: 0 });
    flat.image.close();
    const clock = new SimClock();
    const reopened = qcow2Driver.open({
      device: new MeteredDevice(flat.mem, { clock }),
      readOnly: true,
      forCheck: true,
      clock,
    });
    expect(reopened.check?.('none')).toMatchObject({ corruptions: 0, leaks: 0 });
  });

  it('power cuts at random points: no corruption (the unpersisted region is a leak), flushed data reads back', () => {
    const verdict = cutAndVerify({
      format: 'qcow2',
      variant: 'flat-refcounts',
      createOptions: { cluster_size: '4k' },
      sizeBytes: 256 * 1024 ** 2,
      writes: 1500,
      flushEvery: 16,
      cuts: 6,
      seed: 5,
    });
    expect(verdict.cuts).toBe(6);
    expect(verdict.failures).toEqual([]);
  });
});

describeWithQemu('qcow2 flat-refcounts vs qemu-img check', () => {
  it('after a clean close the file is a valid qcow2 image with no leaks', () => {
    const { mem, image } = run('flat-refcounts');
    image.close();
    expect(qemuCheckCounts('qcow2', mem.toBytes())).toEqual({
      corruptions: 0,
      leaks: 0,
      checkErrors: 0,
    });
  });
});
