import { SimClock } from '../../src/device/clock.ts';
import { MemoryDevice } from '../../src/device/memory-device.ts';
import { MeteredDevice } from '../../src/device/metered-device.ts';
import type { BlockDevice } from '../../src/device/types.ts';
import { createQcow2, openQcow2 } from '../../src/formats/qcow2/qcow2-format.ts';
import type { Qcow2Image } from '../../src/formats/qcow2/qcow2-image.ts';
import { readU32, readU64, writeU32, writeU64 } from '../../src/formats/qcow2/u64.ts';

/**
 * A small valid qcow2 image made by the lab in memory (4 KiB clusters, 1 MiB disk, a few
 * clusters written, optionally snapshots), for tests that then break one field or entry.
 */
export function smallQcow2(options: { snapshots?: number; lazyRefcounts?: boolean } = {}) {
  const memory = new MemoryDevice();
  createQcow2(memory, {
    sizeBytes: 1024 * 1024,
    clusterSize: 4096,
    lazyRefcounts: options.lazyRefcounts ?? false,
  });
  const image = openQcow2({ device: new MeteredDevice(memory), readOnly: false, forCheck: false });
  image.write(0, new Uint8Array(8192).fill(1));
  image.write(512 * 1024, new Uint8Array(4096).fill(2));
  for (let i = 0; i < (options.snapshots ?? 0); i++) {
    image.snapshots.create(`snap${i}`, { dateSec: 1_700_000_000 + i, dateNsec: 0 });
  }
  image.close();
  return memory;
}

export interface HeaderFields {
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  nbSnapshots: number;
  snapshotsOffset: number;
}

export function headerFields(memory: MemoryDevice): HeaderFields {
  const h = memory.read(0, 72);
  return {
    l1Size: readU32(h, 36),
    l1TableOffset: readU64(h, 40),
    refcountTableOffset: readU64(h, 48),
    nbSnapshots: readU32(h, 60),
    snapshotsOffset: readU64(h, 64),
  };
}

export function putU32(memory: MemoryDevice, offset: number, value: number): void {
  const b = new Uint8Array(4);
  writeU32(b, 0, value);
  memory.write(offset, b);
}

/** A raw big-endian u64 (`hi`:`lo` halves, so flag bits above 2^53 can be set). */
export function putU64(memory: MemoryDevice, offset: number, hi: number, lo: number): void {
  const b = new Uint8Array(8);
  writeU32(b, 0, hi);
  writeU32(b, 4, lo);
  memory.write(offset, b);
}

export function putOffset(memory: MemoryDevice, offset: number, value: number): void {
  const b = new Uint8Array(8);
  writeU64(b, 0, value);
  memory.write(offset, b);
}

export function openMemory(
  device: BlockDevice,
  options: { readOnly: boolean; forCheck: boolean },
): Qcow2Image {
  const clock = new SimClock();
  return openQcow2({ device: new MeteredDevice(device, { clock }), ...options });
}
