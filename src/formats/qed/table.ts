import type { BlockDevice, IoKind } from '../../device/types.ts';
import { SECTOR_BYTES } from './constants.ts';

const TWO_POW_32 = 4294967296;
const SLAB_BYTES = 16 * 1024 * 1024;
let slab = new ArrayBuffer(0);
let slabUsed = SLAB_BYTES;

/**
 * A table created empty keeps its entries as sorted (index, value) pairs until it holds more than
 * entries ÷ SPARSE_DIVISOR of them, then becomes a dense buffer. A 1 PiB image taking one write
 * per GiB creates 131,072 1 MiB tables of 8 entries each: dense, that is 128 GiB of zeros.
 */
const SPARSE_DIVISOR = 256;
/** Below this limit a table starts dense: a sparse form would save little and cost lookups. */
const MIN_SPARSE_LIMIT = 16;

const EMPTY = new Uint8Array(0);

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  // Tables are kept in their on-disk little-endian form and read through a Uint32Array.
  throw new Error('qedlab QED engine needs a little-endian host');
}

/** The bytes a device holds, read without I/O accounting (MemoryDevice.readInto, readU64). */
export interface TableSource {
  readInto(offsetBytes: number, out: Uint8Array): void;
  /** The little-endian u64 at `offsetBytes`, as a number (as `readInto` would read it). */
  readU64(offsetBytes: number): number;
}

/**
 * Who may let a table read its entries from the device instead of keeping them (the shadow,
 * table-shadow.ts): a source while the device is known to hold exactly this table there.
 */
export interface TableHome {
  sourceFor(table: QedTable, offsetBytes: number): TableSource | undefined;
}

/**
 * Under the test suite a device-backed table keeps a dense copy as well and checks every entry it
 * reads from the device against it (and every patched write carries the copy's sectors).
 */
const VERIFY_BACKED_TABLES = process.env.QEDLAB_VERIFY_PATCHED_WRITES === '1';

/** Entries a device-backed run scan reads at a time (one sector). */
const RUN_CHUNK_ENTRIES = 64;
const RUN_SCRATCH = new Uint8Array(RUN_CHUNK_ENTRIES * 8);
const RUN_WORDS = new Uint32Array(RUN_SCRATCH.buffer);

/**
 * An L1 or L2 table of `entries` little-endian u64 offsets, in one of three forms:
 *
 * - dense: the on-disk bytes (reading a table is one copy, writing sectors of it needs no
 *   encoding); entries are read as two u32 halves (exact below 2^53, far beyond any file the lab
 *   writes; a larger value is past the end of the file and invalid either way);
 * - sparse: a table the engine creates keeps only its set entries (see SPARSE_DIVISOR);
 * - device-backed: once a sparse table outgrows that, and its home vouches that the device holds
 *   it byte for byte, entries are read from the device's own memory. The engine then keeps no
 *   second copy of a table the device already stores: half the memory, and one cache miss per
 *   lookup-and-update instead of two. Its entries are changed only by `setThrough`, whose caller
 *   writes them to the device at once; any other change turns it dense first.
 *
 * `bytes` is the on-disk form: a dense table's own buffer, a fresh copy for the other forms.
 */
export class QedTable {
  readonly entries: number;
  #bytes: Uint8Array | undefined;
  #words: Uint32Array | undefined;
  /** Sparse form: [index0, value0, index1, value1, …] sorted by index. */
  #pairs: number[] | undefined;
  /** Most pairs a sparse table keeps before it moves to the device or becomes dense. */
  readonly #sparseLimit: number;
  /** Device-backed form: where its bytes are read. */
  #source: TableSource | undefined;
  #offsetBytes = 0;
  #home: TableHome | undefined;
  /** Under VERIFY_BACKED_TABLES: the copy a device-backed table is checked against. */
  #mirror: QedTable | undefined;

  /** A dense table over `bytes` (on-disk form); with `sparseEntries`, an empty sparse table. */
  constructor(bytes: Uint8Array, sparseEntries?: number) {
    if (sparseEntries !== undefined) {
      this.entries = sparseEntries;
      this.#pairs = [];
      this.#sparseLimit = Math.floor(sparseEntries / SPARSE_DIVISOR);
      return;
    }
    const aligned = (bytes.byteOffset & 7) === 0 ? bytes : bytes.slice();
    this.entries = aligned.length >>> 3;
    this.#bytes = aligned;
    this.#words = new Uint32Array(aligned.buffer, aligned.byteOffset, this.entries * 2);
    this.#sparseLimit = 0;
  }

  /**
   * A new all-zero dense table. Small tables are carved from 16 MiB slabs: allocating hundreds of
   * separate 256 KiB buffers costs more in GC pressure than the tables themselves.
   */
  static zeroed(entries: number): QedTable {
    return new QedTable(zeroedBytes(entries * 8));
  }

  /**
   * A new all-zero table that costs memory by the entries set, not by its size. `home`, with the
   * table's file offset, may later let it read its entries from the device.
   */
  static empty(entries: number, home?: TableHome, offsetBytes = 0): QedTable {
    if (Math.floor(entries / SPARSE_DIVISOR) < MIN_SPARSE_LIMIT) return QedTable.zeroed(entries);
    const table = new QedTable(EMPTY, entries);
    table.#home = home;
    table.#offsetBytes = offsetBytes;
    return table;
  }

  /** True while the table keeps only its non-zero entries. */
  get sparse(): boolean {
    return this.#pairs !== undefined;
  }

  /** True while the table reads its entries from the device. */
  get backed(): boolean {
    return this.#source !== undefined;
  }

  /** Bytes of memory the table's entries take (dense: the table size; device-backed: none). */
  get footprintBytes(): number {
    if (this.#words !== undefined) return this.entries * 8;
    const pairs = this.#pairs;
    return pairs === undefined ? 0 : pairs.length * 8;
  }

  /** The table in on-disk form: a dense table's own bytes, else a fresh copy. */
  get bytes(): Uint8Array {
    if (this.#bytes !== undefined) return this.#bytes;
    return this.encode(0, this.entries);
  }

  get(index: number): number {
    const w = this.#words;
    if (w === undefined) {
      return this.#pairs !== undefined ? this.#sparseGet(index) : this.#backedGet(index);
    }
    const hi = w[2 * index + 1] as number;
    const lo = w[2 * index] as number;
    return hi === 0 ? lo : hi * TWO_POW_32 + lo;
  }

  set(index: number, value: number): void {
    const w = this.#words;
    if (w === undefined) {
      if (this.#pairs !== undefined) {
        this.#sparseSet(index, value, false);
        return;
      }
      this.#materialize();
      this.set(index, value);
      return;
    }
    if (value < TWO_POW_32) {
      w[2 * index] = value;
      w[2 * index + 1] = 0;
    } else {
      const hi = Math.floor(value / TWO_POW_32);
      w[2 * index] = value - hi * TWO_POW_32;
      w[2 * index + 1] = hi;
    }
  }

  /**
   * Where the run starting at `index` (whose entry is `first`) ends: the first index below `end`
   * whose entry is not `first` + k·`step` (k counting from `index`), else `end`.
   */
  runEnd(index: number, end: number, first: number, step: number): number {
    const source = this.#source;
    if (source === undefined) {
      let expected = first + step;
      let i = index + 1;
      while (i < end && this.get(i) === expected) {
        expected += step;
        i++;
      }
      return i;
    }
    // Device-backed: the entries are read a sector's worth at a time, not one by one.
    let expected = first + step;
    for (let from = index + 1; from < end; from += RUN_CHUNK_ENTRIES) {
      const n = Math.min(RUN_CHUNK_ENTRIES, end - from);
      source.readInto(
        this.#offsetBytes + from * 8,
        n === RUN_CHUNK_ENTRIES ? RUN_SCRATCH : RUN_SCRATCH.subarray(0, n * 8),
      );
      for (let k = 0; k < n; k++) {
        const hi = RUN_WORDS[2 * k + 1] as number;
        const lo = RUN_WORDS[2 * k] as number;
        const value = hi === 0 ? lo : hi * TWO_POW_32 + lo;
        if (this.#mirror !== undefined && this.#mirror.get(from + k) !== value) {
          throw new Error(
            `QED device-backed table at ${this.#offsetBytes}: entry ${from + k} differs`,
          );
        }
        if (value !== expected) return from + k;
        expected += step;
      }
    }
    return end;
  }

  /**
   * `set` for a caller that writes the entry to the device right after (the write path): a
   * device-backed table then already holds it there.
   */
  setThrough(index: number, value: number): void {
    if (this.#pairs !== undefined) this.#sparseSet(index, value, true);
    else if (this.#source === undefined) this.set(index, value);
    else this.#mirror?.set(index, value);
  }

  /**
   * Sectors [firstByte, endByte) of the copy a device-backed table is checked against (under the
   * test suite), else undefined.
   */
  mirrorBytes(firstByte: number, endByte: number): Uint8Array | undefined {
    return this.#mirror?.encode(firstByte / 8, (endByte - firstByte) / 8);
  }

  /** A device-backed table keeps its own copy from now on (the device is about to change). */
  detach(): void {
    if (this.#source !== undefined) this.#materialize();
  }

  /**
   * Entries [index, index + n) in on-disk form: a view of a dense table (valid until it changes),
   * a fresh buffer otherwise.
   */
  encode(index: number, n: number): Uint8Array {
    if (this.#bytes !== undefined) return this.#bytes.subarray(index * 8, (index + n) * 8);
    const out = new Uint8Array(n * 8);
    const source = this.#source;
    if (source !== undefined) {
      source.readInto(this.#offsetBytes + index * 8, out);
      if (this.#mirror !== undefined) this.#verify(out, index);
      return out;
    }
    const pairs = this.#pairs as number[];
    const words = new Uint32Array(out.buffer, 0, n * 2);
    const found = this.#find(index);
    const end = index + n;
    for (let k = found >= 0 ? found : -found - 1; k < pairs.length; k += 2) {
      const at = pairs[k] as number;
      if (at >= end) break;
      const value = pairs[k + 1] as number;
      const hi = Math.floor(value / TWO_POW_32);
      words[2 * (at - index)] = value - hi * TWO_POW_32;
      words[2 * (at - index) + 1] = hi;
    }
    return out;
  }

  #backedGet(index: number): number {
    const value = (this.#source as TableSource).readU64(this.#offsetBytes + index * 8);
    if (this.#mirror !== undefined && this.#mirror.get(index) !== value) {
      throw new Error(
        `QED device-backed table at ${this.#offsetBytes}: entry ${index} is ${value} on the ` +
          `device but ${this.#mirror.get(index)} in the engine's copy`,
      );
    }
    return value;
  }

  #verify(bytes: Uint8Array, index: number): void {
    const expected = (this.#mirror as QedTable).encode(index, bytes.length / 8);
    if (Buffer.compare(bytes, expected) !== 0) {
      throw new Error(`QED device-backed table at ${this.#offsetBytes}: device bytes differ`);
    }
  }

  /** Position of `index` in the pairs (even), or −(insertion position) − 1. */
  #find(index: number): number {
    const pairs = this.#pairs as number[];
    let lo = 0;
    let hi = pairs.length >>> 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const at = pairs[2 * mid] as number;
      if (at === index) return 2 * mid;
      if (at < index) lo = mid + 1;
      else hi = mid;
    }
    return -2 * lo - 1;
  }

  #sparseGet(index: number): number {
    const at = this.#find(index);
    return at >= 0 ? ((this.#pairs as number[])[at + 1] as number) : 0;
  }

  #sparseSet(index: number, value: number, through: boolean): void {
    const pairs = this.#pairs as number[];
    const at = this.#find(index);
    if (at >= 0) {
      pairs[at + 1] = value;
      return;
    }
    if (value === 0) return;
    if (pairs.length >>> 1 >= this.#sparseLimit) {
      this.#outgrowSparse();
      if (through) this.setThrough(index, value);
      else this.set(index, value);
      return;
    }
    const position = -at - 1;
    pairs.push(0, 0);
    for (let i = pairs.length - 1; i >= position + 2; i--) pairs[i] = pairs[i - 2] as number;
    pairs[position] = index;
    pairs[position + 1] = value;
  }

  /**
   * Too many entries for the sparse form: device-backed when its home vouches for the device's
   * copy (`set` on it then turns it dense, as that caller wants), else dense.
   */
  #outgrowSparse(): void {
    if (!this.moveToDevice()) this.#densifyPairs();
  }

  /**
   * A sparse table whose entries are all on the device, and whose home vouches for the device's
   * copy, reads them from there from now on (and keeps none itself); false if it stays as is.
   */
  moveToDevice(): boolean {
    const pairs = this.#pairs;
    if (pairs === undefined) return false;
    const source = this.#home?.sourceFor(this, this.#offsetBytes);
    if (source === undefined) return false;
    if (VERIFY_BACKED_TABLES) {
      const mirror = new QedTable(EMPTY, this.entries);
      for (let i = 0; i < pairs.length; i += 2)
        mirror.set(pairs[i] as number, pairs[i + 1] as number);
      this.#mirror = mirror;
    }
    this.#pairs = undefined;
    this.#source = source;
    return true;
  }

  #densifyPairs(): void {
    const pairs = this.#pairs as number[];
    this.#useBytes(zeroedBytes(this.entries * 8));
    this.#pairs = undefined;
    for (let i = 0; i < pairs.length; i += 2) this.set(pairs[i] as number, pairs[i + 1] as number);
  }

  /** A device-backed table takes its own copy of the device's bytes. */
  #materialize(): void {
    const bytes = zeroedBytes(this.entries * 8);
    (this.#source as TableSource).readInto(this.#offsetBytes, bytes);
    if (this.#mirror !== undefined) this.#verify(bytes, 0);
    this.#source = undefined;
    this.#mirror = undefined;
    this.#useBytes(bytes);
  }

  #useBytes(bytes: Uint8Array): void {
    this.#bytes = bytes;
    this.#words = new Uint32Array(bytes.buffer, bytes.byteOffset, this.entries * 2);
  }
}

function zeroedBytes(bytes: number): Uint8Array {
  if (bytes === 0 || bytes > SLAB_BYTES / 16) return new Uint8Array(bytes);
  if (slabUsed + bytes > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const view = new Uint8Array(slab, slabUsed, bytes);
  slabUsed += bytes;
  return view;
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

/** The byte range [first, end) of the 512-byte sectors holding entries [index, index + n). */
export function sectorSpan(index: number, n: number): { firstByte: number; endByte: number } {
  return {
    firstByte: Math.floor((index * 8) / SECTOR_BYTES) * SECTOR_BYTES,
    endByte: Math.ceil(((index + n) * 8) / SECTOR_BYTES) * SECTOR_BYTES,
  };
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
  const data = table.sparse
    ? table.encode(firstByte / 8, (endByte - firstByte) / 8)
    : table.bytes.subarray(firstByte, endByte);
  device.write(tableOffsetBytes + firstByte, data, kind);
}
