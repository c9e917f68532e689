import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { describeWithQemu } from './helpers/qemu.ts';
import { firstByteDifference, makeTempDir, qemuIoRun, runLabCli } from './helpers/qemu-compare.ts';

/**
 * `qedlab check` agrees with `qemu-img check` on images with injected faults: the same JSON (keys,
 * order, values), the same exit code, and with -r all the same repaired bytes.
 *
 * Base layout (1 GiB, defaults): data clusters 5..7 for 0..192k, L2 at clusters 8..11, data
 * cluster 12 for 1M, L2 entry 32 is a zero cluster.
 */
const CS = 65536;
const L1 = CS;
const L2 = 8 * CS;

type Fault = { name: string; inject: (b: Buffer) => Buffer };
const setL2 = (i: number, v: number) => (b: Buffer) => {
  b.writeBigUInt64LE(BigInt(v), L2 + 8 * i);
  return b;
};
const FAULTS: Fault[] = [
  { name: 'clean image', inject: (b) => b },
  { name: 'L2 entry past EOF', inject: setL2(1, 100 * CS) },
  { name: 'unaligned L2 entry', inject: setL2(2, 5 * CS + 512) },
  { name: 'duplicate data reference', inject: setL2(2, 5 * CS) },
  { name: 'L2 entry pointing into the L1 table', inject: setL2(0, L1) },
  {
    name: 'L1 entry past EOF',
    inject: (b) => {
      b.writeBigUInt64LE(BigInt(4096 * CS), L1 + 8);
      return b;
    },
  },
  {
    name: 'L1 entry overlapping the first L2 table',
    inject: (b) => {
      b.writeBigUInt64LE(BigInt(9 * CS), L1 + 8);
      return b;
    },
  },
  { name: 'leaked clusters at the end', inject: (b) => Buffer.concat([b, Buffer.alloc(2 * CS)]) },
  {
    name: 'partial trailing cluster (ignored)',
    inject: (b) => Buffer.concat([b, Buffer.alloc(1000)]),
  },
  {
    name: 'NEED_CHECK set with an L2 entry past EOF',
    inject: (b) => {
      b.writeUInt8(0x02, 16);
      return setL2(1, 100 * CS)(b);
    },
  },
  {
    name: 'past-EOF entry, duplicate and leak together (§1.8 repro)',
    inject: (b) => setL2(2, 5 * CS)(setL2(1, 100 * CS)(b)),
  },
];

function baseImage(dir: string): Buffer {
  const file = path.join(dir, 'base.qed');
  expect(spawnSync('qemu-img', ['create', '-q', '-f', 'qed', file, '1G']).status).toBe(0);
  qemuIoRun(file, 'qed', ['write -P 1 0 192k', 'write -P 2 1M 64k', 'write -z 2M 64k']);
  const bytes = fs.readFileSync(file);
  expect(Number(bytes.readBigUInt64LE(L1))).toBe(L2);
  return bytes;
}

function qemuCheck(file: string, repair?: string) {
  const args = ['check', '--output=json', '-f', 'qed', ...(repair ? ['-r', repair] : []), file];
  const r = spawnSync('qemu-img', args, { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout };
}

describeWithQemu('qedlab check agrees with qemu-img check', () => {
  const dir = makeTempDir();
  const base = baseImage(dir);
  FAULTS.forEach((fault, index) => {
    for (const repair of [undefined, 'leaks', 'all'] as const) {
      it(`${fault.name}${repair ? `, -r ${repair}` : ''}`, () => {
        const bytes = fault.inject(Buffer.from(base));
        const qemuFile = path.join(dir, `q${index}-${repair ?? 'none'}.qed`);
        const labFile = path.join(dir, `l${index}-${repair ?? 'none'}.qed`);
        fs.writeFileSync(qemuFile, bytes);
        fs.writeFileSync(labFile, bytes);
        const qemu = qemuCheck(qemuFile, repair);
        const lab = runLabCli([
          'check',
          '--output',
          'json',
          '-f',
          'qed',
          ...(repair ? ['-r', repair] : []),
          labFile,
        ]);
        expect(lab.stdout.replace(labFile, 'FILE')).toBe(qemu.stdout.replace(qemuFile, 'FILE'));
        expect(lab.status).toBe(qemu.status);
        expect(firstByteDifference(fs.readFileSync(qemuFile), fs.readFileSync(labFile))).toBe(-1);
      });
    }
  });

  it('human output matches qemu-img line for line, including the repair report', () => {
    const bytes = FAULTS[FAULTS.length - 1]?.inject(Buffer.from(base)) as Buffer;
    for (const repair of [undefined, 'all'] as const) {
      const qemuFile = path.join(dir, `human-q-${repair}.qed`);
      const labFile = path.join(dir, `human-l-${repair}.qed`);
      fs.writeFileSync(qemuFile, bytes);
      fs.writeFileSync(labFile, bytes);
      const args = repair ? ['-r', repair] : [];
      const qemu = spawnSync('qemu-img', ['check', '-f', 'qed', ...args, qemuFile], {
        encoding: 'utf8',
      });
      const lab = runLabCli(['check', '-f', 'qed', ...args, labFile]);
      expect(lab.stdout).toBe(qemu.stdout);
      expect(lab.status).toBe(qemu.status);
    }
  });

  it('raw has no check: qemu-img exit code 63', () => {
    const file = path.join(dir, 'r.raw');
    fs.writeFileSync(file, Buffer.alloc(4096));
    const lab = runLabCli(['check', '-f', 'raw', file]);
    const qemu = spawnSync('qemu-img', ['check', '-f', 'raw', file], { encoding: 'utf8' });
    expect(lab.status).toBe(63);
    expect(qemu.status).toBe(63);
    expect(lab.stderr).toContain('This image format does not support checks');
  });
});
