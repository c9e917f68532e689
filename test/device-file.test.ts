import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileDevice } from '../src/device/file-device.ts';
import { LabError } from '../src/util/errors.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qedlab-file-device-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('FileDevice on a real file', () => {
  it('writes, reads back, zeroes, truncates and flushes', () => {
    const file = path.join(dir, 'img');
    const device = FileDevice.create(file);
    expect(device.size()).toBe(0);
    device.write(4096, new Uint8Array(8192).fill(0x5a), 'l2');
    expect(device.size()).toBe(12288);
    expect(device.read(4096, 8192, 'l2').every((b) => b === 0x5a)).toBe(true);
    expect(device.read(0, 4096, 'l2').every((b) => b === 0)).toBe(true);
    // Past EOF reads as zeros.
    expect(
      device
        .read(12000, 1000, 'l2')
        .subarray(288)
        .every((b) => b === 0),
    ).toBe(true);
    device.zeroRange(6000, 1000, 'zero-fill');
    const out = device.read(4096, 8192, 'l2');
    expect(out[6000 - 4096 - 1]).toBe(0x5a);
    expect(out.subarray(6000 - 4096, 7000 - 4096).every((b) => b === 0)).toBe(true);
    expect(out[7000 - 4096]).toBe(0x5a);
    device.zeroRange(20_000, 5000, 'zero-fill');
    expect(device.size()).toBe(25_000);
    device.truncate(5000);
    device.flush();
    device.close();
    expect(fs.statSync(file).size).toBe(5000);
    const reopened = FileDevice.open(file, { readOnly: true });
    expect(reopened.size()).toBe(5000);
    expect(reopened.read(4096, 904, 'l2').every((b) => b === 0x5a)).toBe(true);
    reopened.close();
  });

  it('a missing file is a one-line LabError', () => {
    expect(() => FileDevice.open(path.join(dir, 'missing'))).toThrow(LabError);
    expect(() => FileDevice.open(path.join(dir, 'missing'))).toThrow(
      /Could not open '.*missing': No such file or directory/,
    );
  });
});
