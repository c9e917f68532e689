import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir, qemuImgCheckJson, qemuIoRun, runLabCli } from './helpers/qemu-compare.ts';
import { randomQemuIoScript, verifyCommands } from './helpers/random-qemu-io-script.ts';

/**
 * Images the lab writes are images QEMU accepts (qemu-img check clean, every pattern read back
 * by qemu-io), and images qemu-io writes read back identically through `qedlab io ... read -P`.
 */
const CASES = [
  { size: '1T', bytes: 2 ** 40, cs: 65536, ts: 4, options: [] as string[] },
  { size: '64T', bytes: 2 ** 46, cs: 65536, ts: 4, options: [] as string[] },
  { size: '16G', bytes: 2 ** 34, cs: 4096, ts: 4, options: ['cluster_size=4k'] },
  { size: '8G', bytes: 2 ** 33, cs: 4096, ts: 16, options: ['cluster_size=4k,table_size=16'] },
  { size: '64T', bytes: 2 ** 46, cs: 2 ** 20, ts: 2, options: ['cluster_size=1M,table_size=2'] },
  {
    size: '100G',
    bytes: 100 * 2 ** 30,
    cs: 32768,
    ts: 8,
    options: ['cluster_size=32k,table_size=8'],
  },
];

function scriptFor(c: (typeof CASES)[number], seed: number) {
  return randomQemuIoScript({
    seed,
    sizeBytes: c.bytes,
    clusterSizeBytes: c.cs,
    l2CoverageBytes: ((c.cs * c.ts) / 8) * c.cs,
    count: 30,
  });
}

function failures(output: string): string[] {
  return output.split('\n').filter((l) => /fail|error/i.test(l));
}

describeWithQemu('QED images move both ways between the lab and QEMU', () => {
  CASES.forEach((c, index) => {
    const label = `${c.size}, cluster ${c.cs}, table ${c.ts}`;
    it(`lab-written image passes qemu-img check and qemu-io read -P (${label})`, () => {
      const dir = makeTempDir();
      const image = path.join(dir, 'lab.qed');
      const created = runLabCli([
        'create',
        '-f',
        'qed',
        ...c.options.flatMap((o) => ['-o', o]),
        image,
        c.size,
      ]);
      expect(created.status, created.stderr).toBe(0);
      const { commands, expected } = scriptFor(c, 2000 + index);
      fs.writeFileSync(path.join(dir, 'script'), commands.join('\n'));
      const wrote = runLabCli([
        'io',
        '-q',
        '-f',
        'qed',
        '-t',
        'writeback',
        '--script',
        path.join(dir, 'script'),
        image,
      ]);
      expect(wrote.status, wrote.stderr).toBe(0);
      const check = qemuImgCheckJson(image, 'qed');
      expect(check.status, check.stderr).toBe(0);
      expect(check.json.corruptions).toBeUndefined();
      expect(check.json.leaks).toBeUndefined();
      const reads = verifyCommands(expected);
      const verified = qemuIoRun(image, 'qed', reads);
      expect(failures(verified.stdout + verified.stderr)).toEqual([]);
      expect((verified.stdout.match(/read \d+\/\d+ bytes/g) ?? []).length).toBe(reads.length);
    });

    it(`qemu-io-written image reads back through qedlab io read -P (${label})`, () => {
      const dir = makeTempDir();
      const image = path.join(dir, 'qemu.qed');
      const o = c.options.flatMap((x) => ['-o', x]);
      const { commands, expected } = scriptFor(c, 3000 + index);
      const createdByQemu = qemuIoCreate(image, o, c.size);
      expect(createdByQemu).toBe(0);
      const wrote = qemuIoRun(image, 'qed', commands);
      expect(failures(wrote.stdout + wrote.stderr)).toEqual([]);
      fs.writeFileSync(path.join(dir, 'verify'), verifyCommands(expected).join('\n'));
      const read = runLabCli([
        'io',
        '-q',
        '-f',
        'qed',
        '--script',
        path.join(dir, 'verify'),
        image,
      ]);
      expect(read.stderr).toBe('');
      expect(read.status).toBe(0);
      // And the lab's check agrees the image is clean.
      const check = runLabCli(['check', '--output', 'json', image]);
      expect(check.status, check.stdout).toBe(0);
    });
  });

  it('a wrong pattern is caught (the verification can fail)', () => {
    const dir = makeTempDir();
    const image = path.join(dir, 'x.qed');
    expect(qemuIoCreate(image, [], '1G')).toBe(0);
    qemuIoRun(image, 'qed', ['write -P 0x11 64k 4k']);
    const read = runLabCli(['io', '-q', '-f', 'qed', '-c', 'read -P 0x11 60k 8k', image]);
    expect(read.status).not.toBe(0);
    expect(read.stderr).toContain('first mismatch at offset 61440');
  });
});

function qemuIoCreate(image: string, options: string[], size: string): number {
  return spawnSync('qemu-img', ['create', '-q', '-f', 'qed', ...options, image, size]).status ?? -1;
}
