import { describe, expect, it } from 'vitest';
import { makeTempDir, runLabCli } from './helpers/qemu-compare.ts';

// `qedlab crash` prints the counts (or JSON), exits 0 without violations, 1 with, and refuses
// bad arguments with one line.
describe('qedlab crash', () => {
  it('explores and reports counts as JSON', () => {
    const out = makeTempDir('qedlab-crash-cli-');
    const r = runLabCli([
      'crash',
      '-f',
      'qed',
      '-w',
      'sequential',
      '--states',
      '60',
      '--output',
      'json',
      '--out',
      out,
    ]);
    expect(r.status).toBe(0);
    const json = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(json.states_explored as number).toBeGreaterThan(40);
    expect(json.states_explored as number).toBeLessThanOrEqual(60);
    expect(json.violations).toBe(0);
    expect(json.epochs as number).toBeGreaterThan(1);
  });

  it('exits 1 when a mutant is caught, and writes reproducers', () => {
    const out = makeTempDir('qedlab-crash-cli-');
    const r = runLabCli([
      'crash',
      '-f',
      'qcow2',
      '-w',
      'mixed',
      '--states',
      '150',
      '--mutant',
      'qcow2-l2-before-refblock-flush',
      '--out',
      out,
    ]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/violations: [1-9]/);
    expect(r.stdout).toMatch(/reproducer: .*violation-.*\.txt/);
  });

  it.each([
    [['crash', '-f', 'raw'], /crash explorer covers qed, qcow2/],
    [['crash', '-f', 'qed', '-w', 'nope'], /unknown crash workload 'nope'/],
    [['crash', '-f', 'qed', '--variant', 'nope'], /unknown variant 'nope' of qed/],
    [['crash', '-f', 'qed', '--mutant', 'qcow2-l1-before-l2-flush'], /applies to qcow2/],
    [['crash', '-f', 'qed', '--states', '0'], /--states/],
  ])('%j is refused with one line', (args, message) => {
    const r = runLabCli(args);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
