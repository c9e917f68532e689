import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import type { IoRecord } from '../src/device/types.ts';
import { QedImage, qedDriver } from '../src/formats/qed/qed-format.ts';
import { QedTable } from '../src/formats/qed/table.ts';
import { TableShadow } from '../src/formats/qed/table-shadow.ts';
import { Rng } from '../src/util/rng.ts';
import { plainBlockDevice } from './helpers/plain-device.ts';

/**
 * Tables the engine creates start sparse (only their set entries in memory) and turn dense once
 * they hold many entries. Neither form may change what the engine reads, writes or reports: a
 * sparse table answers exactly like a dense one through every transition, and an engine whose
 * tables cross from sparse to dense mid-run issues the same I/O, with the same bytes, as one
 * that writes every table sector in full (no shadow, no patched writes).
 */
function form(table: QedTable): string {
  return table.sparse ? 'sparse' : table.backed ? 'device-backed' : 'dense';
}

describe('QED sparse tables', () => {
  it('a sparse table answers like a dense one through its switch to dense', () => {
    const entries = 32768;
    const sparse = QedTable.empty(entries);
    const dense = QedTable.zeroed(entries);
    expect(sparse.sparse).toBe(true);
    expect(sparse.footprintBytes).toBeLessThan(64);
    const rng = new Rng(5);
    let sawDense = false;
    for (let step = 0; step < 400; step++) {
      const index = rng.nextInt(entries);
      // Offsets past 2^32, the zero-cluster marker, and clearing an entry back to 0.
      const value =
        step % 9 === 0 ? 0 : step % 5 === 0 ? 1 : (2 ** 20 + rng.nextInt(2 ** 22)) * 65536;
      sparse.set(index, value);
      dense.set(index, value);
      if (!sparse.sparse) sawDense = true;
      const probe = rng.nextInt(entries - 64);
      expect(Buffer.from(sparse.encode(probe, 64))).toEqual(Buffer.from(dense.encode(probe, 64)));
      expect(sparse.get(index)).toBe(dense.get(index));
      expect(sparse.get(probe)).toBe(dense.get(probe));
    }
    expect(sawDense).toBe(true);
    expect(Buffer.from(sparse.bytes).equals(Buffer.from(dense.bytes))).toBe(true);
    // `bytes` on a sparse table gives the on-disk form too (a copy: the table stays sparse).
    const small = QedTable.empty(entries);
    small.set(7, 3 * 2 ** 32 + 65536);
    const expected = QedTable.zeroed(entries);
    expected.set(7, 3 * 2 ** 32 + 65536);
    expect(Buffer.from(small.bytes).equals(Buffer.from(expected.bytes))).toBe(true);
    expect(small.sparse).toBe(true);
  });

  it('a device-backed table takes its own copy before the device changes under it', () => {
    const memory = new MemoryDevice();
    const cs = 65536;
    const tableOffset = 8 * cs;
    const shadow = new TableShadow({
      enabled: true,
      clusterSizeBytes: cs,
      tableSizeClusters: 4,
      l1OffsetBytes: cs,
      source: memory,
    });
    const table = QedTable.empty(32768, shadow, tableOffset);
    shadow.add(tableOffset / cs, table);
    const dense = QedTable.zeroed(32768);
    for (let i = 0; i < 200; i++) {
      const value = (100 + i) * cs;
      table.setThrough(i * 3, value);
      dense.set(i * 3, value);
      // The write path's part: the entry goes to the device at once.
      memory.write(tableOffset + i * 3 * 8, dense.encode(i * 3, 1));
    }
    // A run of 150 consecutive clusters from entry 1000, then a hole, then zero markers.
    for (let i = 0; i < 150; i++) {
      table.setThrough(1000 + i, (5000 + i) * cs);
      dense.set(1000 + i, (5000 + i) * cs);
    }
    for (let i = 0; i < 70; i++) {
      table.setThrough(1200 + i, 1);
      dense.set(1200 + i, 1);
    }
    memory.write(tableOffset + 1000 * 8, dense.encode(1000, 270));
    expect(form(table)).toBe('device-backed');
    expect(table.footprintBytes).toBe(0);
    expect(table.get(3 * 150)).toBe(250 * cs);
    for (const [start, end] of [
      [1000, 1300],
      [1010, 1140],
      [1149, 1300],
      [1150, 1300],
      [1200, 1300],
      [1190, 1205],
      [0, 3],
    ] as const) {
      const first = dense.get(start);
      const step = first > 1 ? cs : 0;
      expect(table.runEnd(start, end, first, step)).toBe(dense.runEnd(start, end, first, step));
    }
    expect(table.runEnd(1000, 1300, 5000 * cs, cs)).toBe(1150);
    expect(table.runEnd(1200, 1300, 1, 0)).toBe(1270);
    // A data write lands on the table's second cluster (a corrupt image): the shadow steps aside
    // and the table keeps what it held, as QEMU's cached copy does.
    shadow.noteDataWrite(tableOffset + cs, 4096);
    memory.write(tableOffset + cs, new Uint8Array(4096).fill(0xee));
    expect(shadow.enabled).toBe(false);
    expect(form(table)).toBe('dense');
    expect(Buffer.from(table.bytes).equals(Buffer.from(dense.bytes))).toBe(true);
  });

  function run(fast: boolean): {
    log: IoRecord[];
    bytes: Uint8Array;
    reads: Uint8Array[];
    table0Form: string;
  } {
    const memory = new MemoryDevice();
    qedDriver.create({ device: memory, sizeBytes: 2 ** 40, options: {} });
    const clock = new SimClock();
    const log: IoRecord[] = [];
    const metered = new MeteredDevice(memory, { clock, log: (r) => log.push(r) });
    const device = fast ? metered : plainBlockDevice(metered);
    const image = new QedImage({ device, readOnly: false, forCheck: false, clock });
    const coverage = 2 ** 31; // 32768 entries × 64 KiB per table
    const rng = new Rng(17);
    const reads: Uint8Array[] = [];
    // Table 0 takes 600 writes (it turns dense past 128 entries), tables 1..70 a few each (they
    // stay sparse and thrash the 50-table cache), some writes span two clusters.
    for (let i = 0; i < 900; i++) {
      const table = i % 3 === 0 ? 1 + rng.nextInt(70) : 0;
      const offset = table * coverage + rng.nextInt(coverage / 4096 - 32) * 4096;
      const length = i % 11 === 0 ? 65536 + 4096 : 4096;
      image.write(offset, new Uint8Array(length).fill(1 + (i % 250)));
      if (i % 13 === 0) image.writeZeroes(offset + 2 * 65536, 65536);
      if (i % 17 === 0) reads.push(image.read(offset, 8192).slice());
    }
    const state = image.state;
    // The last write went to table 0, so the cache holds it.
    const table0 = state.l2Cache.find(state.l1Table.get(0) * state.clusterSizeInverse);
    if (table0 === undefined) throw new Error('table 0 not cached');
    const check = image.check('none');
    expect(check.corruptions).toBe(0);
    expect(check.leaks).toBe(0);
    image.close();
    return { log, bytes: memory.toBytes(), reads, table0Form: form(table0) };
  }

  it('engine runs crossing sparse → dense give the I/O and bytes of full sector writes', () => {
    const fast = run(true);
    const plain = run(false);
    expect(fast.log.length).toBe(plain.log.length);
    expect(fast.log).toEqual(plain.log);
    expect(fast.reads).toEqual(plain.reads);
    expect(Buffer.from(fast.bytes).equals(Buffer.from(plain.bytes))).toBe(true);
    // The scenario does cross the switch, and misses re-read tables (from the shadow, in `fast`).
    expect(fast.table0Form).toBe('device-backed');
    expect(plain.table0Form).toBe('dense');
    expect(fast.log.filter((r) => r.op === 'read' && r.kind === 'l2').length).toBeGreaterThan(50);
  });

  it('a reopened image reads back what the sparse-table engine wrote', () => {
    const memory = new MemoryDevice();
    qedDriver.create({ device: memory, sizeBytes: 2 ** 50, options: { table_size: '16' } });
    const clock = new SimClock();
    const device = new MeteredDevice(memory, { clock });
    const image = new QedImage({ device, readOnly: false, forCheck: false, clock });
    const rng = new Rng(23);
    const offsets: number[] = [];
    for (let i = 0; i < 300; i++) {
      const offset = rng.nextInt(2 ** 50 / 4096) * 4096;
      offsets.push(offset);
      image.write(offset, new Uint8Array(4096).fill(1 + (i % 250)));
    }
    image.close();
    const again = new QedImage({
      device: new MeteredDevice(memory, { clock }),
      readOnly: true,
      forCheck: false,
      clock,
    });
    offsets.forEach((offset, i) => {
      const back = again.read(offset, 4096);
      // A later write to the same 4 KiB wins; none repeat with this seed in 2^38 pages.
      expect(back[0]).toBe(1 + (i % 250));
      expect(back[4095]).toBe(1 + (i % 250));
    });
    expect(again.check('none').corruptions).toBe(0);
  });
});
