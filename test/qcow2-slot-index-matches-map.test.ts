import { describe, expect, it } from 'vitest';
import { SlotIndex } from '../src/formats/qcow2/slot-index.ts';
import { Rng } from '../src/util/rng.ts';

describe('SlotIndex: which qcow2 cache slot holds a table offset', () => {
  it('answers like a Map over seeded moves of tables between slots', () => {
    const slots = 64;
    const tableBytes = 4096;
    const index = new SlotIndex(slots, tableBytes);
    const rng = new Rng(7);
    // Runs of consecutive tables, strides of 2^14 and 2^28 tables (same bucket before folding),
    // tables past 2^31 (over 8 TiB into the file) and an unaligned offset.
    const offsets: number[] = [];
    for (let i = 0; i < 40; i++) offsets.push((1000 + i) * tableBytes);
    for (let i = 1; i <= 20; i++) offsets.push(i * 2 ** 14 * tableBytes);
    for (let i = 1; i <= 20; i++) offsets.push(i * 2 ** 28 * tableBytes);
    for (let i = 0; i < 20; i++) offsets.push((2 ** 31 + i * 2 ** 17) * tableBytes);
    offsets.push(3 * tableBytes + 512);
    const slotOf = new Map<number, number>();
    const offsetIn = new Map<number, number>();
    for (let step = 0; step < 50_000; step++) {
      const slot = rng.nextInt(slots);
      const offset = offsets[rng.nextInt(offsets.length)] as number;
      // What MetadataCache does on a miss: take the victim slot out, index it under the new table.
      if (slotOf.has(offset)) continue;
      index.delete(slot);
      const old = offsetIn.get(slot);
      if (old !== undefined) slotOf.delete(old);
      offsetIn.delete(slot);
      if (rng.nextInt(5) === 0) continue; // discarded: the slot stays out of every chain
      index.set(offset, slot);
      slotOf.set(offset, slot);
      offsetIn.set(slot, offset);
      if (step % 997 === 0) {
        for (const o of offsets) expect(index.get(o)).toBe(slotOf.get(o) ?? -1);
      }
    }
    for (const o of offsets) expect(index.get(o)).toBe(slotOf.get(o) ?? -1);
    // Deleting a slot in no chain changes nothing.
    const free = Array.from({ length: slots }, (_, s) => s).find((s) => !offsetIn.has(s));
    if (free !== undefined) index.delete(free);
    for (const o of offsets) expect(index.get(o)).toBe(slotOf.get(o) ?? -1);
  });
});
