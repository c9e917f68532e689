import { describe, expect, it } from 'vitest';
import { MISSING, NumberIndex } from '../src/util/number-index.ts';
import { Rng } from '../src/util/rng.ts';

describe('NumberIndex: the typed-array hash behind device pages and the QED caches', () => {
  it('answers like a Map over seeded inserts, overwrites and deletes, growing and cloned', () => {
    const rng = new Rng(42);
    const index = new NumberIndex(4);
    const model = new Map<number, number>();
    // Few distinct keys, some past 2^32, so probe runs collide, wrap and shift back on delete.
    const keys = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? 2 ** 40 + i * 4096 : i * 7));
    let clone: NumberIndex | undefined;
    let cloneModel: Map<number, number> | undefined;
    for (let step = 0; step < 20_000; step++) {
      const key = keys[rng.nextInt(keys.length)] as number;
      if (rng.nextInt(3) === 0) {
        index.delete(key);
        model.delete(key);
      } else {
        const value = rng.nextInt(1 << 30);
        index.set(key, value);
        model.set(key, value);
      }
      if (step === 10_000) {
        clone = index.clone();
        cloneModel = new Map(model);
      }
    }
    expect(index.size).toBe(model.size);
    for (const key of keys) expect(index.get(key)).toBe(model.get(key) ?? MISSING);
    const seen = new Map<number, number>();
    index.forEach((k, v) => {
      seen.set(k, v);
    });
    expect(seen).toEqual(model);
    // The clone kept the state it was taken in, untouched by the 10,000 later steps.
    for (const key of keys) expect(clone?.get(key)).toBe(cloneModel?.get(key) ?? MISSING);
  });

  it('withRoomFor keeps its capacity while it holds at most that many keys', () => {
    const index = NumberIndex.withRoomFor(100);
    const capacity = index.keys.length;
    for (let i = 0; i < 100; i++) index.set(i * 65536, i);
    expect(index.keys.length).toBe(capacity);
    expect(index.get(99 * 65536)).toBe(99);
  });
});
