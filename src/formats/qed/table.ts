import type { BlockDevice, IoKind } from '../../device/types.ts';
import { SECTOR_BYTES } from './constants.ts';

/**
 * L1/L2 tables: `nelems` little-endian u64 entries. In memory they are Float64Arrays of offsets
 * (exact below 2^53, far beyond any file the lab writes; a larger value is past EOF and invalid
 * either way), which makes lookups a plain array read.
 */
const TWO_POW_32 = 4294967296;
const ENTRIES_PER_SECTOR = SECTOR_BYTES / 8;

export function decodeTable(bytes: Uint8Array, nelems: number): Float64Array {
  const table = new Float64Array(nelems);
  const aligned = (bytes.byteOffset & 3) === 0 ? bytes : bytes.slice();
  const words = new Uint32Array(aligned.buffer, aligned.byteOffset, nelems * 2);
  for (let i = 0; i < nelems; i++) {
    const lo = words[2 * i] as number;
    const hi = words[2 * i + 1] as number;
    if (lo !== 0 || hi !== 0) table[i] = hi * TWO_POW_32 + lo;
  }
  return table;
}

/** Encodes entries [first, first + count) into `out` (little-endian hosts only, as node on x86/arm). */
export function encodeEntries(
  table: Float64Array,
  first: number,
  count: number,
  out: Uint8Array,
): void {
  const words = new Uint32Array(out.buffer, out.byteOffset, count * 2);
  for (let i = 0; i < count; i++) {
    const v = table[first + i] as number;
    if (v === 0) {
      words[2 * i] = 0;
      words[2 * i + 1] = 0;
    } else {
      const hi = Math.floor(v / TWO_POW_32);
      words[2 * i] = v - hi * TWO_POW_32;
      words[2 * i + 1] = hi;
    }
  }
}

export function encodeTable(table: Float64Array): Uint8Array {
  const out = new Uint8Array(table.length * 8);
  encodeEntries(table, 0, table.length, out);
  return out;
}

/**
 * Writes the 512-byte sectors of a table that hold entries [index, index + n), like QEMU's
 * qed_write_table: one pwrite covering whole sectors. `scratch` is reused between calls (the
 * hot path of every allocating write); devices copy what they are given.
 */
export class TableWriter {
  #scratch = new Uint8Array(SECTOR_BYTES);

  writeSectors(
    device: BlockDevice,
    tableOffsetBytes: number,
    table: Float64Array,
    index: number,
    n: number,
    kind: IoKind,
  ): void {
    const firstSector = Math.floor(index / ENTRIES_PER_SECTOR);
    const endSector = Math.ceil((index + n) / ENTRIES_PER_SECTOR);
    const firstEntry = firstSector * ENTRIES_PER_SECTOR;
    const count = Math.min(endSector * ENTRIES_PER_SECTOR, table.length) - firstEntry;
    const bytes = (endSector - firstSector) * SECTOR_BYTES;
    if (this.#scratch.length < bytes) this.#scratch = new Uint8Array(bytes);
    const out = this.#scratch.subarray(0, bytes);
    encodeEntries(table, firstEntry, count, out);
    device.write(tableOffsetBytes + firstSector * SECTOR_BYTES, out, kind);
  }
}

/** Reads a whole table (QEMU's qed_read_table: one pread of cs·ts bytes). */
export function readTable(
  device: BlockDevice,
  offsetBytes: number,
  nelems: number,
  kind: IoKind,
): Float64Array {
  return decodeTable(device.read(offsetBytes, nelems * 8, kind), nelems);
}
