import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir, qemuImgCheckJson, runLabCli } from './helpers/qemu-compare.ts';

describeWithQemu('qedlab snapshot -c|-d|-a|-l', () => {
  it('creates, deletes and lists snapshots as qemu-img snapshot does', () => {
    const dir = makeTempDir('qcow2-snapcli-');
    const file = path.join(dir, 'a.qcow2');
    spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, '1G']);
    spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 3 0 64k', file]);
    for (const name of ['one', 'two', 'three']) {
      expect(runLabCli(['snapshot', '-c', name, file]).status).toBe(0);
    }
    expect(runLabCli(['snapshot', '-d', 'two', file]).status).toBe(0);
    expect(spawnSync('qemu-img', ['snapshot', '-d', 'one', file]).status).toBe(0);
    // Like qemu-img, -d takes a name, not an id.
    expect(runLabCli(['snapshot', '-d', '3', file]).status).not.toBe(0);
    const lab = runLabCli(['snapshot', '-l', file]);
    const qemu = spawnSync('qemu-img', ['snapshot', '-l', file], { encoding: 'utf8' });
    expect(lab.status).toBe(0);
    expect(lab.stdout).toBe(qemu.stdout);
    expect(lab.stdout).toMatch(/^3\s+three\s/m);
    expect(runLabCli(['snapshot', '-a', 'three', file]).status).toBe(0);
    const missing = runLabCli(['snapshot', '-a', 'nope', file]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain(
      "Could not apply snapshot 'nope': Failed to load snapshot: No such file or directory",
    );
    expect(qemuImgCheckJson(file, 'qcow2').status).toBe(0);
  });
});
