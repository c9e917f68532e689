import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { openQcow2 } from '../src/formats/qcow2/qcow2-format.ts';
import { applyCommand, labOpen } from './helpers/qcow2-lab.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import {
  makeTempDir,
  qemuImgCheckJson,
  qemuIoPatternFailures,
  qemuIoRun,
} from './helpers/qemu-compare.ts';

function qemuImg(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('qemu-img', args, { encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describeWithQemu('qcow2: internal snapshots', () => {
  it('1,000 snapshots made by the lab pass qemu-img check and are listed', () => {
    const dir = makeTempDir('qcow2-snap-');
    const file = path.join(dir, 'a.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', file, '1G']);
    // In memory: a thousand snapshots cost thousands of fdatasyncs on a real file.
    const memory = MemoryDevice.fromBytes(fs.readFileSync(file));
    const image = openQcow2({
      device: new MeteredDevice(memory),
      readOnly: false,
      forCheck: false,
      discardUnmap: false,
    });
    for (let i = 0; i < 1000; i++) {
      applyCommand(image, `write -P ${(i % 250) + 1} ${(i % 40) * 64}k 4k`);
      image.snapshots.create(`snap${i}`, { dateSec: 1_700_000_000 + i, dateNsec: 0 });
    }
    image.close();
    fs.writeFileSync(file, memory.toBytes());
    const check = qemuImgCheckJson(file, 'qcow2');
    expect(check.status, check.stderr).toBe(0);
    const list = qemuImg(['snapshot', '-l', file]);
    expect(list.status).toBe(0);
    const rows = list.stdout.split('\n').filter((l) => /^\d+\s+snap\d+\s/.test(l));
    expect(rows.length).toBe(1000);
    expect(rows[999]).toMatch(/^1000\s+snap999\s/);
    // The last write of each region is what the active image holds.
    expect(qemuIoPatternFailures(qemuIoRun(file, 'qcow2', [`read -P 250 ${39 * 64}k 4k`]))).toEqual(
      [],
    );
  });

  it('snapshots made by qemu-img are listed, readable after revert and deletable by the lab', () => {
    const dir = makeTempDir('qcow2-snap-');
    const file = path.join(dir, 'b.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', file, '1G']);
    spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x11 0 128k', file]);
    expect(qemuImg(['snapshot', '-c', 'first', file]).status).toBe(0);
    spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x22 0 64k', file]);
    expect(qemuImg(['snapshot', '-c', 'second', file]).status).toBe(0);
    spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x33 0 4k', file]);

    const lab = labOpen(file);
    expect(lab.image.snapshots.list().map((s) => [s.id, s.name])).toEqual([
      ['1', 'first'],
      ['2', 'second'],
    ]);
    lab.image.snapshots.revert('first');
    expect(lab.image.read(0, 128 * 1024)).toEqual(new Uint8Array(128 * 1024).fill(0x11));
    lab.image.snapshots.delete('second');
    lab.image.snapshots.delete('first');
    expect(lab.image.snapshots.list()).toEqual([]);
    lab.close();
    const check = qemuImgCheckJson(file, 'qcow2');
    expect(check.status, check.stderr).toBe(0);
    expect(qemuImg(['snapshot', '-l', file]).stdout.trim()).toBe('');
    expect(qemuIoPatternFailures(qemuIoRun(file, 'qcow2', ['read -P 0x11 0 128k']))).toEqual([]);
  });

  it('create and delete write the same image as qemu-img snapshot', () => {
    const dir = makeTempDir('qcow2-snap-');
    const a = path.join(dir, 'qemu.qcow2');
    const b = path.join(dir, 'lab.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', a, '1G']);
    spawnSync('qemu-io', [
      '-f',
      'qcow2',
      '-c',
      'write -P 1 0 128k',
      '-c',
      'write -P 2 600m 64k',
      a,
    ]);
    fs.copyFileSync(a, b);
    qemuImg(['snapshot', '-c', 's1', a]);
    // The lab takes QEMU's timestamp, so the (freed, not erased) old table bytes match too.
    const probe = labOpen(a, { readOnly: true });
    const [made] = probe.image.snapshots.list();
    probe.abort();
    spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 9 0 4k', a]);
    qemuImg(['snapshot', '-d', 's1', a]);
    const lab = labOpen(b);
    lab.image.snapshots.create('s1', {
      dateSec: made?.dateSec ?? 0,
      dateNsec: made?.dateNsec ?? 0,
    });
    lab.close();
    spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 9 0 4k', b]);
    const lab2 = labOpen(b);
    lab2.image.snapshots.delete('s1');
    lab2.close();
    expect(Buffer.compare(fs.readFileSync(a), fs.readFileSync(b))).toBe(0);
  });
});
