import { expect } from 'vitest';
import { SimClock } from '../../src/device/clock.ts';
import { type CostModelName, createCostModel } from '../../src/device/cost-models.ts';
import type { MemoryDevice } from '../../src/device/memory-device.ts';
import { MeteredDevice } from '../../src/device/metered-device.ts';
import type { BlockDevice, IoRecord } from '../../src/device/types.ts';
import { qcow2Driver } from '../../src/formats/qcow2/qcow2-format.ts';
import type { ImageFormat } from '../../src/formats/types.ts';

/** A 1 TiB qcow2 image created on `memory`, behind a MeteredDevice that logs every host op. */
export interface LoggedQcow2 {
  log: string[];
  clock: SimClock;
  metered: MeteredDevice;
  /** Opens the image read-write (again, after a simulated power cut). */
  open(): ImageFormat;
}

export function loggedQcow2(
  memory: MemoryDevice,
  options: {
    costModel: CostModelName;
    createOptions?: Record<string, string>;
    /** What the metered device sits on (default: `memory` itself). */
    below?: BlockDevice;
  },
): LoggedQcow2 {
  qcow2Driver.create({ device: memory, sizeBytes: 2 ** 40, options: options.createOptions ?? {} });
  const log: string[] = [];
  const clock = new SimClock();
  const metered = new MeteredDevice(options.below ?? memory, {
    clock,
    costModel: createCostModel(options.costModel),
    log: (r: IoRecord) => log.push(JSON.stringify(r)),
  });
  const open = (): ImageFormat =>
    qcow2Driver.open({ device: metered, readOnly: false, forCheck: false, clock });
  return { log, clock, metered, open };
}

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
