import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { describeWithQemu } from './helpers/qemu.ts';
import {
  firstByteDifference,
  firstIoDifference,
  makeTempDir,
  type RunOutput,
  runLabIo,
  straceQemuIo,
} from './helpers/qemu-compare.ts';

interface Case {
  name: string;
  size: string;
  createOptions?: string;
  /** qemu-img commands run on the template first (e.g. a snapshot). */
  prepare?: string[][];
  /** Put a qcow2 backing file with data and zero clusters under the template. */
  backing?: boolean;
  cacheMode?: 'writeback' | 'writethrough';
  script: string[];
}

const CASES: Case[] = [
  {
    name: 'qemu-formats.md §2.8 script on a 1 TiB image (4 KiB L2 slices)',
    size: '1T',
    script: [
      'write -P 0xaa 0 4k',
      'write -P 0xbb 4k 4k',
      'write -P 0xcc 64k 4k',
      'write -P 0xdd 512M 64k',
      'write -z 128k 64k',
      'flush',
      'write -P 0xee 256k 4k',
    ],
  },
  {
    name: 'discard, zero write and reuse of the lowest freed cluster (1 GiB)',
    size: '1G',
    script: [
      'write -P 1 0 4k',
      'write -P 2 64k 4k',
      'discard 0 64k',
      'write -z 128k 64k',
      'flush',
      'write 1m 64k',
    ],
  },
  {
    name: 'lazy refcounts: dirty bit, deferred refblocks, mark clean at close',
    size: '1G',
    createOptions: 'lazy_refcounts=on',
    script: [
      'write -P 1 0 4k',
      'write -P 2 1m 4k',
      'flush',
      'write -P 3 8k 4k',
      'discard 1m 64k',
      'write -z 2m 64k',
    ],
  },
  {
    name: 'writethrough: a flush after every request',
    size: '4G',
    cacheMode: 'writethrough',
    script: ['write -P 1 0 4k', 'write -P 2 1G 8k', 'write -P 3 4k 4k', 'write -z 64k 64k'],
  },
  {
    name: 'compat=0.10 (v2): zero writes become discards, unaligned ones too',
    size: '1G',
    createOptions: 'compat=0.10',
    script: [
      'write -P 1 0 4k',
      'write -P 2 64k 4k',
      'discard 0 64k',
      'write -z 128k 64k',
      'write -z 4k 4k',
      'flush',
      'write 1m 64k',
      'write -P 3 66k 1k',
    ],
  },
  {
    name: 'overlay on a qcow2 backing file: COW reads from the backing chain, zero detection',
    size: '64M',
    backing: true,
    script: [
      'write -P 0xaa 4k 4k',
      'write -P 0xbb 2052k 2k',
      'write -P 0xcc 8m 4k',
      'write -z 1m 64k',
      'discard 512k 64k',
    ],
  },
  {
    name: 'after a snapshot: L2 COW and data COW with real reads',
    size: '1G',
    prepare: [['snapshot', '-c', 's1']],
    script: [
      'write -P 9 4k 4k',
      'write -P 8 70k 2k',
      'write -P 7 128k 64k',
      'flush',
      'write -P 6 600m 4k',
    ],
  },
];

function prepareTemplate(dir: string, c: Case): string {
  const template = path.join(dir, 'template.qcow2');
  const args = ['create', '-q', '-f', 'qcow2'];
  if (c.createOptions) args.push('-o', c.createOptions);
  if (c.backing) {
    const base = path.join(dir, 'base.qcow2');
    spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', base, c.size]);
    spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 5 0 1m', '-c', 'write -z 2m 1m', base]);
    args.push('-b', 'base.qcow2', '-F', 'qcow2');
  }
  spawnSync('qemu-img', [...args, template, c.size]);
  if (c.prepare) {
    spawnSync('qemu-io', [
      '-f',
      'qcow2',
      '-c',
      'write -P 0x55 0 256k',
      '-c',
      'write -P 0x66 600m 64k',
      template,
    ]);
    for (const command of c.prepare) spawnSync('qemu-img', [...command, template]);
  }
  return template;
}

describeWithQemu('qcow2: host write/flush sequence equals QEMU 7.2', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const dir = makeTempDir('qcow2-seq-');
      const template = prepareTemplate(dir, c);
      const qemuPath = path.join(dir, 'qemu.qcow2');
      const labPath = path.join(dir, 'lab.qcow2');
      fs.copyFileSync(template, qemuPath);
      fs.copyFileSync(template, labPath);
      const mode = c.cacheMode ?? 'writeback';
      const qemu: RunOutput = straceQemuIo(qemuPath, 'qcow2', mode, c.script);
      const lab: RunOutput = runLabIo(labPath, 'qcow2', mode, c.script);
      expect(lab.status, lab.stderr).toBe(0);
      const diff = firstIoDifference(qemu.ops, lab.ops);
      expect(diff?.context).toBeUndefined();
      expect(firstByteDifference(qemu.image, lab.image)).toBe(-1);
    });
  }
});
