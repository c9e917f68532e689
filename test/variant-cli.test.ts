import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { variantRows } from '../src/cli/commands/variants.ts';
import { qcow2Driver } from '../src/formats/qcow2/qcow2-format.ts';
import { qedDriver } from '../src/formats/qed/qed-format.ts';
import { parseQedVariant } from '../src/formats/qed/variants.ts';
import { makeTempDir, runLabCli } from './helpers/qemu-compare.ts';

const dir = makeTempDir('qedlab-variant-cli-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** `qedlab variants` and `--variant` on create, io and check. */
describe('design variants on the command line', () => {
  it('lists every variant of every format, one line each, baseline first', () => {
    const r = runLabCli(['variants']);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const expected = variantRows();
    expect(lines).toHaveLength(expected.length);
    for (const key of Object.keys(qedDriver.variants ?? {})) {
      expect(lines.some((l) => l.startsWith(`qed ${key} `))).toBe(true);
    }
    for (const key of Object.keys(qcow2Driver.variants ?? {})) {
      expect(lines.some((l) => l.startsWith(`qcow2 ${key} `))).toBe(true);
    }
    expect(lines[0]).toMatch(/^qed qemu /);
    expect(runLabCli(['variants', '-f', 'raw']).stderr).toMatch(
      /^qedlab: format 'raw' has no design variants/,
    );
  });

  it('runs a freelist image end to end: discard frees, the next write reuses, check is clean', () => {
    const file = path.join(dir, 'free.qed');
    expect(runLabCli(['create', '-f', 'qed', '--variant', 'freelist', file, '1G']).status).toBe(0);
    const io = runLabCli([
      'io',
      '-f',
      'qed',
      '--variant',
      'freelist',
      '-c',
      'write -P 7 0 1M',
      '-c',
      'flush',
      '-c',
      'discard 0 1M',
      '-c',
      'write -P 9 4M 1M',
      '-c',
      'flush',
      file,
    ]);
    expect(io.status).toBe(0);
    const sizeAfter = fs.statSync(file).size;
    // 1 MiB of data written twice, the second time into the discarded clusters: the file holds
    // the header, L1, one L2 table and 1 MiB of data.
    expect(sizeAfter).toBe(65536 * (1 + 4 + 4) + 1024 ** 2);
    const check = runLabCli(['check', '-f', 'qed', '--variant', 'freelist', file]);
    expect(check.status).toBe(0);
    expect(check.stdout).toMatch(/No errors were found/);
  });

  it('refuses unknown variants and bad values with one line', () => {
    const file = path.join(dir, 'x.qed');
    const bad = runLabCli(['create', '-f', 'qed', '--variant', 'lazy-refcounts', file, '1G']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/^qedlab: unknown variant 'lazy-refcounts' of qed/);
    expect(() => parseQedVariant('clean-timer=soon')).toThrow(/invalid duration/);
    expect(() => parseQedVariant('parallel-check=0')).toThrow(/\[1, 1024\]/);
    expect(() => parseQedVariant('freelist=1')).toThrow(/takes no value/);
  });
});
