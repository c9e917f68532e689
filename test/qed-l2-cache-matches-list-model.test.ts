import { describe, expect, it } from 'vitest';
import { L2Cache } from '../src/formats/qed/l2-cache.ts';
import { QedTable } from '../src/formats/qed/table.ts';
import { Rng } from '../src/util/rng.ts';

/**
 * The cache answers lookups from hints and a key index; QEMU walks a list. Over a long random
 * sequence of lookups and commits (keys past 2^32 included, hints that point at the wrong entry,
 * a key looked up under two L1 indexes as a corrupt image would), it finds, keeps and evicts
 * exactly what the list model does.
 */
describe('QED L2 cache lookups', () => {
  it('match a FIFO list walked on every lookup', () => {
    const rng = new Rng(11);
    const capacity = 50;
    const cache = new L2Cache(capacity, 64);
    const model: Array<{ key: number; table: QedTable }> = [];
    const keyPool: number[] = [];
    for (let i = 0; i < 300; i++) keyPool.push(i < 150 ? 4 * i + 4 : 2 ** 33 + i * 2 ** 20);
    let hits = 0;
    for (let step = 0; step < 20000; step++) {
      const key = keyPool[rng.nextInt(keyPool.length)] as number;
      const hint = rng.nextInt(80) - 8; // some out of range, some negative
      const found = cache.find(key, hint);
      const expected = model.find((e) => e.key === key);
      expect(found).toBe(expected?.table);
      if (found !== undefined) {
        hits++;
        continue;
      }
      const table = QedTable.zeroed(1);
      const committed = cache.insert(key, table, hint, rng.nextInt(2) === 0);
      expect(committed).toBe(table);
      if (model.length === capacity) model.shift();
      model.push({ key, table });
      expect(cache.keys()).toEqual(model.map((e) => e.key));
    }
    expect(hits).toBeGreaterThan(1000);
  });
});
