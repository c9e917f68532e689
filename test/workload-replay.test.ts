import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createWorkload, parseWorkloadParams } from '../src/workloads/index.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qedlab-replay-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function trace(name: string, text: string): string {
  fs.writeFileSync(path.join(dir, name), text);
  return name;
}

const GIB = 2 ** 30;
const replay = (file: string, extra: Record<string, unknown> = {}) =>
  createWorkload('replay', parseWorkloadParams('replay', { file, ...extra }), {
    virtualSizeBytes: GIB,
    seed: 1,
    baseDir: dir,
  });

describe('replay of fio read_iolog files', () => {
  it('version 2: read/write/trim/sync/wait map to guest requests; add/open/close are skipped', () => {
    const file = trace(
      'v2.log',
      [
        'fio version 2 iolog',
        '/dev/vdb add',
        '/dev/vdb open',
        '/dev/vdb write 0 4096',
        '/dev/vdb read 4096 8192',
        '/dev/vdb trim 65536 65536',
        '/dev/vdb sync 0 0',
        '/dev/vdb wait 1500 0',
        '/dev/vdb datasync 0 0',
        '/dev/vdb close',
        '',
      ].join('\n'),
    );
    const w = replay(file);
    expect([...w.requests()]).toEqual([
      { op: 'write', offsetBytes: 0, lengthBytes: 4096 },
      { op: 'read', offsetBytes: 4096, lengthBytes: 8192 },
      { op: 'discard', offsetBytes: 65536, lengthBytes: 65536 },
      { op: 'flush', offsetBytes: 0, lengthBytes: 0 },
      { op: 'sleep', offsetBytes: 0, lengthBytes: 0, durationNs: 1_500_000 },
      { op: 'flush', offsetBytes: 0, lengthBytes: 0 },
    ]);
    expect(w.requestCount).toBe(6);
  });

  it('version 3: timestamps in ms become idle time between requests', () => {
    const file = trace(
      'v3.log',
      'fio version 3 iolog\n0 sda add\n0 sda open\n10 sda write 0 512\n25 sda write 512 512\n',
    );
    expect([...replay(file).requests()].map((r) => [r.op, r.durationNs ?? r.offsetBytes])).toEqual([
      ['sleep', 10_000_000],
      ['write', 0],
      ['sleep', 15_000_000],
      ['write', 512],
    ]);
  });

  it('errors name the file and line', () => {
    const bad = trace('bad.log', 'fio version 2 iolog\nsda write 0 4096\nsda scribble 0 1\n');
    expect(() => replay(bad)).toThrow(/^bad\.log:3: unknown action 'scribble'/);
    const past = trace('past.log', 'fio version 2 iolog\nsda write 1073741824 4096\n');
    expect(() => replay(past)).toThrow(/past the end of the 1 GiB image/);
    const two = trace('two.log', 'fio version 2 iolog\nsda write 0 4096\nsdb write 0 4096\n');
    expect(() => replay(two)).toThrow(/two\.log:3: a second file 'sdb'/);
    expect(() => replay('missing.log')).toThrow(/file: cannot read 'missing\.log': ENOENT/);
  });
});

describe('replay of qemu-io scripts', () => {
  it('write/-z/-P, read, discard, flush and sleep; abort ends the trace', () => {
    const file = trace(
      'script.io',
      [
        '# a comment',
        'write -P 0xaa 0 64k',
        'write -z 64k 64k',
        'read 0 4k',
        'discard 1M 64k',
        'flush',
        'sleep 6000',
        'abort',
        'write 0 4k',
        '',
      ].join('\n'),
    );
    expect([...replay(file).requests()]).toEqual([
      { op: 'write', offsetBytes: 0, lengthBytes: 65536, pattern: 0xaa },
      { op: 'zero', offsetBytes: 65536, lengthBytes: 65536 },
      { op: 'read', offsetBytes: 0, lengthBytes: 4096 },
      { op: 'discard', offsetBytes: 1048576, lengthBytes: 65536 },
      { op: 'flush', offsetBytes: 0, lengthBytes: 0 },
      { op: 'sleep', offsetBytes: 0, lengthBytes: 0, durationNs: 6_000_000_000 },
    ]);
  });

  it('flushEvery adds guest flushes after data requests', () => {
    const file = trace('w.io', 'write 0 4k\nwrite 4k 4k\nwrite 8k 4k\n');
    expect([...replay(file, { flushEvery: 2 }).requests()].map((r) => r.op)).toEqual([
      'write',
      'write',
      'flush',
      'write',
    ]);
  });

  it('a bad command names the line', () => {
    const file = trace('bad.io', 'write 0 4k\nfrobnicate\n');
    expect(() => replay(file)).toThrow(/^bad\.io:2: unknown command 'frobnicate'/);
  });
});
