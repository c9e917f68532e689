import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { FileDevice } from '../src/device/file-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import type { IoRecord } from '../src/device/types.ts';
import { QedImage } from '../src/formats/qed/qed-format.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir } from './helpers/qemu-compare.ts';

/** Grow only: the 64-byte header is rewritten (no flush), as `qemu-img resize` does. */
describeWithQemu('QED resize', () => {
  it('grows to the same bytes as qemu-img resize, refuses to shrink or pass the maximum', () => {
    const dir = makeTempDir();
    const qemuFile = path.join(dir, 'q.qed');
    const labFile = path.join(dir, 'l.qed');
    expect(spawnSync('qemu-img', ['create', '-q', '-f', 'qed', qemuFile, '1G']).status).toBe(0);
    fs.copyFileSync(qemuFile, labFile);
    expect(spawnSync('qemu-img', ['resize', '-q', '-f', 'qed', qemuFile, '3G']).status).toBe(0);
    const clock = new SimClock();
    const file = FileDevice.open(labFile);
    const log: IoRecord[] = [];
    const image = new QedImage({
      device: new MeteredDevice(file, { clock, log: (r) => log.push(r) }),
      readOnly: false,
      forCheck: false,
      clock,
    });
    image.resize(3 * 2 ** 30);
    expect(() => image.resize(2 ** 30)).toThrow('Shrinking images is currently not supported');
    expect(() => image.resize(65 * 2 ** 40)).toThrow('Invalid image size specified');
    expect(() => image.resize(3 * 2 ** 30 + 100)).toThrow('Invalid image size specified');
    expect(image.virtualSizeBytes).toBe(3 * 2 ** 30);
    image.close();
    file.close();
    expect(log.filter((r) => r.op === 'write')).toEqual([
      { op: 'write', offset: 0, length: 64, kind: 'header' },
    ]);
    expect(fs.readFileSync(labFile).equals(fs.readFileSync(qemuFile))).toBe(true);
  });
});
