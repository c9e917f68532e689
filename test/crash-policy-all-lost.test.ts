import { describe, expect, it } from 'vitest';
import { VolatileCacheDevice } from '../src/device/volatile-cache-device.ts';
import { expectBytesEqual } from './helpers/bytes.ts';
import { block, expectedTwoEpochImage, PAGE, twoEpochDevice } from './helpers/crash-fixtures.ts';

describe("crash policy 'all-lost'", () => {
  it('keeps exactly what the last flush made durable', () => {
    const device = twoEpochDevice();
    const image = device.crash({ kind: 'all-lost' });
    expect(image.size()).toBe(2 * PAGE);
    expectBytesEqual(image.toBytes(), expectedTwoEpochImage([]));
  });

  it('with no flush at all, leaves the initial image', () => {
    const device = new VolatileCacheDevice();
    device.write(0, block(1), 'header');
    const image = device.crash({ kind: 'all-lost' });
    expect(image.size()).toBe(0);
    expect(image.storedBytes()).toBe(0);
  });

  it('does not change the running device, and the crash image is independent of it', () => {
    const device = twoEpochDevice();
    const image = device.crash({ kind: 'all-lost' });
    image.write(0, block(0xff), 'l1');
    expect(device.read(0, 1, 'l1')[0]).toBe(0xc);
    expect(device.durable.read(0, 1, 'l1')[0]).toBe(0xa);
    expect(device.pendingOps()).toHaveLength(4);
  });
});
