import { describe, expect, it } from 'vitest';
import { exploreCrashStates } from '../src/crash/explorer.ts';

// QED (QEMU 7.2's orderings) survives every explored power cut: the only failing states are
// QEMU's own documented behaviours (counted apart, see qemu-windows.ts), never a violation.
describe('crash explorer on QED', () => {
  it.each([
    { workload: 'mixed', backing: false },
    { workload: 'mixed', backing: true },
    { workload: 'sparse', backing: true },
  ])('$workload (backing $backing): hundreds of states, 0 violations', ({ workload, backing }) => {
    const r = exploreCrashStates({ format: 'qed', workload, seed: 1, backing }, { maxStates: 200 });
    expect(r.statesExplored).toBeGreaterThanOrEqual(100);
    expect(r.prefixStates).toBeGreaterThan(0);
    expect(r.epochs).toBeGreaterThan(5);
    expect(r.byClass).not.toHaveProperty('violation:data');
    expect(r.violations).toBe(0);
  });
});
