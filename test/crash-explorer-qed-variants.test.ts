import { describe, expect, it } from 'vitest';
import { exploreCrashStates } from '../src/crash/explorer.ts';

// The QED design variants (issue 6) under the crash explorer: `--variant` reaches the engine at
// create and at every reopen, and the variants that keep QEMU's orderings survive every state.
describe('crash explorer on QED design variants', () => {
  it.each(['always-scan', 'clean-timer=1s', 'parallel-check=4'])('%s: 0 violations', (variant) => {
    const r = exploreCrashStates(
      { format: 'qed', variant, workload: 'mixed', seed: 1 },
      { maxStates: 150 },
    );
    expect(r.run.config.variant).toBe(variant);
    expect(r.statesExplored).toBeGreaterThan(100);
    expect(r.violations).toBe(0);
  });

  // Marked `fails` for a defect the explorer found in the free-space variants (reported to
  // their owner; remove `.fails` once fixed): a cluster taken from the freelist or bitmap gets
  // its new data and its L2 entry with no flush between, so a crash that keeps the L2 update and
  // loses the data shows the cluster's previous owner's data (QEMU avoids this by never reusing
  // clusters, and orders data before L2 with a flush when a backing file is present).
  it.fails.each(['freelist', 'bitmap'])('%s: 0 violations', (variant) => {
    const r = exploreCrashStates(
      { format: 'qed', variant, workload: 'discard-churn', seed: 1 },
      { maxStates: 300 },
    );
    expect(r.violations).toBe(0);
  });
});
