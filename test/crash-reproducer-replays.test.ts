import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseQemuIoScript } from '../src/cli/qemu-io-script.ts';
import { exploreCrashStates } from '../src/crash/explorer.ts';
import { writeReproducer } from '../src/crash/reproducer.ts';
import { makeTempDir, runLabCli } from './helpers/qemu-compare.ts';

// A failing crash state is written as files `qedlab io` replays: the crashed image fails the
// verify script, the script prefix parses and ends in `abort`, and `qedlab check` agrees.
describe('crash reproducer files', () => {
  const result = exploreCrashStates(
    { format: 'qed', workload: 'random', seed: 1 },
    { maxStates: 400 },
  );
  const finding = result.failures.find((f) => f.behaviour?.name === 'qed-need-check-unflushed');

  it('the QED NEED_CHECK window is found and minimized to one surviving L2 write', () => {
    expect(finding).toBeDefined();
    expect(finding?.explainedBy).toBe('header');
    expect(finding?.survivors.length).toBe(1);
    expect(finding?.originalSurvivors.length).toBeGreaterThanOrEqual(1);
  });

  it('replays with qedlab io and qedlab check', () => {
    if (!finding) throw new Error('no finding to replay');
    const dir = makeTempDir('qedlab-crash-repro-');
    const files = writeReproducer(result.run, finding, dir, 'repro');
    const script = fs.readFileSync(files.script, 'utf8');
    const commands = parseQemuIoScript(script);
    expect(commands[commands.length - 1]).toEqual({ op: 'abort' });
    expect(commands.length).toBeGreaterThan(1);
    expect(fs.readFileSync(files.description, 'utf8')).toContain('qed-need-check-unflushed');

    const io = runLabCli(['io', '-q', '-f', 'qed', files.image, '--script', files.verifyScript]);
    expect(io.status).not.toBe(0);
    expect(io.stderr).toMatch(/^qedlab: .*invalid/m);
    expect(io.stderr.trim().split('\n')).toHaveLength(1);

    const check = runLabCli(['check', '-f', 'qed', files.image]);
    expect(check.status).toBe(2);
    expect(path.basename(files.image)).toBe('repro.crashed.qed');
  });
});
