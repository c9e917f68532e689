import { describe, expect, it } from 'vitest';
import { exploreCrashStates } from '../src/crash/explorer.ts';

// qcow2 (QEMU 7.2's cache dependencies and flushes) survives every explored power cut, lazy
// refcounts included; QEMU's own windows are counted apart (qemu-windows.ts).
describe('crash explorer on qcow2', () => {
  it.each([
    { workload: 'mixed', backing: false, variant: 'qemu' },
    { workload: 'discard-churn', backing: false, variant: 'qemu' },
    { workload: 'mixed', backing: false, variant: 'lazy-refcounts' },
  ])('$workload ($variant): hundreds of states, 0 violations', ({ workload, backing, variant }) => {
    const r = exploreCrashStates(
      { format: 'qcow2', variant, workload, seed: 1, backing },
      { maxStates: 200 },
    );
    expect(r.statesExplored).toBeGreaterThanOrEqual(100);
    expect(r.prefixStates).toBeGreaterThan(0);
    expect(r.violations).toBe(0);
  });
});
