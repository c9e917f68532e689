import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { zeroBytes } from '../src/device/types.ts';
import { VolatileCacheDevice } from '../src/device/volatile-cache-device.ts';
import { block, PAGE } from './helpers/crash-fixtures.ts';

describe('VolatileCacheDevice: pending writes, reads and flush', () => {
  it('reads see pending writes; the durable image does not until a flush', () => {
    const device = new VolatileCacheDevice();
    device.write(0, block(1), 'l1');
    expect(device.read(0, 1, 'l1')[0]).toBe(1);
    expect(device.size()).toBe(PAGE);
    expect(device.durable.size()).toBe(0);
    device.flush();
    expect(device.durable.read(0, 1, 'l1')[0]).toBe(1);
    expect(device.pendingOps()).toHaveLength(0);
  });

  it('pending ops keep a copy of the data: reusing the caller buffer changes nothing', () => {
    const device = new VolatileCacheDevice();
    const buffer = block(7);
    device.write(0, buffer, 'l2');
    buffer.fill(9);
    device.flush();
    expect(device.durable.read(0, 1, 'l2')[0]).toBe(7);
  });

  it('a flush with nothing pending does nothing', () => {
    const device = new VolatileCacheDevice();
    device.flush();
    expect(device.flushCount).toBe(0);
    device.write(0, block(1), 'l1');
    device.flush();
    device.flush();
    expect(device.flushCount).toBe(1);
    device.zeroRange(0, 10, 'zero-fill');
    device.flush();
    device.truncate(100);
    device.flush();
    expect(device.flushCount).toBe(3);
  });

  it('starts from an existing durable image and leaves it alone until flush', () => {
    const base = MemoryDevice.fromBytes(block(5, 100));
    const device = new VolatileCacheDevice(base);
    device.write(0, block(6, 10), 'header');
    expect(base.read(0, 1)[0]).toBe(5);
    expect(device.read(0, 1, 'header')[0]).toBe(6);
    device.flush();
    expect(base.read(0, 1)[0]).toBe(6);
  });

  it("in dataMode 'drop', guest data is neither stored nor copied into the cache", () => {
    const device = new VolatileCacheDevice(new MemoryDevice({ dataMode: 'drop' }));
    device.write(0, block(3, 65536), 'data');
    const pending = device.pendingOps()[0];
    expect(pending?.op).toBe('write');
    if (pending?.op === 'write') expect(pending.data.buffer).toBe(zeroBytes(1).buffer);
    device.flush();
    expect(device.durable.storedBytes()).toBe(0);
    expect(device.durable.size()).toBe(65536);
  });
});
