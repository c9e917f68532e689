import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.ts';

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

async function run(args: string[]): Promise<{ stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  await main(args);
  vi.restoreAllMocks();
  return { stdout, stderr };
}

describe('qedlab run: one case from flags', () => {
  it('prints the metrics of a QED sparse fill as name/value lines', async () => {
    const { stdout } = await run([
      'run',
      '-f',
      'qed',
      '--workload',
      'tb-sparse',
      '-n',
      '4',
      '-p',
      'place=start',
      '-p',
      'order=ascending',
      '--size',
      '1T',
    ]);
    const lines = new Map(
      stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/\s{2,}/) as [string, string]),
    );
    expect(lines.get('case_id')).toBe('run/qed/tb-sparse/1TiB/none/seed=1');
    expect(lines.get('guest_writes')).toBe('4');
    expect(lines.get('host_written_bytes_l2')).toBe((4 * 262144).toLocaleString('en-US'));
    expect(lines.get('fsck_needed_check')).toBe('1');
    expect(process.exitCode ?? 0).toBe(0);
  });

  it('--output json gives the row and the details', async () => {
    const { stdout } = await run([
      'run',
      '-f',
      'raw',
      '--workload',
      'random',
      '-n',
      '50',
      '--size',
      '1G',
      '--device',
      'nvme',
      '--crash-points',
      '2',
      '--output',
      'json',
    ]);
    const out = JSON.parse(stdout);
    expect(out.row.guest_requests).toBe(50);
    expect(out.detail.fsck_points).toHaveLength(2);
    expect(out.detail.histogram.reduce((s: number, b: number[]) => s + (b[2] as number), 0)).toBe(
      50,
    );
  });

  it.each([
    [
      ['run', '--workload', 'sparse', '--density', '7', '--size', '1T'],
      /density: expected a fraction/,
    ],
    [
      ['run', '--workload', 'random', '-p', 'colour=red'],
      /colour: unknown parameter for workload 'random'/,
    ],
    [['run', '-f', 'vmdk'], /Unknown file format 'vmdk'/],
    [['run', '--size', '1X'], /invalid size '1X'/],
    [
      ['run', '--workload', 'random', '--bs', '8k', '-p', 'workingSet=4k', '--size', '1G'],
      /bs: 8 KiB is larger than the working set/,
    ],
  ])('%j fails with a one-line message', async (args, message) => {
    const { stdout, stderr } = await run(args);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^qedlab: /);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(process.exitCode).toBe(1);
  });
});
