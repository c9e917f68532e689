import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { applyCommand, labOpen } from './helpers/qcow2-lab.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir } from './helpers/qemu-compare.ts';

const OFFSET_MASK = 0x00fffffffffffe00n;
const COPIED = 1n << 63n;

// QEMU's dirty open fails only when the repair itself hits check errors (I/O failures); a
// corruption the repair cannot fix (an L2 entry past EOF) leaves the image openable, and the
// guest meets the error only when it reads that cluster.
describeWithQemu('qcow2: a dirty open with an unrepairable corruption', () => {
  it('opens in the lab as in QEMU, and the intact cluster reads back', () => {
    const dir = makeTempDir('qcow2-dirty-corrupt-');
    const base = path.join(dir, 'base.qcow2');
    spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'lazy_refcounts=on', base, '1G']);
    const lab = labOpen(base);
    applyCommand(lab.image, 'write -P 7 0 4k');
    applyCommand(lab.image, 'write -P 8 64k 4k');
    applyCommand(lab.image, 'flush');
    lab.abort();

    // Point guest cluster 1's L2 entry 1 TiB past the end of the file.
    const bytes = fs.readFileSync(base);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const l1OffsetBytes = Number(view.getBigUint64(40));
    const l2OffsetBytes = Number(view.getBigUint64(l1OffsetBytes) & OFFSET_MASK);
    view.setBigUint64(l2OffsetBytes + 8, (1n << 40n) | COPIED);
    const viaQemu = path.join(dir, 'qemu.qcow2');
    const viaLab = path.join(dir, 'lab.qcow2');
    fs.writeFileSync(viaQemu, bytes);
    fs.writeFileSync(viaLab, bytes);

    const qemu = spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'read -P 7 0 4k', viaQemu], {
      encoding: 'utf8',
    });
    expect(qemu.stdout + qemu.stderr).not.toMatch(/Could not repair dirty image/);
    expect(qemu.status).toBe(0);

    const reopened = labOpen(viaLab);
    expect(reopened.image.read(0, 4096)).toEqual(new Uint8Array(4096).fill(7));
    reopened.close();
  });
});
