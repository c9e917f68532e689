import { describe, expect, it } from 'vitest';
import { expectBytesEqual } from './helpers/bytes.ts';
import { expectedTwoEpochImage, PAGE, twoEpochDevice } from './helpers/crash-fixtures.ts';

describe("crash policy 'prefix'", () => {
  it.each([0, 1, 2, 3, 4])('the first %d pending ops survive, in order', (count) => {
    const device = twoEpochDevice();
    const image = device.crash({ kind: 'prefix', count });
    const survivors = Array.from({ length: count }, (_, i) => i);
    expectBytesEqual(image.toBytes(), expectedTwoEpochImage(survivors));
  });

  it('hand-checked states: C over A, D extending, B zeroed, truncate', () => {
    const device = twoEpochDevice();
    expect(device.crash({ kind: 'prefix', count: 1 }).read(0, 1, 'l1')[0]).toBe(0xc);
    expect(device.crash({ kind: 'prefix', count: 1 }).size()).toBe(2 * PAGE);
    expect(device.crash({ kind: 'prefix', count: 2 }).size()).toBe(3 * PAGE);
    expect(device.crash({ kind: 'prefix', count: 2 }).read(PAGE, 1, 'l2')[0]).toBe(0xb);
    expect(device.crash({ kind: 'prefix', count: 3 }).read(PAGE, 1, 'l2')[0]).toBe(0);
    expect(device.crash({ kind: 'prefix', count: 4 }).size()).toBe(4 * PAGE);
  });

  it('the full prefix equals what the running device reads', () => {
    const device = twoEpochDevice();
    const image = device.crash({ kind: 'prefix', count: 4 });
    expectBytesEqual(image.toBytes(), device.read(0, device.size(), 'l1'));
  });

  it('a prefix longer than the pending ops is rejected', () => {
    expect(() => twoEpochDevice().crash({ kind: 'prefix', count: 5 })).toThrow(RangeError);
  });
});
