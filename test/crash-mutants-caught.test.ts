import { describe, expect, it } from 'vitest';
import { exploreCrashStates } from '../src/crash/explorer.ts';
import { FLUSH_MUTANTS } from '../src/crash/flush-mutants.ts';

// The explorer must be able to fail: every mutant (one flush removed from QEMU's ordering) is
// caught as a violation. The same configurations on the baseline engines have none
// (crash-explorer-qed/qcow2-no-violations tests).
// The freelist mutant's window needs a random subset (an L2 clear lost, a later data write kept)
// in an epoch of many small ones: it gets a larger budget.
const STATES: Record<string, number> = { 'qed-freelist-no-unmap-sync': 800 };

const WORKLOAD: Record<string, string> = {
  'qed-l2-before-data-flush': 'mixed',
  'qed-l1-before-l2-flush': 'sparse',
  'qed-freelist-no-unmap-sync': 'discard-churn',
  'qcow2-l1-before-l2-flush': 'mixed',
  'qcow2-l2-before-refblock-flush': 'mixed',
};

describe('flush mutants', () => {
  it('every mutant in the table has a workload here', () => {
    for (const m of FLUSH_MUTANTS) expect(WORKLOAD).toHaveProperty(m.name);
  });

  it.each(FLUSH_MUTANTS.map((m) => ({ name: m.name, format: m.formats[0] as string })))(
    '$name is caught',
    ({ name, format }) => {
      const workload = WORKLOAD[name] as string;
      const mutant = exploreCrashStates(
        { format, workload, seed: 1, mutant: name },
        { maxStates: STATES[name] ?? 200 },
      );
      expect(mutant.run.mutantDroppedFlushes).toBeGreaterThan(0);
      expect(mutant.violations).toBeGreaterThan(0);
      expect(mutant.failures.some((f) => f.class === 'violation')).toBe(true);
    },
  );
});
