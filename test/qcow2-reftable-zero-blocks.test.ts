import { describe, expect, it } from 'vitest';
import { lastNonZeroIndex, parseRefcountTable } from '../src/formats/qcow2/refcount-table.ts';
import { readU64 } from '../src/formats/qcow2/u64.ts';
import { Rng } from '../src/util/rng.ts';

/** The reftable parse as one decode per entry (what the block skip must agree with). */
function parseEachEntry(bytes: Uint8Array, entries: number): Float64Array {
  const table = new Float64Array(entries);
  for (let i = 0; i < entries; i++) {
    const raw = readU64(bytes, i * 8);
    table[i] = raw - (raw % 512 === 0 ? 0 : raw % 512);
  }
  return table;
}

function lastNonZeroEachEntry(table: Float64Array, size: number): number {
  let i = size - 1;
  while (i > 0 && table[i] === 0) i--;
  return i;
}

/** A reftable of `entries` with non-zero entries (some with only reserved bits) at `indices`. */
function reftableBytes(entries: number, indices: number[], rng: Rng): Uint8Array {
  const bytes = new Uint8Array(entries * 8);
  const view = new DataView(bytes.buffer);
  for (const i of indices) {
    if (i >= entries) continue;
    const reservedOnly = rng.nextInt(4) === 0;
    view.setUint32(i * 8, reservedOnly ? 0 : rng.nextInt(1 << 20));
    view.setUint32(i * 8 + 4, reservedOnly ? 1 + rng.nextInt(511) : rng.nextInt(2 ** 31) * 2);
  }
  return bytes;
}

/**
 * Zero reftable entries are skipped 512 at a time with a memcmp, when parsing the table and when
 * finding its last used entry: the same table and index as decoding every entry, with used
 * entries at and around the block edges, none at all, and tables shorter than a block.
 */
describe('qcow2 reftable: zero blocks skipped without missing an entry', () => {
  const rng = new Rng(9);
  // Block edges counted from the start (parsing) and from the end (8192 - 513 = 7679, and for
  // the half-size table 4096 - 513 = 3583: just before the last block, finding the last entry).
  const edges = [0, 1, 510, 511, 512, 513, 1023, 1024, 3583, 4095, 4096, 7167, 7679, 8190, 8191];
  const cases: Array<[string, number, number[]]> = [
    ['empty', 8192, []],
    ['only entry 0', 8192, [0]],
    ...edges.map((i): [string, number, number[]] => [`one entry at ${i}`, 8192, [i]]),
    ['entries at every block edge', 8192, edges],
    ['random entries', 8192, Array.from({ length: 40 }, () => rng.nextInt(8192))],
    ['shorter than a block', 300, [5, 299]],
    ['not a whole number of blocks', 1500, [1499]],
    ['one entry', 1, [0]],
  ];
  it.each(cases)('%s', (_name, entries, indices) => {
    const bytes = reftableBytes(entries, indices, rng);
    const table = parseRefcountTable(bytes, entries);
    expect(Array.from(table)).toEqual(Array.from(parseEachEntry(bytes, entries)));
    for (const size of [entries, Math.floor(entries / 2), 1, 0]) {
      expect(lastNonZeroIndex(table, size)).toBe(lastNonZeroEachEntry(table, size));
    }
  });

  it('a table longer than its stated size, and -0 and NaN entries', () => {
    const table = new Float64Array(4096);
    table[100] = -0;
    table[2000] = Number.NaN;
    for (const size of [4096, 2001, 2000, 1500, 101, 100]) {
      expect(lastNonZeroIndex(table, size)).toBe(lastNonZeroEachEntry(table, size));
    }
    expect(lastNonZeroIndex(table, 5000)).toBe(lastNonZeroEachEntry(table, 5000));
  });
});
