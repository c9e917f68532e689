import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir, qemuImgCheckJson, runLabCli } from './helpers/qemu-compare.ts';

describeWithQemu('qcow2: a fatal corruption sets the corrupt bit as QEMU does', () => {
  it('unaligned L2 offset in the L1: write refused, corrupt bit written, r/w open refused', () => {
    const dir = makeTempDir('qcow2-corrupt-');
    const qemu = path.join(dir, 'qemu.qcow2');
    const lab = path.join(dir, 'lab.qcow2');
    spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', qemu, '1G']);
    spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 1 0 4k', qemu]);
    const fd = fs.openSync(qemu, 'r+');
    const entry = Buffer.alloc(8);
    entry.writeBigUInt64BE(0x40200n | (1n << 63n));
    fs.writeSync(fd, entry, 0, 8, 0x30000);
    fs.closeSync(fd);
    fs.copyFileSync(qemu, lab);

    spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 2 0 4k', qemu]);
    const write = runLabCli(['io', '-f', 'qcow2', '-c', 'write -P 2 0 4k', lab]);
    expect(write.stderr).toContain(
      'qcow2: Marking image as corrupt: L2 table offset 0x40200 unaligned (L1 index: 0); further corruption events will be suppressed',
    );
    expect(Buffer.compare(fs.readFileSync(lab), fs.readFileSync(qemu))).toBe(0);
    const reopen = runLabCli(['io', '-f', 'qcow2', '-c', 'read 0 4k', lab]);
    expect(reopen.stderr).toContain('Image is corrupt; cannot be opened read/write');
    const qemuCheck = qemuImgCheckJson(qemu, 'qcow2');
    const labCheck = runLabCli(['check', '--output', 'json', '-f', 'qcow2', lab]);
    expect(labCheck.status).toBe(qemuCheck.status);
    const { filename: _a, ...labJson } = JSON.parse(labCheck.stdout) as Record<string, unknown>;
    const { filename: _b, ...qemuJson } = qemuCheck.json;
    expect(labJson).toEqual(qemuJson);
  });
});
