import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { FileDevice } from '../src/device/file-device.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import type { BlockDevice, IoRecord } from '../src/device/types.ts';
import { qedDriver } from '../src/formats/qed/qed-format.ts';

const GiB = 2 ** 30;

/** Checks the image on `inner` (read-only) and returns the metered I/O, the result and the time. */
function check(inner: BlockDevice): { log: IoRecord[]; result: unknown; simulatedNs: number } {
  const log: IoRecord[] = [];
  const clock = new SimClock();
  const device = new MeteredDevice(inner, { clock, log: (r) => log.push(r) });
  const image = qedDriver.open({ device, readOnly: true, forCheck: true, clock });
  const result = image.check?.('none');
  return { log, result, simulatedNs: clock.nowNs() };
}

describe('QED check on a real file: read-ahead keeps the metered I/O of one read per table', () => {
  it('file (large sequential reads) and memory (plain reads) give the same log, result and time', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qedlab-check-window-'));
    try {
      const file = path.join(dir, 'image.qed');
      const writer = FileDevice.create(file);
      qedDriver.create({ device: writer, sizeBytes: 2 ** 40, options: {} });
      const clock = new SimClock();
      const image = qedDriver.open({ device: writer, readOnly: false, forCheck: false, clock });
      const block = new Uint8Array(4096).fill(0x5a);
      // Tables in L1 order lie one after another in the file (with a data cluster between),
      // and one table is out of order, written last for a low L1 index.
      for (let i = 1; i < 60; i++) image.write(i * 3 * GiB + (i % 5) * 65536, block);
      image.write(0, block);
      image.close();
      writer.close();

      const reader = FileDevice.open(file, { readOnly: true });
      let fromFile: ReturnType<typeof check>;
      try {
        fromFile = check(reader);
      } finally {
        reader.close();
      }
      const fromMemory = check(MemoryDevice.fromBytes(new Uint8Array(fs.readFileSync(file))));
      expect(fromFile.log.filter((r) => r.op === 'read' && r.kind === 'l2')).toHaveLength(60);
      expect(fromFile.log).toEqual(fromMemory.log);
      expect(fromFile.result).toEqual(fromMemory.result);
      expect(fromFile.simulatedNs).toBe(fromMemory.simulatedNs);
      expect((fromFile.result as { allocatedClusters: number }).allocatedClusters).toBe(60);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
