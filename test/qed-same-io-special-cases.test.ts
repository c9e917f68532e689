import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { describeWithQemu } from './helpers/qemu.ts';
import {
  compareWithQemuIo,
  firstByteDifference,
  firstIoDifference,
  makeTempDir,
} from './helpers/qemu-compare.ts';
import { randomQemuIoScript } from './helpers/random-qemu-io-script.ts';

/**
 * Same bytes and same host I/O as qemu-io in the cases random scripts rarely reach: large requests
 * over mixed runs, QEMU's allocation-sizing quirk, backing files (raw and QED), discard.
 */
describeWithQemu('QED: same bytes and same host I/O as qemu-io, special cases', () => {
  it('large requests over mixed runs, both cache modes', () => {
    const script = [
      'write -P 1 1M 5M',
      'write -P 2 3M 4M',
      'write -z 2M 6M',
      'write -z 100k 3M',
      'write -P 3 0 9M',
      'write -z 512 8M',
    ];
    for (const cacheMode of ['writeback', 'writethrough'] as const) {
      const run = compareWithQemuIo({
        format: 'qed',
        createOptions: 'cluster_size=4k,table_size=2',
        sizeBytes: '1G',
        script,
        cacheMode,
      });
      expect(run.lab.status, run.lab.stderr).toBe(0);
      expect(firstIoDifference(run.qemu.ops, run.lab.ops)?.context).toBeUndefined();
      expect(firstByteDifference(run.qemu.image, run.lab.image)).toBe(-1);
    }
  });

  it("QEMU's ÷(cs−1) allocation sizing: a run of cs−1 clusters gets one extra L2 entry", () => {
    // 4 KiB clusters, table_size 8: 4096 entries per L2; 4095 clusters written from entry 0.
    const run = compareWithQemuIo({
      format: 'qed',
      createOptions: 'cluster_size=4k,table_size=8',
      sizeBytes: '1G',
      script: ['write -P 1 0 16773120', 'read -P 0 16773120 4096', 'write -P 2 16773120 4k'],
      cacheMode: 'writeback',
    });
    expect(run.lab.status, run.lab.stderr).toBe(0);
    expect(firstIoDifference(run.qemu.ops, run.lab.ops)?.context).toBeUndefined();
    expect(firstByteDifference(run.qemu.image, run.lab.image)).toBe(-1);
    const view = new DataView(run.lab.image.buffer, run.lab.image.byteOffset);
    const l2 = Number(view.getBigUint64(4096, true));
    const entry = (i: number) => Number(view.getBigUint64(l2 + 8 * i, true));
    expect(entry(4095)).toBe(entry(0) + 4095 * 4096);
  });

  it('with a QED backing file (probed format), writethrough', () => {
    const dir = makeTempDir();
    const base = path.join(dir, 'base.qed');
    spawnSync('qemu-img', ['create', '-q', '-f', 'qed', base, '8M']);
    spawnSync('qemu-io', ['-f', 'qed', '-c', 'write -P 0x77 0 3M', '-c', 'write -z 4M 1M', base]);
    const run = compareWithQemuIo({
      dir,
      format: 'qed',
      createOptions: 'backing_file=base.qed,backing_fmt=qed',
      sizeBytes: '16M',
      cacheMode: 'writethrough',
      script: [
        'write -P 1 4k 4k',
        'write -z 1M 64k',
        'write -P 2 1028k 4k',
        'write -P 3 7M 200k',
        'write -P 4 15M 8k',
        'read -P 0x77 0 4k',
        'read -P 0x77 2M 4k',
      ],
    });
    expect(run.qemu.stdout).not.toMatch(/fail/i);
    expect(run.lab.status, run.lab.stderr).toBe(0);
    expect(firstIoDifference(run.qemu.ops, run.lab.ops)?.context).toBeUndefined();
    expect(firstByteDifference(run.qemu.image, run.lab.image)).toBe(-1);
  });

  it('sector-unaligned writes and zero writes: padded sectors, one FUA flush per piece', () => {
    const script = [
      'write -P 1 100 200',
      'write -P 2 70000 5000',
      'write -P 3 1000 1M',
      'write -z 300 1000',
      'write -z 65000 200000',
      'write -z 3M 100',
      'write -P 4 4M 1',
      'read -P 3 1300 1000',
    ];
    for (const cacheMode of ['writeback', 'writethrough'] as const) {
      const run = compareWithQemuIo({ format: 'qed', sizeBytes: '1G', script, cacheMode });
      expect(run.qemu.stdout).not.toMatch(/fail/i);
      expect(run.lab.status, run.lab.stderr).toBe(0);
      expect(firstIoDifference(run.qemu.ops, run.lab.ops)?.context).toBeUndefined();
      expect(firstByteDifference(run.qemu.image, run.lab.image)).toBe(-1);
    }
  });

  it('discard is a no-op, flush after nothing written issues nothing, data stays readable', () => {
    const script = [
      'write -P 0x11 0 128k',
      'discard 0 64k',
      'flush',
      'flush',
      'discard 1M 1M',
      'read -P 0x11 0 128k',
      'write -z 0 64k',
      'write -z 64k 4k',
      'read -P 0 0 68k',
    ];
    for (const cacheMode of ['writeback', 'writethrough'] as const) {
      const run = compareWithQemuIo({ format: 'qed', sizeBytes: '4G', script, cacheMode });
      expect(run.qemu.stdout).not.toMatch(/fail/i);
      expect(run.lab.status, run.lab.stderr).toBe(0);
      expect(firstIoDifference(run.qemu.ops, run.lab.ops)?.context).toBeUndefined();
      expect(firstByteDifference(run.qemu.image, run.lab.image)).toBe(-1);
    }
  });

  it('with a raw backing file: COW from the backing file, data flushed before the L2', () => {
    const base = new Uint8Array(3 * 2 ** 20);
    for (let i = 0; i < base.length; i++) base[i] = (i >> 9) & 0xff;
    const { commands } = randomQemuIoScript({
      seed: 77,
      sizeBytes: 4 * 2 ** 20,
      clusterSizeBytes: 65536,
      l2CoverageBytes: 2 ** 31,
      count: 30,
    });
    // A partial write into a zero cluster: QEMU fills the rest from the backing file (§1.4).
    const script = ['write -z 0 64k', 'write -P 0xaa 4k 4k', ...commands];
    const run = compareWithQemuIo({
      format: 'qed',
      createOptions: 'backing_file=base.raw,backing_fmt=raw',
      sizeBytes: 4 * 2 ** 20,
      script,
      cacheMode: 'writeback',
      files: { 'base.raw': base },
    });
    expect(run.lab.status, run.lab.stderr).toBe(0);
    expect(firstIoDifference(run.qemu.ops, run.lab.ops)?.context).toBeUndefined();
    expect(run.lab.ops.filter((o) => o.op === 'flush').length).toBeGreaterThan(2);
    expect(firstByteDifference(run.qemu.image, run.lab.image)).toBe(-1);
  });
});
