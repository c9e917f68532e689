import { describe, expect, it } from 'vitest';
import { BudgetDevice } from '../src/fuzz/budget-device.ts';
import { LabError } from '../src/util/errors.ts';
import { headerFields, openMemory, smallQcow2 } from './helpers/qcow2-malformed.ts';

// A snapshot table cut short by EOF cannot be completed by reading further (past EOF there are
// only zeros): the open refuses it after reading about the file, not 64 MiB.
describe('qcow2: snapshot table truncated by EOF', () => {
  it('is refused with a one-line error after a read bounded by the file', () => {
    const memory = smallQcow2({ snapshots: 2 });
    const { nbSnapshots, snapshotsOffset } = headerFields(memory);
    expect(nbSnapshots).toBe(2);
    memory.truncate(snapshotsOffset + 100); // inside the second entry
    for (const forCheck of [true, false]) {
      const budget = new BudgetDevice(memory.clone());
      let error: unknown;
      try {
        openMemory(budget, { readOnly: forCheck, forCheck });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(LabError);
      expect((error as LabError).message).not.toContain('\n');
      expect(budget.readBytes).toBeLessThan(memory.size() + 1024 * 1024);
    }
  });

  it('an intact table still opens and lists its snapshots', () => {
    const memory = smallQcow2({ snapshots: 2 });
    const image = openMemory(memory, { readOnly: true, forCheck: false });
    expect(image.s.snapshots.map((s) => s.name)).toEqual(['snap0', 'snap1']);
  });
});
