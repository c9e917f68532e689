import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.ts';

const BIN = path.resolve(import.meta.dirname, '../bin/qedlab.js');

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qedlab-cli-create-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

/** Runs `main()` in-process, returning what it wrote to stderr and the exit code it set. */
async function runInProcess(args: string[]): Promise<{ stderr: string; exitCode: number }> {
  let stderr = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  vi.spyOn(console, 'log').mockImplementation(() => {});
  vi.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => {
    stderr += `${parts.join(' ')}\n`;
  });
  process.exitCode = undefined;
  await main(args);
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { stderr, exitCode };
}

describe('qedlab create -f raw', () => {
  it('bin/qedlab.js creates a sparse raw file of the requested size', () => {
    const file = path.join(dir, 'disk.raw');
    const result = spawnSync(process.execPath, [BIN, 'create', '-f', 'raw', file, '64M'], {
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`Formatting '${file}', fmt=raw size=67108864`);
    expect(fs.statSync(file).size).toBe(64 * 2 ** 20);
  });

  it('bin/qedlab.js: a bad size prints one line and exits non-zero, leaving no file', () => {
    const file = path.join(dir, 'bad.raw');
    const result = spawnSync(process.execPath, [BIN, 'create', '-f', 'raw', file, '12Q'], {
      encoding: 'utf8',
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/^qedlab: invalid size '12Q'.*\n$/);
    expect(result.stderr.split('\n')).toHaveLength(2);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it.each([
    [['create', '-f', 'raw', 'FILE', '-5'], /^qedlab: invalid size '-5'/],
    [['create', '--bogus', '-f', 'raw', 'FILE', '1M'], /^qedlab: Unknown argument: bogus/],
    [['create', '-f', 'nosuchformat', 'FILE', '1M'], /^qedlab: Unknown file format 'nosuchformat'/],
    [['create', '-f', 'raw', 'FILE'], /^qedlab: Image creation needs a size parameter/],
  ])('%j prints one line and exits non-zero', async (args, message) => {
    const file = path.join(dir, 'x.raw');
    const { stderr, exitCode } = await runInProcess(args.map((a) => (a === 'FILE' ? file : a)));
    expect(exitCode).not.toBe(0);
    expect(stderr).toMatch(message);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('sizes use binary units like qemu-img: 1T is 2^40 bytes (sparse)', async () => {
    const file = path.join(dir, 'big.raw');
    const { exitCode } = await runInProcess(['create', '-f', 'raw', file, '1T']);
    expect(exitCode).toBe(0);
    expect(fs.statSync(file).size).toBe(2 ** 40);
  });
});
