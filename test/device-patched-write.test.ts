import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { createCostModel } from '../src/device/cost-models.ts';
import { FileDevice } from '../src/device/file-device.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { type IoRecord, type PatchedWrite, writePatched } from '../src/device/types.ts';
import { VolatileCacheDevice } from '../src/device/volatile-cache-device.ts';

const MiB = 1 << 20;

function pattern(lengthBytes: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(lengthBytes);
  for (let i = 0; i < lengthBytes; i++) bytes[i] = (i * 31 + seed) & 0xff || 1;
  return bytes;
}

/** What a plain write of the same content leaves on a fresh copy of `before`. */
function expectedAfter(
  before: Uint8Array,
  offsetBytes: number,
  lengthBytes: number,
  write: PatchedWrite,
): Uint8Array {
  const size = Math.max(before.length, offsetBytes + lengthBytes);
  const out = new Uint8Array(size);
  out.set(before);
  if (write.base === 'zero') out.fill(0, offsetBytes, offsetBytes + lengthBytes);
  for (const p of write.patches) out.set(p.bytes, offsetBytes + p.atBytes);
  return out;
}

/** Byte equality by memcmp (toEqual walks big typed arrays element by element). */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  expect(Buffer.compare(actual, expected)).toBe(0);
}

describe('patched writes: one host write described by what changed', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('a zero-base write clears the old content and stores only the patched pages', () => {
    const device = new MemoryDevice();
    device.write(0, pattern(2 * MiB, 7));
    const before = device.toBytes();
    const write: PatchedWrite = {
      base: 'zero',
      patches: [{ atBytes: 8 * 4096 + 16, bytes: pattern(8, 3) }],
    };
    writePatched(device, MiB / 2, MiB, write, 'l2');
    expectSameBytes(device.toBytes(), expectedAfter(before, MiB / 2, MiB, write));
    // 2 MiB of pages before, 1 MiB of them cleared, one page holds the patch.
    expect(device.storedPages()).toBe(256 + 1);
  });

  it('an unchanged-base write keeps the bytes around the patches, and may extend the device', () => {
    const device = new MemoryDevice();
    device.write(0, pattern(64 * 1024, 9));
    const before = device.toBytes();
    const write: PatchedWrite = {
      base: 'unchanged',
      patches: [
        { atBytes: 100, bytes: pattern(8, 1) },
        { atBytes: 70_000, bytes: pattern(24, 2) },
      ],
    };
    writePatched(device, 4096, 128 * 1024, write, 'refblock');
    expect(device.size()).toBe(4096 + 128 * 1024);
    expectSameBytes(device.toBytes(), expectedAfter(before, 4096, 128 * 1024, write));
  });

  it('is one write op of the full length: counted, logged and charged like write()', () => {
    const runs = (['write', 'patched'] as const).map((how) => {
      const log: IoRecord[] = [];
      const clock = new SimClock();
      const device = new MeteredDevice(new MemoryDevice(), {
        clock,
        costModel: createCostModel('hdd'),
        log: (r) => log.push(r),
      });
      device.write(0, pattern(4096, 1), 'header');
      device.flush();
      if (how === 'write') device.write(MiB, new Uint8Array(256 * 1024), 'l2');
      else writePatched(device, MiB, 256 * 1024, { base: 'zero', patches: [] }, 'l2');
      device.flush();
      return { log, ns: clock.nowNs(), counts: device.counters.snapshot() };
    });
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[1]?.log[2]).toEqual({ op: 'write', offset: MiB, length: 256 * 1024, kind: 'l2' });
  });

  it('devices without their own support get the materialised bytes', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qedlab-patched-'));
    dirs.push(dir);
    const file = FileDevice.create(path.join(dir, 'img'));
    const cache = new VolatileCacheDevice();
    const memory = new MemoryDevice();
    const writes: Array<[number, number, PatchedWrite]> = [
      [0, 8192, { base: 'zero', patches: [{ atBytes: 4000, bytes: pattern(200, 5) }] }],
      [4096, 16384, { base: 'unchanged', patches: [{ atBytes: 0, bytes: pattern(10, 6) }] }],
      [16384, 4096, { base: 'unchanged', patches: [], whole: new Uint8Array(4096) }],
    ];
    try {
      for (const device of [file, cache, memory]) {
        for (const [offset, length, write] of writes)
          writePatched(device, offset, length, write, 'l2');
      }
      const want = memory.toBytes();
      expectSameBytes(file.read(0, file.size(), 'l2'), want);
      expectSameBytes(cache.read(0, cache.size(), 'l2'), want);
    } finally {
      file.close();
    }
  });

  it('under the test suite, an unchanged write whose whole buffer disagrees with the device throws', () => {
    expect(process.env.QEDLAB_VERIFY_PATCHED_WRITES).toBe('1');
    const device = new MemoryDevice();
    device.write(0, pattern(4096, 4));
    const stale = pattern(4096, 4);
    stale[17] = (stale[17] as number) ^ 0xff;
    expect(() =>
      writePatched(device, 0, 4096, { base: 'unchanged', patches: [], whole: stale }, 'l2'),
    ).toThrow(/byte 17 of the op/);
    const good = pattern(4096, 4);
    good.set(pattern(8, 8), 64);
    writePatched(
      device,
      0,
      4096,
      { base: 'unchanged', patches: [{ atBytes: 64, bytes: pattern(8, 8) }], whole: good },
      'l2',
    );
    expectSameBytes(device.toBytes(), good);
  });

  it('rejects a patch outside the op', () => {
    expect(() =>
      writePatched(
        new MemoryDevice(),
        0,
        4096,
        { base: 'zero', patches: [{ atBytes: 4090, bytes: new Uint8Array(8) }] },
        'l2',
      ),
    ).toThrow(/outside 4096 bytes/);
  });
});
