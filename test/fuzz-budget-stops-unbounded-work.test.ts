import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { BudgetDevice, BudgetExceededError } from '../src/fuzz/budget-device.ts';

// The fuzzer's budget is what turns a hang or a huge allocation into a reported defect: it must
// stop a loop of reads, a read far larger than the file, and growth far past it.
describe('budget device', () => {
  const device = () => {
    const d = new MemoryDevice();
    d.write(0, new Uint8Array(64 * 1024).fill(1));
    return new BudgetDevice(d);
  };

  it('stops an endless walk (a cycle in a table chain)', () => {
    const b = device();
    let error: unknown;
    try {
      for (;;) b.read(0, 8, 'l2');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect((error as BudgetExceededError).limit).toBe('operations');
  });

  it('refuses one read far larger than the file allows', () => {
    expect(() => device().read(0, 1 << 30, 'l1')).toThrow(/single|bytes/);
  });

  it('refuses growing the file to an absurd offset', () => {
    expect(() => device().truncate(2 ** 62)).toThrow(BudgetExceededError);
    expect(() => device().write(2 ** 40, new Uint8Array(8), 'refblock')).toThrow(
      BudgetExceededError,
    );
  });

  it('lets proportionate work through', () => {
    const b = device();
    for (let i = 0; i < 1000; i++) b.read(i * 512, 4096, 'l2');
    b.write(128 * 1024, new Uint8Array(4096), 'data');
    expect(b.ops).toBe(1001);
  });
});
