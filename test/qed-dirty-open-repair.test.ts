import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { describeWithQemu } from './helpers/qemu.ts';
import {
  firstByteDifference,
  firstIoDifference,
  makeTempDir,
  qemuImgCheckJson,
  runLabCli,
  runLabIo,
  straceQemuIo,
} from './helpers/qemu-compare.ts';

/**
 * A power cut leaves NEED_CHECK set; the next writable open runs qed_check with repair before
 * use. An L2 entry pointing past the end of the file is zeroed, the table rewritten whole, the
 * flag cleared — the same bytes and host I/O as QEMU's open of the same file.
 */
describeWithQemu('QED dirty open runs check with repair', () => {
  it('repairs an L2 entry past EOF exactly as qemu-io does', () => {
    const dir = makeTempDir();
    const file = path.join(dir, 'dirty.qed');
    expect(runLabCli(['create', '-f', 'qed', file, '1G']).status).toBe(0);
    const wrote = runLabCli([
      'io',
      '-q',
      '-f',
      'qed',
      '-c',
      'write -P 0x11 0 192k',
      '-c',
      'write -P 0x22 1M 64k',
      '-c',
      'abort',
      file,
    ]);
    expect(wrote.status, wrote.stderr).toBe(0);
    const bytes = fs.readFileSync(file);
    expect(bytes.readUInt32LE(16)).toBe(0x02);
    // Layout: data clusters 5..7, L2 at cluster 8 (offset 524288). Point L2[1] far past EOF.
    const l2Offset = Number(bytes.readBigUInt64LE(65536));
    expect(l2Offset).toBe(8 * 65536);
    bytes.writeBigUInt64LE(BigInt(1000 * 65536), l2Offset + 8);
    fs.writeFileSync(file, bytes);
    const before = qemuImgCheckJson(file, 'qed');
    expect(before.json.corruptions).toBe(1);

    const qemuCopy = path.join(dir, 'qemu.qed');
    const labCopy = path.join(dir, 'lab.qed');
    fs.copyFileSync(file, qemuCopy);
    fs.copyFileSync(file, labCopy);
    const qemu = straceQemuIo(qemuCopy, 'qed', 'writeback', ['read -P 0x11 0 64k']);
    const lab = runLabIo(labCopy, 'qed', 'writeback', ['read -P 0x11 0 64k']);
    expect(lab.status, lab.stderr).toBe(0);
    expect(firstIoDifference(qemu.ops, lab.ops)?.context).toBeUndefined();
    expect(lab.ops).toEqual([
      { op: 'write', offset: l2Offset, length: 262144 }, // the fixed L2, whole
      { op: 'flush' },
      { op: 'write', offset: 0, length: 64 }, // header with NEED_CHECK cleared
      { op: 'flush' }, // close
    ]);
    expect(firstByteDifference(qemu.image, lab.image)).toBe(-1);
    const repaired = fs.readFileSync(labCopy);
    expect(repaired.readUInt32LE(16)).toBe(0);
    expect(repaired.readBigUInt64LE(l2Offset + 8)).toBe(0n);
    // The cluster L2[1] used to point at is now unreferenced: a leak, which QED never repairs.
    const after = qemuImgCheckJson(labCopy, 'qed');
    expect(after.status).toBe(3);
    expect(after.json.leaks).toBe(1);
    expect(after.json.corruptions).toBeUndefined();
  });

  it('a read-only open of a dirty image skips the check and changes nothing', () => {
    const dir = makeTempDir();
    const file = path.join(dir, 'dirty.qed');
    expect(runLabCli(['create', '-f', 'qed', file, '1G']).status).toBe(0);
    runLabCli(['io', '-q', '-f', 'qed', '-c', 'write -P 0x11 0 64k', '-c', 'abort', file]);
    const before = fs.readFileSync(file);
    const r = runLabCli(['map', '--output', 'json', file]);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });
});
