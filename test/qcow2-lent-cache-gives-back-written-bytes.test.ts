import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';
import type { BlockDevice, IoKind, PatchedWrite } from '../src/device/types.ts';
import { MetadataCache, type PageLender } from '../src/formats/qcow2/metadata-cache.ts';
import { Rng } from '../src/util/rng.ts';

const TABLE_BYTES = 4096;
const TABLES = 48;
const SLOTS = 8;

/**
 * A MetadataCache lending its slots from a MemoryDevice's pages, driven at random (entries,
 * runs of entries and whole tables changed, evictions, flushes, discards, lent tables taken back
 * mid-change), against a model of two things per table: the bytes of its last write-back, which
 * the device must show whenever the cache gives its lent tables back, and the bytes the cache's
 * users last put there, which the slot must hold.
 */
function exercise(seed: number): { borrows: number; givenBack: number } {
  const memory = new MemoryDevice();
  const rng = new Rng(seed);
  const written = new Map<number, Uint8Array>();
  const current = new Map<number, Uint8Array>();
  for (let t = 0; t < TABLES; t++) {
    const bytes = new Uint8Array(TABLE_BYTES);
    for (let i = 0; i < TABLE_BYTES; i++) bytes[i] = 1 + rng.nextInt(255);
    memory.write((t + 1) * TABLE_BYTES, bytes, 'l2');
    written.set((t + 1) * TABLE_BYTES, bytes.slice());
    current.set((t + 1) * TABLE_BYTES, bytes.slice());
  }
  // Write-backs of slots that are not lent reach the device as patched writes: note their bytes.
  const device: BlockDevice & {
    writePatched(o: number, l: number, w: PatchedWrite, k: IoKind): void;
  } = {
    read: (o, l, k) => memory.read(o, l, k),
    readInto: (o: number, out: Uint8Array, k: IoKind) => memory.readInto(o, out, k),
    write: (o, d, k) => memory.write(o, d, k),
    writePatched: (o, l, w, k) => {
      memory.writePatched(o, l, w, k);
      written.set(o, memory.read(o, l));
    },
    zeroRange: (o, l, k) => memory.zeroRange(o, l, k),
    flush: () => {},
    size: () => memory.size(),
    truncate: (s) => memory.truncate(s),
  } as BlockDevice & { writePatched(o: number, l: number, w: PatchedWrite, k: IoKind): void };
  const cache = new MetadataCache(device, SLOTS, TABLE_BYTES, 'l2');
  let borrows = 0;
  let givenBack = 0;
  const lender: PageLender = {
    borrow: (o, l) => {
      const view = memory.ownedPageView(o, l);
      if (view !== null) borrows++;
      return view;
    },
    // The device holds the lent table already: its bytes are the written ones now.
    wroteBack: (o, l) => written.set(o, memory.read(o, l)),
    returned: () => givenBack++,
  };
  cache.lendFrom(lender);

  const check = () => {
    for (let t = 0; t < TABLES; t++) {
      const offset = (t + 1) * TABLE_BYTES;
      const slot = cache.lookup(offset);
      if (slot >= 0) {
        expect(Buffer.compare(cache.table(slot), current.get(offset) as Uint8Array)).toBe(0);
      }
      if (rng.nextInt(3) === 0) {
        cache.returnLentIn(offset, TABLE_BYTES);
        const onDevice = memory.read(offset, TABLE_BYTES);
        expect(Buffer.compare(onDevice, written.get(offset) as Uint8Array)).toBe(0);
      }
    }
  };

  for (let step = 0; step < 6000; step++) {
    const roll = rng.nextInt(100);
    // Offset 0 means an empty slot (the header cluster is never a table).
    const offset = (1 + rng.nextInt(TABLES)) * TABLE_BYTES;
    if (roll < 80) {
      const slot = cache.get(offset);
      const table = cache.table(slot);
      const model = current.get(offset) as Uint8Array;
      const entries = TABLE_BYTES / 8;
      let from: number;
      let to: number;
      if (roll < 55) {
        from = rng.nextInt(entries) * 8;
        to = from + 8;
      } else if (roll < 75) {
        from = rng.nextInt(entries) * 8;
        to = Math.min(TABLE_BYTES, from + 8 * (1 + rng.nextInt(40)));
      } else {
        from = 0;
        to = TABLE_BYTES;
      }
      if (to === TABLE_BYTES && from === 0) cache.markDirty(slot);
      else cache.markDirtyBytes(slot, from, to);
      for (let i = from; i < to; i++) {
        const value = rng.nextInt(256);
        table[i] = value;
        model[i] = value;
      }
      cache.put(slot);
    } else if (roll < 85) {
      cache.flush();
    } else if (roll < 90) {
      const slot = cache.lookup(offset);
      if (slot >= 0) {
        cache.discard(slot);
        // The changes are gone: the table is what its last write-back left.
        current.set(offset, (written.get(offset) as Uint8Array).slice());
      }
    } else if (roll < 95) {
      cache.returnLentIn(offset, TABLE_BYTES * (1 + rng.nextInt(3)));
    } else {
      check();
    }
  }
  check();
  cache.flush();
  for (let t = 0; t < TABLES; t++) {
    const offset = (t + 1) * TABLE_BYTES;
    expect(
      Buffer.compare(memory.read(offset, TABLE_BYTES), current.get(offset) as Uint8Array),
    ).toBe(0);
  }
  return { borrows, givenBack };
}

describe('a metadata cache lending its slots from the device', () => {
  it('shows the device its tables as last written back, whatever changed since', () => {
    for (const seed of [1, 2, 3]) {
      const { borrows, givenBack } = exercise(seed);
      expect(borrows).toBeGreaterThan(500);
      expect(givenBack).toBeGreaterThan(500);
    }
  });
});
