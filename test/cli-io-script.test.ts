import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseQemuIoCommand, parseQemuIoScript } from '../src/cli/qemu-io-script.ts';
import { parseIoLog } from '../src/device/io-log.ts';
import { makeTempDir, runLabCli } from './helpers/qemu-compare.ts';

/** `qedlab io`: qemu-io's command language, cache modes, abort, and failure reporting. */
describe('qedlab io commands', () => {
  it('parses qemu-io commands with suffixes, hex and flags', () => {
    expect(parseQemuIoCommand('write -P 0xaa 4k 64k')).toEqual({
      op: 'write',
      offsetBytes: 4096,
      lengthBytes: 65536,
      pattern: 0xaa,
      zero: false,
      mayUnmap: false,
    });
    expect(parseQemuIoCommand('write -z -u 0 64k')).toMatchObject({ zero: true, mayUnmap: true });
    expect(parseQemuIoCommand('write -z 0x10000 1M')).toMatchObject({
      zero: true,
      offsetBytes: 65536,
    });
    expect(parseQemuIoCommand('write 0 512')).toMatchObject({ pattern: 0xcd });
    expect(parseQemuIoCommand('read -P 17 2G 512')).toEqual({
      op: 'read',
      offsetBytes: 2 ** 31,
      lengthBytes: 512,
      pattern: 17,
    });
    expect(parseQemuIoCommand('  # comment')).toBeUndefined();
    expect(parseQemuIoScript('flush\n\nsleep 6000\nabort\n')).toEqual([
      { op: 'flush' },
      { op: 'sleep', ms: 6000 },
      { op: 'abort' },
    ]);
  });

  it('rejects unknown commands and malformed arguments with one-line errors', () => {
    expect(() => parseQemuIoCommand('frobnicate 0 1')).toThrow(/unknown command 'frobnicate'/);
    expect(() => parseQemuIoCommand('write 0')).toThrow(/expected OFFSET LENGTH/);
    expect(() => parseQemuIoCommand('write -P 300 0 512')).toThrow(/invalid pattern/);
    expect(() => parseQemuIoCommand('write -c 0 512')).toThrow(/unsupported option -c/);
    expect(() => parseQemuIoCommand('sleep soon')).toThrow(/milliseconds/);
  });

  it('writethrough (the default) flushes after every write; writeback does not', () => {
    const dir = makeTempDir();
    const file = path.join(dir, 'r.raw');
    expect(runLabCli(['create', '-f', 'raw', file, '1M']).status).toBe(0);
    const flushes = (mode: string[]) => {
      const log = path.join(dir, `${mode.join('')}.log`);
      const r = runLabCli([
        'io',
        '-q',
        '-f',
        'raw',
        ...mode,
        '--io-log',
        log,
        '-c',
        'write 0 4k',
        '-c',
        'write 8k 4k',
        file,
      ]);
      expect(r.status, r.stderr).toBe(0);
      return parseIoLog(fs.readFileSync(log, 'utf8')).filter((x) => x.op === 'flush').length;
    };
    expect(flushes([])).toBe(2);
    expect(flushes(['-t', 'writeback'])).toBe(0);
  });

  it('read -P fails loudly, naming the first mismatching offset', () => {
    const dir = makeTempDir();
    const file = path.join(dir, 'r.raw');
    runLabCli(['create', '-f', 'raw', file, '1M']);
    const r = runLabCli([
      'io',
      '-f',
      'raw',
      '-c',
      'write -P 0x5 0 4k',
      '-c',
      'read -P 0x5 0 8k',
      '-c',
      'write -P 9 0 512',
      file,
    ]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toBe(
      'qedlab: Pattern verification failed at offset 0, 8192 bytes: first mismatch at offset 4096 (expected 0x5, got 0x0)\n',
    );
    // Commands after the failure did not run.
    expect(fs.readFileSync(file)[0]).toBe(5);
  });

  it('abort stops at once: later commands do not run and the image is not closed', () => {
    const dir = makeTempDir();
    const file = path.join(dir, 'a.qed');
    runLabCli(['create', '-f', 'qed', file, '1G']);
    const log = path.join(dir, 'io.log');
    const r = runLabCli([
      'io',
      '-q',
      '-f',
      'qed',
      '-t',
      'writeback',
      '--io-log',
      log,
      '-c',
      'write -P 1 0 4k',
      '-c',
      'abort',
      '-c',
      'write -P 2 0 4k',
      file,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const ops = parseIoLog(fs.readFileSync(log, 'utf8'));
    expect(ops.filter((o) => o.op === 'write' && o.kind === 'data')).toHaveLength(1);
    expect(ops.at(-1)).toEqual({ op: 'write', offset: 65536, length: 512, kind: 'l1' });
  });

  it('prints qemu-io style reports and reads the script file after -c commands', () => {
    const dir = makeTempDir();
    const file = path.join(dir, 'r.raw');
    runLabCli(['create', '-f', 'raw', file, '1M']);
    const script = path.join(dir, 's');
    fs.writeFileSync(script, 'read -P 0x7 0 512\n');
    const r = runLabCli(['io', '-f', 'raw', '-c', 'write -P 7 0 512', '--script', script, file]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^wrote 512\/512 bytes at offset 0\n.*\nread 512\/512 bytes at offset 0\n/,
    );
  });
});
