import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import type { BlockDevice, IoKind, IoRecord } from '../src/device/types.ts';
import { qcow2Driver } from '../src/formats/qcow2/qcow2-format.ts';
import type { CheckResult } from '../src/formats/types.ts';
import { plainBlockDevice } from './helpers/plain-device.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** A 64 GiB image with data in 40 of its L2 tables (runs of 1–3 clusters, some adjacent). */
function imageBytes(): Uint8Array {
  const memory = new MemoryDevice();
  qcow2Driver.create({ device: memory, sizeBytes: 64 * GiB, options: {} });
  const image = qcow2Driver.open({
    device: memory,
    readOnly: false,
    forCheck: false,
    clock: new SimClock(),
  });
  const block = new Uint8Array(64 * 1024).fill(0x5a);
  for (let i = 0; i < 40; i++) {
    const base = i * 1536 * MiB + (i % 7) * 3 * MiB;
    for (let k = 0; k <= i % 3; k++) image.write(base + k * 64 * 1024, block);
  }
  image.close();
  return memory.toBytes();
}

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
const u64 = (bytes: Uint8Array, at: number) =>
  Number(view(bytes).getBigUint64(at) & 0xfffffffffffe00n);

/** Host offset of the first data cluster and of the L2 entry pointing at it. */
function firstDataCluster(bytes: Uint8Array): { entryAt: number; dataOffset: number } {
  const l1 = u64(bytes, 40);
  const l2 = u64(bytes, l1);
  return { entryAt: l2, dataOffset: u64(bytes, l2) };
}

/** Sets the 16-bit refcount of the cluster at `offset` (refblock 0 covers the whole image). */
function setRefcount(bytes: Uint8Array, offset: number, refcount: number): void {
  const reftable = u64(bytes, 48);
  const refblock = u64(bytes, reftable);
  view(bytes).setUint16(refblock + (offset / 65536) * 2, refcount);
}

/** Counts the reads that reach the memory device (the ones actually fetched). */
class CountingDevice implements BlockDevice {
  l2Reads = 0;
  constructor(readonly inner: MemoryDevice) {}
  read(offsetBytes: number, lengthBytes: number, kind: IoKind): Uint8Array {
    if (kind === 'l2') this.l2Reads++;
    return this.inner.read(offsetBytes, lengthBytes, kind);
  }
  write(offsetBytes: number, data: Uint8Array, kind: IoKind): void {
    this.inner.write(offsetBytes, data, kind);
  }
  zeroRange(offsetBytes: number, lengthBytes: number, kind: IoKind): void {
    this.inner.zeroRange(offsetBytes, lengthBytes, kind);
  }
  flush(): void {
    this.inner.flush();
  }
  size(): number {
    return this.inner.size();
  }
  truncate(sizeBytes: number): void {
    this.inner.truncate(sizeBytes);
  }
}

interface CheckRun {
  log: IoRecord[];
  result: CheckResult | undefined;
  simulatedNs: number;
  fetchedL2Reads: number;
}

function check(bytes: Uint8Array, shortcuts: boolean): CheckRun {
  const counting = new CountingDevice(MemoryDevice.fromBytes(bytes.slice()));
  const log: IoRecord[] = [];
  const clock = new SimClock();
  const metered = new MeteredDevice(counting, { clock, log: (r) => log.push(r) });
  const device = shortcuts ? metered : plainBlockDevice(metered);
  const image = qcow2Driver.open({ device, readOnly: true, forCheck: true, clock });
  const result = image.check?.('none');
  return { log, result, simulatedNs: clock.nowNs(), fetchedL2Reads: counting.l2Reads };
}

/**
 * A qcow2 check that repairs nothing reads each L2 table once: the COPIED pass takes the
 * entries the refcount pass kept and charges its re-read (QEMU reads every table twice) with
 * `noteRead`. The metered I/O (log, counters, simulated time) and the result, messages included,
 * are those of the check that fetches every table twice.
 */
describe('qcow2 check: the COPIED pass reuses the refcount pass tables, same I/O and result', () => {
  const clean = imageBytes();
  const tooHigh = clean.slice();
  setRefcount(tooHigh, firstDataCluster(clean).dataOffset, 2);
  const notCopied = clean.slice();
  // Clear COPIED (bit 63) of the first data entry, whose refcount is 1.
  notCopied[firstDataCluster(clean).entryAt] =
    (notCopied[firstDataCluster(clean).entryAt] as number) & 0x7f;

  it.each([
    ['a clean image', clean, 0],
    ['a data cluster with refcount 2 (leak, COPIED wrong)', tooHigh, 1],
    ['a data entry without COPIED at refcount 1', notCopied, 1],
  ])('%s', (_name, bytes, corruptionsFromCopied) => {
    const withCopies = check(bytes, true);
    const fetchingTwice = check(bytes, false);
    expect(withCopies.log).toEqual(fetchingTwice.log);
    expect(withCopies.result).toEqual(fetchingTwice.result);
    expect(withCopies.simulatedNs).toBe(fetchingTwice.simulatedNs);
    const l2Reads = withCopies.log.filter((r) => r.op === 'read' && r.kind === 'l2').length;
    expect(l2Reads).toBe(80);
    expect(fetchingTwice.fetchedL2Reads).toBe(80);
    expect(withCopies.fetchedL2Reads).toBe(40);
    const copiedMessages = withCopies.result?.messages.filter((m) => m.includes('OFLAG_COPIED'));
    expect(copiedMessages).toHaveLength(corruptionsFromCopied);
  });
});
