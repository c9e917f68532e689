import { describe, expect, it } from 'vitest';
import { type CachedOp, enumerateCrashStates } from '../src/device/crash-states.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { VolatileCacheDevice } from '../src/device/volatile-cache-device.ts';
import { expectBytesEqual } from './helpers/bytes.ts';
import { block, expectedTwoEpochImage, PAGE, twoEpochDevice } from './helpers/crash-fixtures.ts';

describe('crash state enumeration', () => {
  it('yields every prefix first, in order, then distinct random states up to the bound', () => {
    const device = twoEpochDevice();
    const states = [...device.crashStates({ maxStates: 12, seed: 1 })];
    expect(states).toHaveLength(12);
    expect(states.slice(0, 5).map((s) => s.survivors)).toEqual([
      [],
      [0],
      [0, 1],
      [0, 1, 2],
      [0, 1, 2, 3],
    ]);
    expect(states[0]?.description).toBe('epoch 1: prefix 0/4');
    const keys = states.map((s) => s.survivors.join(','));
    expect(new Set(keys).size).toBe(keys.length);
    for (const state of states) {
      // Issue-order states must match the hand-built expectation exactly.
      const inOrder = state.survivors.every((v, i, a) => i === 0 || (a[i - 1] as number) < v);
      if (inOrder) expectBytesEqual(state.device.toBytes(), expectedTwoEpochImage(state.survivors));
    }
  });

  it('is lazy and deterministic for a seed', () => {
    const device = twoEpochDevice();
    const first = device.crashStates({ maxStates: 100, seed: 9 });
    expect(first.next().value?.survivors).toEqual([]);
    const a = [...device.crashStates({ maxStates: 20, seed: 9 })].map((s) => s.description);
    const b = [...device.crashStates({ maxStates: 20, seed: 9 })].map((s) => s.description);
    expect(a).toEqual(b);
  });

  it('stops when the space is exhausted: 2 ops that do not overlap give 4 subsets', () => {
    const pending: CachedOp[] = [
      { op: 'write', offsetBytes: 0, data: block(1), kind: 'l2' },
      { op: 'write', offsetBytes: PAGE, data: block(2), kind: 'l2' },
    ];
    const states = [
      ...enumerateCrashStates(new MemoryDevice(), pending, { maxStates: 50, seed: 3 }),
    ];
    expect(states.map((s) => s.survivors.join(',')).sort()).toEqual(['', '0', '0,1', '1']);
  });

  it('reorders overlapping ops: the older write can win', () => {
    const pending: CachedOp[] = [
      { op: 'write', offsetBytes: 0, data: block(1), kind: 'l2' },
      { op: 'write', offsetBytes: 0, data: block(2), kind: 'l2' },
    ];
    const states = [
      ...enumerateCrashStates(new MemoryDevice(), pending, { maxStates: 50, seed: 3 }),
    ];
    const orders = states.map((s) => s.survivors.join(','));
    expect(orders).toContain('1,0');
    const reordered = states.find((s) => s.survivors.join(',') === '1,0');
    expect(reordered?.device.read(0, 1, 'l2')[0]).toBe(1);
    expect(reordered?.description).toMatch(/reordered/);
    const noReorder = [
      ...enumerateCrashStates(new MemoryDevice(), pending, {
        maxStates: 50,
        seed: 3,
        reorder: false,
      }),
    ];
    expect(noReorder.map((s) => s.survivors.join(','))).not.toContain('1,0');
  });

  it('the full history lets an explorer crash inside any epoch', () => {
    const device = new VolatileCacheDevice(new MemoryDevice(), { recordHistory: true });
    device.write(0, block(1), 'header'); // epoch 0
    device.flush();
    device.write(PAGE, block(2), 'l1'); // epoch 1
    device.write(2 * PAGE, block(3), 'l2');
    device.flush();
    device.write(0, block(4), 'header'); // epoch 2 (open)
    const history = device.history;
    if (!history) throw new Error('history not recorded');
    expect(history.epochCount).toBe(3);
    expect(history.epochOps(1)).toHaveLength(2);
    expect(history.durableAtEpoch(2).read(2 * PAGE, 1, 'l2')[0]).toBe(3);
    expect(history.durableAtEpoch(1).size()).toBe(PAGE);

    const states = [...history.crashStates({ maxStatesPerEpoch: 10, seed: 1 })];
    // Closed epochs skip their full prefix (it is the next epoch's prefix 0).
    const prefixes = states
      .filter((s) => s.description.includes('prefix'))
      .map((s) => s.description);
    expect(prefixes).toEqual([
      'epoch 0: prefix 0/1',
      'epoch 1: prefix 0/2',
      'epoch 1: prefix 1/2',
      'epoch 2: prefix 0/1',
      'epoch 2: prefix 1/1',
    ]);
    const epoch1Prefix1 = states.find((s) => s.description === 'epoch 1: prefix 1/2');
    expect(epoch1Prefix1?.device.size()).toBe(2 * PAGE);
    expect(epoch1Prefix1?.device.read(0, 1, 'header')[0]).toBe(1);
    const last = states.find((s) => s.description === 'epoch 2: prefix 1/1');
    expect(last?.device.read(0, 1, 'header')[0]).toBe(4);
    expect(last?.device.size()).toBe(3 * PAGE);
    // Only the chosen epochs when asked.
    const only = [...history.crashStates({ maxStatesPerEpoch: 10, epochs: [1] })];
    expect(only.every((s) => s.epoch === 1)).toBe(true);
  });

  it('states are independent copies: changing one leaves the others and the source alone', () => {
    const device = twoEpochDevice();
    const states = [...device.crashStates({ maxStates: 5 })];
    states[0]?.device.write(0, block(0x77), 'l1');
    expect(states[1]?.device.read(0, 1, 'l1')[0]).toBe(0xc);
    expect(device.durable.read(0, 1, 'l1')[0]).toBe(0xa);
  });
});
