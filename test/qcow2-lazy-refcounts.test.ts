import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { applyCommand, labOpen } from './helpers/qcow2-lab.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir, qemuImgCheckJson } from './helpers/qemu-compare.ts';

const DIRTY_BYTE = 79; // low byte of incompatible_features (offset 72, big-endian)

describeWithQemu('qcow2: lazy refcounts, abort, dirty open repair', () => {
  it('abort leaves the dirty bit; the lab repairs on open exactly as QEMU does', () => {
    const dir = makeTempDir('qcow2-lazy-');
    const base = path.join(dir, 'base.qcow2');
    spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'lazy_refcounts=on', base, '1G']);
    const lab = labOpen(base);
    applyCommand(lab.image, 'write -P 1 0 4k');
    applyCommand(lab.image, 'write -P 2 64k 4k');
    applyCommand(lab.image, 'flush');
    lab.abort();
    const bytes = fs.readFileSync(base);
    expect((bytes[DIRTY_BYTE] as number) & 1).toBe(1);
    const before = qemuImgCheckJson(base, 'qcow2');
    expect(before.status).toBe(2);
    expect(before.json.corruptions).toBe(4);

    const viaQemu = path.join(dir, 'qemu.qcow2');
    const viaLab = path.join(dir, 'lab.qcow2');
    fs.copyFileSync(base, viaQemu);
    fs.copyFileSync(base, viaLab);
    spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'read 0 4k', viaQemu]);
    const reopened = labOpen(viaLab);
    expect(reopened.image.read(0, 4096)).toEqual(new Uint8Array(4096).fill(1));
    reopened.close();
    const after = qemuImgCheckJson(viaLab, 'qcow2');
    expect(after.status, after.stderr).toBe(0);
    expect(after.json.corruptions ?? 0).toBe(0);
    expect(after.json.leaks ?? 0).toBe(0);
    expect((fs.readFileSync(viaLab)[DIRTY_BYTE] as number) & 1).toBe(0);
    // QEMU's own repair (rebuild, then the old structures freed) produces the same file.
    expect(Buffer.compare(fs.readFileSync(viaLab), fs.readFileSync(viaQemu))).toBe(0);
  });
});
