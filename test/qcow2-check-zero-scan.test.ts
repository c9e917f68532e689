import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import type { IoRecord } from '../src/device/types.ts';
import { qcow2Driver } from '../src/formats/qcow2/qcow2-format.ts';
import type { CheckResult } from '../src/formats/types.ts';
import { plainBlockDevice } from './helpers/plain-device.ts';

const KiB64 = 64 * 1024;
const L2_SPAN = 8192 * KiB64;

/**
 * L2 indices around the 512-entry blocks the check skips with one memcmp, and around the 64-entry
 * runs and 8-entry lines it narrows a block down by.
 */
const INDICES = [
  0, 1, 7, 8, 63, 64, 65, 71, 72, 511, 512, 513, 575, 576, 1023, 1024, 2048, 3000, 3071, 3072, 4095,
  4607, 6144, 8183, 8184, 8190, 8191,
];

/** A 16 GiB image whose first three L2 tables hold data at INDICES (table t: every t+1-th). */
function imageBytes(): Uint8Array {
  const memory = new MemoryDevice();
  qcow2Driver.create({ device: memory, sizeBytes: 16 * 2 ** 30, options: {} });
  const image = qcow2Driver.open({
    device: memory,
    readOnly: false,
    forCheck: false,
    clock: new SimClock(),
  });
  const block = new Uint8Array(KiB64).fill(0x5a);
  for (let table = 0; table < 3; table++) {
    INDICES.forEach((index, k) => {
      if (k % (table + 1) === 0) image.write(table * L2_SPAN + index * KiB64, block);
    });
  }
  image.close();
  return memory.toBytes();
}

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
const l2Offset = (bytes: Uint8Array, table: number) =>
  Number(
    view(bytes).getBigUint64(Number(view(bytes).getBigUint64(40)) + table * 8) & 0xfffffffffffe00n,
  );

function setEntry(bytes: Uint8Array, table: number, index: number, hi: number, lo: number): void {
  const at = l2Offset(bytes, table) + index * 8;
  view(bytes).setUint32(at, hi);
  view(bytes).setUint32(at + 4, lo);
}

function check(
  bytes: Uint8Array,
  reusedBuffer: boolean,
): { result: CheckResult | undefined; log: IoRecord[] } {
  const log: IoRecord[] = [];
  const clock = new SimClock();
  const metered = new MeteredDevice(MemoryDevice.fromBytes(bytes.slice()), {
    clock,
    log: (r) => log.push(r),
  });
  const device = reusedBuffer ? metered : plainBlockDevice(metered);
  const image = qcow2Driver.open({ device, readOnly: true, forCheck: true, clock });
  return { result: image.check?.('none'), log };
}

/**
 * The check skips zero L2 entries by 512-entry blocks, 64-entry runs and 8-entry lines (memcmp
 * on views of its reusable buffer) and by two 32-bit loads per entry; the slow path (a fresh table per read, every entry decoded
 * where the block is not zero) finds the same entries: same result, messages and I/O, with
 * entries at block edges and entries whose only set bits are in one half.
 */
describe('qcow2 check: zero L2 entries are skipped without missing any', () => {
  const clean = imageBytes();
  const oddEntries = clean.slice();
  // Reserved bits only in the high word, inside a block that is otherwise zero.
  setEntry(oddEntries, 1, 2000, 0x01000000, 0);
  // Reserved bits only in the low word, next to a block edge, and inside an 8-entry line.
  setEntry(oddEntries, 2, 1535, 0, 0x00000002);
  setEntry(oddEntries, 2, 4100, 0, 0x00000002);
  // A plain zero cluster (only bit 0) and an entry with only COPIED: set, but no cluster.
  setEntry(oddEntries, 0, 6000, 0, 1);
  setEntry(oddEntries, 0, 7000, 0x80000000, 0);

  it.each([
    ['a clean image', clean, 0],
    ['entries with one half zero', oddEntries, 3],
  ])('%s', (_name, bytes, reservedErrors) => {
    const fast = check(bytes, true);
    const slow = check(bytes, false);
    expect(fast.result).toEqual(slow.result);
    expect(fast.log).toEqual(slow.log);
    const dataClusters =
      INDICES.length + Math.ceil(INDICES.length / 2) + Math.ceil(INDICES.length / 3);
    expect(fast.result?.allocatedClusters).toBe(dataClusters);
    const reserved = fast.result?.messages.filter((m) => m.includes('reserved bits set'));
    expect(reserved).toHaveLength(reservedErrors);
  });
});

/**
 * The L1 walks (refcount pass and COPIED pass) skip zero L1 entries the same way: a 1 TiB image
 * with tables at L1 indices on and around the 512-entry block edges (entries 512-1023 zero), and
 * an entry whose only set bits are reserved ones in its low word, in a block otherwise zero.
 */
describe('qcow2 check: zero L1 entries are skipped without missing any', () => {
  const L1_INDICES = [0, 1, 511, 1024, 1025, 1535, 1536, 2047];
  const memory = new MemoryDevice();
  qcow2Driver.create({ device: memory, sizeBytes: 2 ** 40, options: {} });
  const image = qcow2Driver.open({
    device: memory,
    readOnly: false,
    forCheck: false,
    clock: new SimClock(),
  });
  for (const index of L1_INDICES) image.write(index * L2_SPAN, new Uint8Array(KiB64).fill(1));
  image.close();
  const clean = memory.toBytes();

  it('a clean image: every table counted, read once and noted once', () => {
    const { result, log } = check(clean, true);
    expect(result?.allocatedClusters).toBe(L1_INDICES.length);
    expect(result?.corruptions).toBe(0);
    expect(result?.leaks).toBe(0);
    const l2Reads = log.filter((r) => r.op === 'read' && r.kind === 'l2');
    expect(l2Reads).toHaveLength(2 * L1_INDICES.length);
  });

  it('an L1 entry with only reserved bits set is reported', () => {
    const bytes = clean.slice();
    const l1 = Number(view(bytes).getBigUint64(40));
    view(bytes).setUint32(l1 + 700 * 8 + 4, 0x00000100);
    const { result } = check(bytes, true);
    expect(result?.messages).toContain('ERROR found L1 entry with reserved bits set: 100');
  });
});
