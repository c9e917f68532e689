import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { IO_KIND_INDEX } from '../src/device/types.ts';
import { QED_AF_FREELIST } from '../src/formats/qed/free-space.ts';
import { type QedImage, qedDriver } from '../src/formats/qed/qed-format.ts';
import { exploreVariant } from './helpers/variant-crash.ts';

const CS = 65536;
const VARIANT = 'freelist';

function openFreelist(
  mem: MemoryDevice,
  readOnly = false,
  log?: (r: { op: string; kind?: string }) => void,
): { image: QedImage; device: MeteredDevice } {
  const clock = new SimClock();
  const device = new MeteredDevice(mem, log ? { clock, log } : { clock });
  const image = qedDriver.open({
    device,
    readOnly,
    forCheck: readOnly,
    clock,
    variant: VARIANT,
  }) as QedImage;
  return { image, device };
}

function freshImage(): MemoryDevice {
  const mem = new MemoryDevice();
  qedDriver.create({
    device: new MeteredDevice(mem),
    sizeBytes: 1024 ** 3,
    options: {},
    variant: VARIANT,
  });
  return mem;
}

function autoclear(mem: MemoryDevice): bigint {
  return new DataView(mem.read(0, 64, 'header').buffer).getBigUint64(32, true);
}

/**
 * QED `freelist` (the seed message's design): discard frees clusters, allocation takes them
 * first, the list is written as a chain at each sync with its pointer valid only between a sync
 * and the next change, and an invalid pointer after a crash means a rebuild by scan.
 */
describe('QED freelist variant', () => {
  it('reuses discarded clusters instead of growing the file, and check finds no leak', () => {
    const mem = freshImage();
    const { image } = openFreelist(mem);
    const data = new Uint8Array(CS).fill(7);
    for (let i = 0; i < 16; i++) image.write(i * CS, data);
    image.flush();
    image.discard(0, 8 * CS);
    expect(image.read(0, 8 * CS).every((b) => b === 0)).toBe(true);
    const size = mem.size();
    for (let i = 0; i < 8; i++) image.write((100 + i) * CS, data);
    image.flush();
    expect(mem.size()).toBe(size);
    expect(image.state.freeSpace?.reusedClusters).toBe(8);
    expect(image.read(100 * CS, CS).every((b) => b === 7)).toBe(true);
    expect(image.check('none')).toMatchObject({ corruptions: 0, leaks: 0, checkErrors: 0 });
  });

  it('orders the UNMAP path: L2 update, flush, then the freelist write; pointer cleared until the sync', () => {
    const mem = freshImage();
    const kinds: string[] = [];
    let logging = false;
    const { image } = openFreelist(mem, false, (r) => {
      if (logging) kinds.push(r.op === 'flush' ? 'flush' : `${r.op}:${r.kind}`);
    });
    for (let i = 0; i < 4; i++) image.write(i * CS, new Uint8Array(CS).fill(1));
    image.flush();
    expect(autoclear(mem) & QED_AF_FREELIST).toBe(QED_AF_FREELIST);
    logging = true;
    image.discard(0, 2 * CS);
    const l2 = kinds.indexOf('write:l2');
    const flush = kinds.indexOf('flush');
    const list = kinds.indexOf('write:freelist');
    expect(l2).toBeGreaterThanOrEqual(0);
    expect(flush).toBeGreaterThan(l2);
    expect(list).toBeGreaterThan(flush);
    // First change after the sync: the pointer (autoclear bit) is cleared on disk.
    expect(autoclear(mem) & QED_AF_FREELIST).toBe(0n);
    image.flush();
    expect(autoclear(mem) & QED_AF_FREELIST).toBe(QED_AF_FREELIST);
  });

  it('a reused cluster gets its data flushed before its L2 entry (else a crash shows old data)', () => {
    const mem = freshImage();
    const kinds: string[] = [];
    let logging = false;
    const { image } = openFreelist(mem, false, (r) => {
      if (logging) kinds.push(r.op === 'flush' ? 'flush' : `${r.op}:${r.kind}`);
    });
    for (let i = 0; i < 4; i++) image.write(i * CS, new Uint8Array(CS).fill(1));
    image.flush();
    image.discard(0, CS);
    logging = true;
    image.write(50 * CS, new Uint8Array(CS).fill(9));
    const data = kinds.indexOf('write:data');
    const l2 = kinds.indexOf('write:l2');
    expect(data).toBeGreaterThanOrEqual(0);
    expect(l2).toBeGreaterThan(data);
    expect(kinds.slice(data, l2)).toContain('flush');
  });

  it('keeps the list across a clean close: the reopen reads the chain and scans nothing', () => {
    const mem = freshImage();
    const { image } = openFreelist(mem);
    for (let i = 0; i < 32; i++) image.write(i * CS, new Uint8Array(CS).fill(2));
    image.discard(0, 20 * CS);
    image.close();
    const { image: reopened, device } = openFreelist(mem);
    expect(reopened.state.freeSpace?.freeClusters).toBe(20);
    expect(reopened.state.freeSpace?.rebuiltByScan).toBe(false);
    expect(device.counters.readOps[IO_KIND_INDEX.l2]).toBe(0);
    expect(device.counters.readOps[IO_KIND_INDEX.freelist]).toBeGreaterThan(0);
    expect(reopened.check('none')).toMatchObject({ corruptions: 0, leaks: 0 });
  });

  it('an invalid pointer after a crash (bit cleared, never set again) means a rebuild by scan', () => {
    const mem = freshImage();
    const { image } = openFreelist(mem);
    for (let i = 0; i < 8; i++) image.write(i * CS, new Uint8Array(CS).fill(4));
    image.flush();
    image.discard(0, 3 * CS);
    // Power cut here: the freelist pointer is clear on disk; the freed clusters are leaks.
    expect(autoclear(mem) & QED_AF_FREELIST).toBe(0n);
    const crashed = MemoryDevice.fromBytes(mem.toBytes());
    const { image: forCheck } = openFreelist(MemoryDevice.fromBytes(mem.toBytes()), true);
    expect(forCheck.check('none')).toMatchObject({ corruptions: 0, leaks: 3 });
    const { image: reopened } = openFreelist(crashed);
    expect(reopened.state.freeSpace?.rebuiltByScan).toBe(true);
    expect(reopened.state.freeSpace?.freeClusters).toBe(3);
    expect(reopened.check('none')).toMatchObject({ corruptions: 0, leaks: 0 });
  });

  it('power cuts at random points: reopen finds no corruption and flushed data reads back', () => {
    for (const workload of ['discard-churn', 'mixed']) {
      const result = exploreVariant('qed', VARIANT, workload, { states: 200 });
      expect(result.statesExplored).toBeGreaterThanOrEqual(150);
      expect(result.violations).toBe(0);
    }
  });
});
