import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { parseQedHeader, serializeQedHeader } from '../src/formats/qed/header.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir, runLabCli } from './helpers/qemu-compare.ts';

/**
 * The 64-byte header parses and serializes back to the bytes qemu-img wrote, and `qedlab create`
 * writes the same file as `qemu-img create` for every option.
 */
const CREATES: Array<{ options: string[]; size: string }> = [
  { options: [], size: '1T' },
  { options: [], size: '1000' },
  { options: [], size: '0' },
  { options: ['cluster_size=4k'], size: '16G' },
  { options: ['cluster_size=4k,table_size=1'], size: '512M' },
  { options: ['cluster_size=1M,table_size=16'], size: '64T' },
  { options: ['cluster_size=2M,table_size=2'], size: '1G' },
  { options: ['table_size=16'], size: '1P' },
  { options: ['backing_file=base.raw,backing_fmt=raw'], size: '' },
  { options: ['backing_file=base.raw,backing_fmt=raw'], size: '2M' },
];

describeWithQemu('QED header and creation match qemu-img', () => {
  const dir = makeTempDir();
  fs.writeFileSync(path.join(dir, 'base.raw'), Buffer.alloc(1 << 20, 7));
  CREATES.forEach((c, i) => {
    it(`create ${c.options.join(' ') || 'defaults'} ${c.size || '(size from backing file)'}`, () => {
      const qemuFile = path.join(dir, `q${i}.qed`);
      const labFile = path.join(dir, `l${i}.qed`);
      const o = c.options.flatMap((x) => ['-o', x]);
      const size = c.size ? [c.size] : [];
      const q = spawnSync('qemu-img', ['create', '-q', '-f', 'qed', ...o, qemuFile, ...size], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect(q.status, q.stderr).toBe(0);
      const lab = runLabCli(['create', '-f', 'qed', ...o, labFile, ...size]);
      expect(lab.status, lab.stderr).toBe(0);
      const qemuBytes = fs.readFileSync(qemuFile);
      expect(fs.readFileSync(labFile).equals(qemuBytes)).toBe(true);
      const headerBytes = new Uint8Array(qemuBytes.subarray(0, 64));
      const header = parseQedHeader(headerBytes);
      expect(serializeQedHeader(header)).toEqual(headerBytes);
      expect(header.magic).toBe(0x00444551);
    });
  });

  it('a header with every field set round-trips', () => {
    const bytes = new Uint8Array(64);
    for (let i = 0; i < 64; i++) bytes[i] = (i * 37 + 11) & 0xff;
    expect(serializeQedHeader(parseQedHeader(bytes))).toEqual(bytes);
  });

  it('creation errors carry qemu-img messages', () => {
    const cases: Array<[string[], string]> = [
      [
        ['-o', 'cluster_size=1000'],
        'QED cluster size must be within range [4096, 67108864] and power of 2',
      ],
      [['-o', 'table_size=3'], 'QED table size must be within range [1, 16] and power of 2'],
      [
        ['-o', 'cluster_size=2M,table_size=16'],
        'QED image size must be a non-zero multiple of cluster size and less than 0 bytes',
      ],
      [['-o', 'foo=1'], "Invalid parameter 'foo'"],
    ];
    for (const [args, message] of cases) {
      const file = path.join(dir, 'bad.qed');
      const lab = runLabCli(['create', '-f', 'qed', ...args, file, '1G']);
      expect(lab.status).not.toBe(0);
      expect(lab.stderr).toBe(`qedlab: ${message}\n`);
      const q = spawnSync('qemu-img', ['create', '-f', 'qed', ...args, file, '1G'], {
        encoding: 'utf8',
      });
      expect(q.stderr).toContain(message);
    }
    const tooBig = runLabCli(['create', '-f', 'qed', path.join(dir, 'big.qed'), '65T']);
    expect(tooBig.stderr).toContain('less than 70368744177664 bytes');
  });
});
