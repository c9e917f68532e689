import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir, runLabCli } from './helpers/qemu-compare.ts';

/** `qedlab info --output json` prints what `qemu-img info --output=json` prints for QED images. */
describeWithQemu('QED info JSON matches qemu-img info', () => {
  it('plain and backed images', () => {
    const dir = makeTempDir();
    fs.writeFileSync(path.join(dir, 'base.raw'), Buffer.alloc(1 << 20, 1));
    const plain = path.join(dir, 'p.qed');
    const backed = path.join(dir, 'b.qed');
    spawnSync('qemu-img', ['create', '-q', '-f', 'qed', '-o', 'cluster_size=4k', plain, '3G']);
    spawnSync('qemu-img', ['create', '-q', '-f', 'qed', '-b', 'base.raw', '-F', 'raw', backed], {
      cwd: dir,
    });
    spawnSync('qemu-io', ['-f', 'qed', '-c', 'write -P 1 0 64k', plain]);
    for (const file of [plain, backed]) {
      const lab = runLabCli(['info', '--output', 'json', file]);
      expect(lab.status, lab.stderr).toBe(0);
      const qemu = spawnSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' });
      expect(lab.stdout).toBe(qemu.stdout);
    }
  });
});
