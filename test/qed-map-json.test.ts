import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir, qemuImgMapJson, qemuIoRun, runLabCli } from './helpers/qemu-compare.ts';
import { randomQemuIoScript } from './helpers/random-qemu-io-script.ts';

/** `qedlab map --output json` prints exactly what `qemu-img map --output=json` prints. */
describeWithQemu('QED map JSON matches qemu-img map', () => {
  const geometries = [
    { size: 2 ** 40, cs: 65536, ts: 4, options: [] as string[] },
    { size: 2 ** 32, cs: 4096, ts: 2, options: ['-o', 'cluster_size=4k,table_size=2'] },
  ];
  geometries.forEach((g, i) => {
    it(`random writes, cluster ${g.cs}, table ${g.ts}`, () => {
      const dir = makeTempDir();
      const file = path.join(dir, 'm.qed');
      expect(
        spawnSync('qemu-img', ['create', '-q', '-f', 'qed', ...g.options, file, String(g.size)])
          .status,
      ).toBe(0);
      const { commands } = randomQemuIoScript({
        seed: 500 + i,
        sizeBytes: g.size,
        clusterSizeBytes: g.cs,
        l2CoverageBytes: ((g.cs * g.ts) / 8) * g.cs,
        count: 40,
      });
      qemuIoRun(file, 'qed', commands);
      const lab = runLabCli(['map', '--output', 'json', file]);
      expect(lab.status, lab.stderr).toBe(0);
      const qemu = qemuImgMapJson(file, 'qed');
      expect(qemu.entries.length).toBeGreaterThan(3);
      expect(lab.stdout).toBe(qemu.text);
    });
  });

  it('with a raw backing file shorter than the image', () => {
    const dir = makeTempDir();
    fs.writeFileSync(path.join(dir, 'base.raw'), Buffer.alloc(3 << 20, 9));
    const file = path.join(dir, 'o.qed');
    const created = spawnSync(
      'qemu-img',
      ['create', '-q', '-f', 'qed', '-b', 'base.raw', '-F', 'raw', file, '8M'],
      { cwd: dir },
    );
    expect(created.status).toBe(0);
    qemuIoRun(file, 'qed', ['write -P 1 64k 64k', 'write -z 1M 128k', 'write -P 2 2944k 256k']);
    const lab = runLabCli(['map', '--output', 'json', file]);
    expect(lab.status, lab.stderr).toBe(0);
    expect(lab.stdout).toBe(qemuImgMapJson(file, 'qed').text);
    expect(lab.stdout).toContain('"depth": 1');
  });
});
