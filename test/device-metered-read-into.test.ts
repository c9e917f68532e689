import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { createCostModel } from '../src/device/cost-models.ts';
import { FileDevice } from '../src/device/file-device.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import type { BlockDevice, IoRecord } from '../src/device/types.ts';

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

/** Reads the same ranges with read and with readInto; returns what each saw and charged. */
function compare(inner: BlockDevice): void {
  const ranges: Array<[number, number]> = [
    [0, 4096],
    [1000, 9000],
    [60_000, 8192], // crosses the end of what was written: zeros past it
  ];
  const logA: IoRecord[] = [];
  const logB: IoRecord[] = [];
  const clockA = new SimClock();
  const clockB = new SimClock();
  const a = new MeteredDevice(inner, {
    clock: clockA,
    costModel: createCostModel('hdd'),
    log: (r) => logA.push(r),
  });
  const b = new MeteredDevice(inner, {
    clock: clockB,
    costModel: createCostModel('hdd'),
    log: (r) => logB.push(r),
  });
  for (const [offset, length] of ranges) {
    const expected = a.read(offset, length, 'l2');
    const out = new Uint8Array(length).fill(0xee); // stale bytes must all be overwritten
    b.readInto(offset, out, 'l2');
    expect(Buffer.from(out).equals(Buffer.from(expected))).toBe(true);
  }
  expect(logB).toEqual(logA);
  expect(b.counters.snapshot()).toEqual(a.counters.snapshot());
  expect(clockB.nowNs()).toBe(clockA.nowNs());
}

describe('MeteredDevice.readInto: the same bytes, counts, log and simulated time as read', () => {
  it('over a MemoryDevice', () => {
    const memory = new MemoryDevice();
    memory.write(0, pattern(64_000, 1), 'l2');
    compare(memory);
  });

  it('over a FileDevice (pread into the buffer, zeros past the end of the file)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qedlab-read-into-'));
    try {
      const file = path.join(dir, 'image');
      fs.writeFileSync(file, pattern(64_000, 2));
      const device = FileDevice.open(file, { readOnly: true });
      try {
        compare(device);
      } finally {
        device.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
