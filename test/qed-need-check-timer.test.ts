import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { parseIoLog } from '../src/device/io-log.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import type { IoRecord } from '../src/device/types.ts';
import { QedImage, qedDriver } from '../src/formats/qed/qed-format.ts';
import { rawDriver } from '../src/formats/raw/raw-format.ts';
import { makeTempDir, runLabCli } from './helpers/qemu-compare.ts';

/**
 * NEED_CHECK on the simulated clock: set by the first allocating write (no backing file), left set
 * by a power cut, cleared 5 s after the allocation queue drains unless another allocating write
 * comes first.
 */
function featuresOnDisk(file: string): number {
  return fs.readFileSync(file).readUInt32LE(16);
}

function newImage(): { image: QedImage; clock: SimClock; memory: MemoryDevice; log: IoRecord[] } {
  const clock = new SimClock();
  const memory = new MemoryDevice();
  const log: IoRecord[] = [];
  qedDriver.create({ device: memory, sizeBytes: 2 ** 30, options: {} });
  const device = new MeteredDevice(memory, { clock, log: (r) => log.push(r) });
  const image = new QedImage({ device, readOnly: false, forCheck: false, clock });
  return { image, clock, memory, log };
}

const flagSet = (memory: MemoryDevice) => (memory.read(16, 1)[0] as number) & 2;

describe('QED need-check timer', () => {
  it('abort after writes leaves NEED_CHECK set on disk', () => {
    const dir = makeTempDir();
    const file = path.join(dir, 'a.qed');
    expect(runLabCli(['create', '-f', 'qed', file, '1G']).status).toBe(0);
    const r = runLabCli(['io', '-q', '-f', 'qed', '-c', 'write -P 1 0 4k', '-c', 'abort', file]);
    expect(r.status, r.stderr).toBe(0);
    expect(featuresOnDisk(file)).toBe(0x02);
  });

  it('sleep 6000 after writes lets the timer clear the flag: flush, header sector, flush', () => {
    const dir = makeTempDir();
    const file = path.join(dir, 'a.qed');
    const logFile = path.join(dir, 'io.log');
    expect(runLabCli(['create', '-f', 'qed', file, '1G']).status).toBe(0);
    const r = runLabCli([
      'io',
      '-q',
      '-f',
      'qed',
      '-t',
      'writeback',
      '--io-log',
      logFile,
      '-c',
      'write -P 1 0 4k',
      '-c',
      'sleep 6000',
      '-c',
      'abort',
      file,
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(featuresOnDisk(file)).toBe(0);
    const tail = parseIoLog(fs.readFileSync(logFile, 'utf8')).slice(-4);
    expect(tail).toEqual([
      { op: 'flush' },
      { op: 'read', offset: 0, length: 512, kind: 'header' },
      { op: 'write', offset: 0, length: 512, kind: 'header' },
      { op: 'flush' },
    ]);
  });

  it('the next allocating write cancels the timer; the deadline restarts when it completes', () => {
    const { image, clock, memory } = newImage();
    image.write(0, new Uint8Array(4096).fill(1));
    expect(flagSet(memory)).toBe(2);
    clock.sleepNs(4e9);
    image.write(1 << 20, new Uint8Array(4096).fill(2)); // allocating: cancels, re-arms at +5 s
    clock.sleepNs(4e9);
    expect(flagSet(memory)).toBe(2);
    expect(image.needCheckTimer.armed).toBe(true);
    clock.sleepNs(1e9);
    expect(flagSet(memory)).toBe(0);
    expect(image.needCheckTimer.armed).toBe(false);
  });

  it('an in-place write does not touch the timer', () => {
    const { image, clock, memory } = newImage();
    image.write(0, new Uint8Array(4096).fill(1));
    clock.sleepNs(3e9);
    image.write(0, new Uint8Array(4096).fill(3)); // cluster allocated: no allocation slot
    clock.sleepNs(2e9);
    expect(flagSet(memory)).toBe(0);
  });

  it('the first allocating write after the flag was cleared sets it again (header read-modify-write)', () => {
    const { image, clock, memory, log } = newImage();
    image.write(0, new Uint8Array(4096).fill(1));
    clock.sleepNs(6e9);
    expect(flagSet(memory)).toBe(0);
    log.length = 0;
    image.write(64 * 1024, new Uint8Array(512).fill(1));
    expect(flagSet(memory)).toBe(2);
    expect(log.slice(0, 2)).toEqual([
      { op: 'read', offset: 0, length: 512, kind: 'header' },
      { op: 'write', offset: 0, length: 512, kind: 'header' },
    ]);
  });

  it('close drains: a pending timer fires, so a cleanly closed image is clean', () => {
    const { image, memory, log } = newImage();
    image.write(0, new Uint8Array(4096).fill(1));
    log.length = 0;
    image.close();
    expect(flagSet(memory)).toBe(0);
    expect(log.filter((r) => r.op !== 'read')).toEqual([
      { op: 'flush' },
      { op: 'write', offset: 0, length: 512, kind: 'header' },
      { op: 'flush' },
    ]);
  });

  it('with a backing file NEED_CHECK is never set', () => {
    const clock = new SimClock();
    const base = new MemoryDevice();
    base.truncate(2 ** 20);
    const memory = new MemoryDevice();
    const openBacking = () =>
      rawDriver.open({ device: base, readOnly: true, forCheck: false, clock });
    qedDriver.create({
      device: memory,
      sizeBytes: 2 ** 20,
      options: { backing_file: 'b.raw', backing_fmt: 'raw' },
      openBacking,
    });
    const image = new QedImage({
      device: new MeteredDevice(memory, { clock }),
      readOnly: false,
      forCheck: false,
      clock,
      openBacking,
    });
    image.write(0, new Uint8Array(4096).fill(1));
    expect(flagSet(memory)).toBe(0);
    expect(image.needCheckTimer.armed).toBe(false);
  });
});
