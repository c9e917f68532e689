import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { makeTempDir, runLabCli } from './helpers/qemu-compare.ts';

/**
 * `qedlab io --script` runs scripts longer than a JavaScript call's argument limit (the command
 * list once went through `push(...commands)`, which overflows the stack past ~120,000 commands),
 * after the `-c` commands, in order.
 */
it('qedlab io runs a 200,000-line script after its -c commands', () => {
  const dir = makeTempDir();
  const file = path.join(dir, 'r.raw');
  expect(runLabCli(['create', '-f', 'raw', file, '1M']).status).toBe(0);
  const script = path.join(dir, 'long');
  // Reads of what -c wrote, so every line runs against the same byte; the last line writes.
  fs.writeFileSync(script, `${'read -P 0x5a 0 512\n'.repeat(200_000)}write -P 0x6b 512 512\n`);
  const r = runLabCli([
    'io',
    '-q',
    '-f',
    'raw',
    '-c',
    'write -P 0x5a 0 512',
    '--script',
    script,
    file,
  ]);
  expect(r.status, r.stderr).toBe(0);
  const bytes = fs.readFileSync(file);
  expect(bytes[511]).toBe(0x5a);
  expect(bytes[512]).toBe(0x6b);
  expect(bytes[1024]).toBe(0);
});
