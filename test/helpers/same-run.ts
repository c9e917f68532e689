import { expect } from 'vitest';
import type { MemoryDevice } from '../../src/device/memory-device.ts';

/** Two runs of one workload, a fast path against the plain one, logged op by op. */
export interface LoggedRun {
  log: readonly string[];
  nowNs: number;
}

/** Same ops in the same order (the first difference is shown) and the same simulated time. */
export function expectSameRun(fast: LoggedRun, plain: LoggedRun): void {
  expect(fast.log.length).toBe(plain.log.length);
  const first = fast.log.findIndex((r, i) => r !== plain.log[i]);
  expect(
    first === -1 ? null : { at: first, fast: fast.log[first], plain: plain.log[first] },
  ).toBeNull();
  expect(fast.nowNs).toBe(plain.nowNs);
}

/** Same size and bytes, compared 4 MiB at a time (the first differing offset is shown). */
export function expectSameDeviceBytes(fast: MemoryDevice, plain: MemoryDevice): void {
  expect(fast.size()).toBe(plain.size());
  const chunk = 4 * 2 ** 20;
  const left = new Uint8Array(chunk);
  const right = new Uint8Array(chunk);
  for (let at = 0; at < fast.size(); at += chunk) {
    const n = Math.min(chunk, fast.size() - at);
    fast.readInto(at, left.subarray(0, n));
    plain.readInto(at, right.subarray(0, n));
    if (Buffer.compare(left.subarray(0, n), right.subarray(0, n)) !== 0) {
      let i = 0;
      while (left[i] === right[i]) i++;
      expect({ offset: at + i, fast: left[i] }).toEqual({ offset: at + i, fast: right[i] });
    }
  }
}
