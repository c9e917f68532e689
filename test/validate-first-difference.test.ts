import { describe, expect, it } from 'vitest';
import { parseStraceForFile } from '../src/validate/strace.ts';
import { compareBytes, compareIo, compareMaps } from '../src/validate/validate.ts';
import { runLabCli } from './helpers/qemu-compare.ts';

// What `qedlab validate` says when the lab and QEMU differ: the first differing host op, byte
// or map entry, on one line; and the strace parsing it relies on.
describe('validate comparisons', () => {
  it('names the first differing host op', () => {
    const qemu = [
      { op: 'write' as const, offset: 0, length: 512 },
      { op: 'flush' as const },
      { op: 'write' as const, offset: 65536, length: 512 },
    ];
    expect(compareIo(qemu, qemu)).toEqual({ same: true, firstDifference: undefined });
    const lab = [
      qemu[0],
      { op: 'write' as const, offset: 65536, length: 512 },
      { op: 'flush' as const },
    ];
    expect(compareIo(qemu, lab as typeof qemu).firstDifference).toBe(
      'host op #1: qemu fdatasync, lab pwrite 512@65536',
    );
    expect(compareIo(qemu, qemu.slice(0, 2)).firstDifference).toBe(
      'host op #2: qemu pwrite 512@65536, lab (none)',
    );
  });

  it('names the first differing byte, or the length', () => {
    expect(compareBytes(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 9, 3)).firstDifference).toBe(
      'byte 1 (0x1): qemu 0x2, lab 0x9',
    );
    expect(compareBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0)).firstDifference).toBe(
      'file length: qemu 2 bytes, lab 3 bytes',
    );
    expect(compareBytes(Uint8Array.of(1), Uint8Array.of(1)).same).toBe(true);
  });

  it('compares map JSON entry by entry, ignoring layout', () => {
    const a =
      '[{ "start": 0, "length": 65536, "depth": 0, "present": true, "zero": false, "data": true, "offset": 327680}]';
    const b =
      '[{"start":0,"length":65536,"depth":0,"present":true,"zero":false,"data":true,"offset":327680}]\n';
    expect(compareMaps(a, b).same).toBe(true);
    const c = b.replace('327680', '393216');
    expect(compareMaps(a, c).firstDifference).toMatch(
      /^map entry 0: qemu .*327680.*, lab .*393216/,
    );
  });

  it('reads QEMU host I/O from strace, joining resumed calls and following descriptors', () => {
    const trace = [
      '100 openat(AT_FDCWD, "other.img", O_RDWR) = 3',
      '100 openat(AT_FDCWD, "/tmp/x/qemu.qed", O_RDWR|O_DIRECT) = 4',
      '101 pwrite64(4, ""..., 512, 0 <unfinished ...>',
      '100 pwrite64(3, ""..., 512, 0) = 512',
      '101 <... pwrite64 resumed>) = 512',
      '101 fdatasync(4) = 0',
      '101 fallocate(4, FALLOC_FL_ZERO_RANGE, 327680, 65536) = 0',
      '100 close(4) = 0',
      '101 pwrite64(4, ""..., 512, 4096) = 512',
    ].join('\n');
    expect(parseStraceForFile(trace, 'qemu.qed')).toEqual([
      { op: 'write', offset: 0, length: 512 },
      { op: 'flush' },
      { op: 'zero', offset: 327680, length: 65536 },
    ]);
  });

  it('refuses a missing script with a one-line error', () => {
    const r = runLabCli(['validate', '-f', 'qed', '--script', '/nonexistent/script']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toBe("qedlab: Could not read script '/nonexistent/script'\n");
  });
});
