import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { Rng } from '../src/util/rng.ts';
import { flushEpochs } from './helpers/qcow2-epochs.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import {
  compareWithQemuIo,
  firstByteDifference,
  firstIoDifference,
  qemuImgCheckJson,
  qemuImgMapJson,
  qemuIoPatternFailures,
  qemuIoRun,
  runLabCli,
} from './helpers/qemu-compare.ts';
import { randomQemuIoScript, verifyCommands } from './helpers/random-qemu-io-script.ts';

interface Config {
  clusterSize: number;
  refcountBits: number;
  lazy: boolean;
  discards: boolean;
  seed: number;
}

const CONFIGS: Config[] = [
  { clusterSize: 512, refcountBits: 16, lazy: false, discards: false, seed: 1 },
  { clusterSize: 4096, refcountBits: 1, lazy: false, discards: true, seed: 2 },
  { clusterSize: 65536, refcountBits: 64, lazy: true, discards: true, seed: 3 },
  { clusterSize: 2 * 1024 * 1024, refcountBits: 8, lazy: false, discards: true, seed: 4 },
  { clusterSize: 16384, refcountBits: 2, lazy: true, discards: false, seed: 5 },
  { clusterSize: 1024, refcountBits: 32, lazy: false, discards: true, seed: 6 },
  { clusterSize: 65536, refcountBits: 4, lazy: false, discards: true, seed: 7 },
];

/** The random script plus cluster-aligned discards mixed in (seeded). */
function script(c: Config, sizeBytes: number): { commands: string[]; verify: string[] | null } {
  const base = randomQemuIoScript({
    seed: c.seed,
    sizeBytes,
    clusterSizeBytes: c.clusterSize,
    l2CoverageBytes: (c.clusterSize * c.clusterSize) / 8,
    count: 60,
  });
  if (!c.discards) return { commands: base.commands, verify: verifyCommands(base.expected) };
  const rng = new Rng(c.seed * 7919);
  const commands: string[] = [];
  for (const command of base.commands) {
    commands.push(command);
    const m = /^write(?: -P \S+| -z)* (\d+) (\d+)$/.exec(command);
    if (m && rng.nextFloat() < 0.2) {
      const start = Math.floor(Number(m[1]) / c.clusterSize) * c.clusterSize;
      commands.push(`discard ${start} ${c.clusterSize * (1 + Math.floor(rng.nextFloat() * 2))}`);
    }
  }
  return { commands, verify: null };
}

describeWithQemu('qcow2: seeded random scripts match QEMU', () => {
  for (const c of CONFIGS) {
    const name = `cluster_size=${c.clusterSize},refcount_bits=${c.refcountBits},lazy_refcounts=${c.lazy ? 'on' : 'off'}${c.discards ? ' + discards' : ''}`;
    it(name, () => {
      const sizeBytes = 1024 * 1024 * 1024;
      const { commands, verify } = script(c, sizeBytes);
      const run = compareWithQemuIo({
        format: 'qcow2',
        createOptions: `cluster_size=${c.clusterSize},refcount_bits=${c.refcountBits},lazy_refcounts=${c.lazy ? 'on' : 'off'}`,
        sizeBytes,
        script: commands,
        cacheMode: 'writeback',
      });
      expect(run.lab.status, run.lab.stderr).toBe(0);
      // The lab's image is consistent by QEMU's standard.
      const check = qemuImgCheckJson(run.lab.imagePath, 'qcow2');
      expect(check.status, check.stderr).toBe(0);
      expect(check.json.corruptions ?? 0).toBe(0);
      expect(check.json.leaks ?? 0).toBe(0);
      // QEMU reads the same guest content from both images.
      const compare = spawnSync(
        'qemu-img',
        ['compare', '-f', 'qcow2', '-F', 'qcow2', run.qemu.imagePath, run.lab.imagePath],
        { encoding: 'utf8' },
      );
      expect(compare.status, compare.stdout).toBe(0);
      if (verify)
        expect(qemuIoPatternFailures(qemuIoRun(run.lab.imagePath, 'qcow2', verify))).toEqual([]);
      // Same guest→host layout: the lab's map of its image is QEMU's map of QEMU's image.
      const labMap = runLabCli(['map', '--output', 'json', '-f', 'qcow2', run.lab.imagePath]);
      expect(labMap.status, labMap.stderr).toBe(0);
      expect(JSON.parse(labMap.stdout)).toEqual(
        qemuImgMapJson(run.qemu.imagePath, 'qcow2').entries,
      );
      // Same host writes and flushes per flush epoch; the exact order is reported when it differs.
      const diff = firstIoDifference(run.qemu.ops, run.lab.ops);
      if (diff)
        console.log(`${name}: first host I/O difference at #${diff.index}\n${diff.context}`);
      const labEpochs = flushEpochs(run.lab.ops);
      const qemuEpochs = flushEpochs(run.qemu.ops);
      const bad = labEpochs.findIndex((e, i) => e !== qemuEpochs[i]);
      if (bad >= 0)
        console.log(
          `${name}: first differing flush epoch #${bad}: qemu ${qemuEpochs[bad]} | lab ${labEpochs[bad]}`,
        );
      // Every host write and zero range is the same; where a flush falls between requests that
      // QEMU runs as concurrent AIO tasks can differ (reported above, see README).
      const writes = (ops: typeof run.lab.ops) =>
        flushEpochs(ops).join(',').split(',').filter(Boolean).sort();
      expect(writes(run.lab.ops)).toEqual(writes(run.qemu.ops));
      expect(firstByteDifference(run.qemu.image, run.lab.image)).toBe(-1);
    });
  }
});
