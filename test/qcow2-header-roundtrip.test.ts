import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { parseHeaderCluster, serializeHeaderCluster } from '../src/formats/qcow2/header.ts';
import { labCreate } from './helpers/qcow2-lab.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir } from './helpers/qemu-compare.ts';

const CASES: Array<{ size: string; sizeBytes: number; options: Record<string, string> }> = [
  { size: '1G', sizeBytes: 2 ** 30, options: {} },
  { size: '1T', sizeBytes: 2 ** 40, options: {} },
  { size: '1P', sizeBytes: 2 ** 50, options: {} },
  { size: '64M', sizeBytes: 64 * 2 ** 20, options: { cluster_size: '512' } },
  { size: '10M', sizeBytes: 10 * 2 ** 20, options: { cluster_size: '512', refcount_bits: '64' } },
  { size: '1G', sizeBytes: 2 ** 30, options: { refcount_bits: '1', lazy_refcounts: 'on' } },
  { size: '3G', sizeBytes: 3 * 2 ** 30, options: { cluster_size: '2M', refcount_bits: '8' } },
  { size: '1G', sizeBytes: 2 ** 30, options: { cluster_size: '4096' } },
  { size: '1G', sizeBytes: 2 ** 30, options: { compat: '0.10' } },
  { size: '0', sizeBytes: 0, options: {} },
];

describeWithQemu('qcow2: header and create layout against qemu-img', () => {
  for (const c of CASES) {
    const o = Object.entries(c.options)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    it(`create ${c.size} ${o || '(defaults)'} is byte-identical`, () => {
      const dir = makeTempDir('qcow2-create-');
      const qemu = path.join(dir, 'qemu.qcow2');
      const lab = path.join(dir, 'lab.qcow2');
      const args = ['create', '-q', '-f', 'qcow2'];
      if (o) args.push('-o', o);
      expect(spawnSync('qemu-img', [...args, qemu, c.size]).status).toBe(0);
      labCreate(lab, c.sizeBytes, c.options);
      expect(Buffer.compare(fs.readFileSync(lab), fs.readFileSync(qemu))).toBe(0);
    });
  }

  it('parse → serialize reproduces the header cluster qemu-img wrote (backing file and format)', () => {
    const dir = makeTempDir('qcow2-header-');
    const base = path.join(dir, 'base.raw');
    const overlay = path.join(dir, 'overlay.qcow2');
    spawnSync('qemu-img', ['create', '-q', '-f', 'raw', base, '1M']);
    expect(
      spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', overlay])
        .status,
    ).toBe(0);
    const bytes = fs.readFileSync(overlay);
    const cluster = parseHeaderCluster(bytes.subarray(0, 65536));
    expect(cluster.backingFile).toBe('base.raw');
    expect(cluster.backingFormat).toBe('raw');
    expect(cluster.header.sizeBytes).toBe(1024 * 1024);
    expect(cluster.featureNames.map((f) => f.name)).toContain('lazy refcounts');
    expect(
      Buffer.compare(Buffer.from(serializeHeaderCluster(cluster)), bytes.subarray(0, 65536)),
    ).toBe(0);
  });
});
