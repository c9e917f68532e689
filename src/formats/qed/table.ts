import type { BlockDevice, IoKind } from '../../device/types.ts';
import { SECTOR_BYTES } from './constants.ts';

const TWO_POW_32 = 4294967296;
const SLAB_BYTES = 16 * 1024 * 1024;
let slab = new ArrayBuffer(0);
let slabUsed = SLAB_BYTES;

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  // Tables are kept in their on-disk little-endian form and read through a Uint32Array.
  throw new Error('qedlab QED engine needs a little-endian host');
}

/**
 * An L1 or L2 table: `entries` little-endian u64 offsets, kept in on-disk form so that reading a
 * table is one copy and writing sectors of it needs no encoding; entries are read as two u32
 * halves (exact below 2^53, far beyond any file the lab writes; a larger value is past the end of
 * the file and invalid either way).
 */
export class QedTable {
  readonly bytes: Uint8Array;
  readonly words: Uint32Array;
  readonly entries: number;

  constructor(bytes: Uint8Array) {
    this.bytes = (bytes.byteOffset & 7) === 0 ? bytes : bytes.slice();
    this.entries = this.bytes.length >>> 3;
    this.words = new Uint32Array(this.bytes.buffer, this.bytes.byteOffset, this.entries * 2);
  }

  /**
   * A new all-zero table. Small tables are carved from 16 MiB slabs: allocating hundreds of
   * separate 256 KiB buffers costs more in GC pressure than the tables themselves.
   */
  static zeroed(entries: number): QedTable {
    const bytes = entries * 8;
    if (bytes === 0 || bytes > SLAB_BYTES / 16) return new QedTable(new Uint8Array(bytes));
    if (slabUsed + bytes > SLAB_BYTES) {
      slab = new ArrayBuffer(SLAB_BYTES);
      slabUsed = 0;
    }
    const view = new Uint8Array(slab, slabUsed, bytes);
    slabUsed += bytes;
    return new QedTable(view);
  }

  get(index: number): number {
    const w = this.words;
    const hi = w[2 * index + 1] as number;
    const lo = w[2 * index] as number;
    return hi === 0 ? lo : hi * TWO_POW_32 + lo;
  }

  set(index: number, value: number): void {
    const w = this.words;
    if (value < TWO_POW_32) {
      w[2 * index] = value;
      w[2 * index + 1] = 0;
    } else {
      const hi = Math.floor(value / TWO_POW_32);
      w[2 * index] = value - hi * TWO_POW_32;
      w[2 * index + 1] = hi;
    }
  }
}

/** Reads a whole table (QEMU's qed_read_table: one pread of cs·ts bytes). */
export function readTable(
  device: BlockDevice,
  offsetBytes: number,
  entries: number,
  kind: IoKind,
): QedTable {
  return new QedTable(device.read(offsetBytes, entries * 8, kind));
}

/**
 * Writes the 512-byte sectors of a table holding entries [index, index + n), like QEMU's
 * qed_write_table: one pwrite covering whole sectors, straight from the table's bytes.
 */
export function writeTableSectors(
  device: BlockDevice,
  tableOffsetBytes: number,
  table: QedTable,
  index: number,
  n: number,
  kind: IoKind,
): void {
  const firstByte = Math.floor((index * 8) / SECTOR_BYTES) * SECTOR_BYTES;
  const endByte = Math.ceil(((index + n) * 8) / SECTOR_BYTES) * SECTOR_BYTES;
  device.write(tableOffsetBytes + firstByte, table.bytes.subarray(firstByte, endByte), kind);
}
