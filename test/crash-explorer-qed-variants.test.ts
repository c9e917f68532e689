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

  // The free-space variants reuse clusters: the explorer found that a reused cluster's data and
  // L2 entry need QEMU's backing-file ordering (data, flush, L2), now in the write path.
  it.each(['freelist', 'bitmap'])('%s: 0 violations', (variant) => {
    const r = exploreCrashStates(
      { format: 'qed', variant, workload: 'discard-churn', seed: 1 },
      { maxStates: 300 },
    );
    expect(r.violations).toBe(0);
  });
});
