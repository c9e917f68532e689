import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { createCostModel } from '../src/device/cost-models.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import type { IoRecord } from '../src/device/types.ts';
import { VolatileCacheDevice } from '../src/device/volatile-cache-device.ts';

describe('MeteredDevice: counts, log, simulated time and flush elision', () => {
  it('counts ops and bytes per kind and logs every host op', () => {
    const log: IoRecord[] = [];
    const device = new MeteredDevice(new MemoryDevice(), { log: (r) => log.push(r) });
    device.write(0, new Uint8Array(512), 'header');
    device.write(65536, new Uint8Array(4096), 'l2');
    device.write(131072, new Uint8Array(4096), 'l2');
    device.read(65536, 4096, 'l2');
    device.zeroRange(1 << 20, 65536, 'zero-fill');
    device.flush();
    device.truncate(1 << 21);
    const counts = device.counters.snapshot();
    expect(counts.write.l2).toEqual({ ops: 2, bytes: 8192 });
    expect(counts.write.header).toEqual({ ops: 1, bytes: 512 });
    expect(counts.read.l2).toEqual({ ops: 1, bytes: 4096 });
    expect(counts.zero['zero-fill']).toEqual({ ops: 1, bytes: 65536 });
    expect(counts.flushes).toBe(1);
    expect(counts.truncates).toBe(1);
    expect(device.counters.totalWrittenBytes({ metadataOnly: true })).toBe(512 + 8192);
    expect(log).toEqual([
      { op: 'write', offset: 0, length: 512, kind: 'header' },
      { op: 'write', offset: 65536, length: 4096, kind: 'l2' },
      { op: 'write', offset: 131072, length: 4096, kind: 'l2' },
      { op: 'read', offset: 65536, length: 4096, kind: 'l2' },
      { op: 'zero', offset: 1 << 20, length: 65536, kind: 'zero-fill' },
      { op: 'flush' },
      { op: 'truncate', size: 1 << 21 },
    ]);
  });

  it('a flush with nothing written since the last one is free and issues nothing', () => {
    const clock = new SimClock();
    const inner = new VolatileCacheDevice();
    const device = new MeteredDevice(inner, { clock, costModel: createCostModel('nvme') });
    device.flush();
    expect(device.counters.flushes).toBe(0);
    expect(clock.nowNs()).toBe(0);
    device.write(0, new Uint8Array(4096).fill(1), 'l1');
    expect(device.dirtySinceFlush).toBe(true);
    device.flush();
    const afterOne = clock.nowNs();
    device.read(0, 4096, 'l1');
    device.flush();
    device.flush();
    expect(device.counters.flushes).toBe(1);
    expect(inner.flushCount).toBe(1);
    expect(clock.nowNs() - afterOne).toBe(77_900); // the read only
    // zero ranges and truncates dirty the device too
    device.zeroRange(0, 10, 'zero-fill');
    device.flush();
    device.truncate(100);
    device.flush();
    expect(device.counters.flushes).toBe(3);
  });

  it("charges the cost model's time to the clock: 4 KiB read + write + flush on nvme", () => {
    const clock = new SimClock();
    const device = new MeteredDevice(new MemoryDevice(), {
      clock,
      costModel: createCostModel('nvme'),
    });
    device.write(0, new Uint8Array(4096).fill(1), 'data');
    device.read(0, 4096, 'data');
    device.flush();
    expect(clock.nowNs()).toBe(20_000 + 77_900 + 1_643_000);
  });
});
