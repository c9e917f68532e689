import { describe, expect, it } from 'vitest';
import { COST_MODEL_NAMES, createCostModel } from '../src/device/cost-models.ts';
import { UsageError } from '../src/util/errors.ts';

describe('cost model registry', () => {
  it('creates every named model, each a fresh instance', () => {
    expect([...COST_MODEL_NAMES]).toEqual(['none', 'hdd', 'sata-ssd', 'nvme', 'nvme-plp']);
    for (const name of COST_MODEL_NAMES) {
      const model = createCostModel(name);
      expect(model.name).toBe(name);
      expect(createCostModel(name)).not.toBe(model);
    }
  });

  it("'none' charges nothing", () => {
    const model = createCostModel('none');
    expect(model.costNs('read', 1e12, 1 << 20)).toBe(0);
    expect(model.costNs('flush', 0, 0)).toBe(0);
    expect(model.batchCostNs([{ op: 'write', offsetBytes: 0, lengthBytes: 4096 }], 4)).toBe(0);
  });

  it('an unknown name is a one-line UsageError listing the names', () => {
    expect(() => createCostModel('floppy')).toThrow(UsageError);
    try {
      createCostModel('floppy');
    } catch (error) {
      const message = (error as Error).message;
      expect(message).not.toContain('\n');
      expect(message).toContain("'floppy'");
      for (const name of COST_MODEL_NAMES) expect(message).toContain(name);
    }
  });
});
