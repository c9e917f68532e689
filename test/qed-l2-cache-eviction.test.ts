import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import type { IoRecord } from '../src/device/types.ts';
import { L2Cache } from '../src/formats/qed/l2-cache.ts';
import { QedImage, qedDriver } from '../src/formats/qed/qed-format.ts';
import { QedTable } from '../src/formats/qed/table.ts';

/**
 * QED's L2 cache holds 50 whole tables and evicts in insertion order: a hit does not refresh an
 * entry (FIFO, not LRU), so the I/O after a cache miss is what QEMU's would be.
 */
describe('QED L2 cache', () => {
  it('evicts the oldest insertion, regardless of hits', () => {
    const cache = new L2Cache(3);
    const t = () => QedTable.zeroed(1);
    cache.insert(100, t());
    cache.insert(200, t());
    cache.insert(300, t());
    expect(cache.find(100)).toBeDefined(); // a hit does not move 100 to the tail
    cache.insert(400, t());
    expect(cache.keys()).toEqual([200, 300, 400]);
    expect(cache.find(100)).toBeUndefined();
  });

  it('keeps the older copy when a table is committed twice', () => {
    const cache = new L2Cache(2);
    const first = QedTable.zeroed(1);
    cache.insert(100, first);
    expect(cache.insert(100, QedTable.zeroed(1))).toBe(first);
    expect(cache.size).toBe(1);
  });

  it('an image touching 51 tables re-reads the first one, 50 never', () => {
    const clock = new SimClock();
    const memory = new MemoryDevice({ dataMode: 'drop' });
    qedDriver.create({ device: memory, sizeBytes: 2 ** 40, options: {} });
    const log: IoRecord[] = [];
    const device = new MeteredDevice(memory, { clock, log: (r) => log.push(r) });
    const image = new QedImage({ device, readOnly: false, forCheck: false, clock });
    const l2 = 2 ** 31;
    const block = new Uint8Array(4096);
    // Allocate 51 tables (new tables enter the cache after their L1 write)...
    for (let i = 0; i < 51; i++) image.write(i * l2, block);
    const l2Reads = () => log.filter((r) => r.op === 'read' && r.kind === 'l2').length;
    expect(l2Reads()).toBe(0);
    // ...the 51st insertion evicted table 0: touching it again reads it whole.
    image.write(4096, block);
    expect(l2Reads()).toBe(1);
    expect(log.filter((r) => r.op === 'read' && r.kind === 'l2')[0]).toMatchObject({
      length: 262144,
    });
    // Table 0's reload evicted table 1; tables 2..50 are still cached.
    for (let i = 2; i < 51; i++) image.write(i * l2 + 4096, block);
    expect(l2Reads()).toBe(1);
    image.write(l2 + 4096, block);
    expect(l2Reads()).toBe(2);
  });
});
