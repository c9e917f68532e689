import type { IoKind } from '../../device/types.ts';
import type { CheckResult, RepairMode } from '../types.ts';
import { DISCARD_ALWAYS, MAX_L1_BYTES } from './constants.ts';
import { FileNode, pastGrowthLimit } from './file-node.ts';
import {
  ClusterType,
  clusterTypeOf,
  decodeCompressed,
  entryHi,
  entryLo,
  HI_COPIED,
  L1_HI_RESERVED,
  L1_LO_RESERVED,
  L2_HI_RESERVED,
  L2_LO_RESERVED,
  offsetOf,
  setEntryRaw,
} from './l2-entry.ts';
import { flushCaches, markClean } from './lazy-refcounts.ts';
import { setRefcount } from './refcount-block.ts';
import { serializeSnapshotTable } from './snapshot-table.ts';
import type { Qcow2State } from './state.ts';
import { readTableInFile } from './table-read.ts';
import { writeU32, writeU64 } from './u64.ts';

/** The in-memory refcount table (IMRT) of qcow2_check_refcounts, grown on demand. */
class Imrt {
  counts: Uint32Array;
  size: number;
  constructor(size: number) {
    this.size = size;
    this.counts = new Uint32Array(Math.max(size, 1));
  }
  get(i: number): number {
    return i < this.size ? (this.counts[i] as number) : 0;
  }
  grow(newSize: number): void {
    if (newSize <= this.size) return;
    if (newSize > this.counts.length) {
      const next = new Uint32Array(Math.max(newSize, this.counts.length * 2));
      next.set(this.counts.subarray(0, this.size));
      this.counts = next;
    }
    this.size = newSize;
  }
}

const hex = (n: number) => n.toString(16);
/** A u64 entry in hex from its halves (exact above 2^53). */
const hex64 = (hi: number, lo: number) =>
  hi === 0 ? lo.toString(16) : hi.toString(16) + lo.toString(16).padStart(8, '0');

interface Ctx {
  s: Qcow2State;
  res: CheckResult;
  fixErrors: boolean;
  fixLeaks: boolean;
  imrt: Imrt;
  rebuild: boolean;
  refcountMax: number;
  messages: string[];
  /** One cluster, reused for every L2 read when the device can read into a buffer. */
  l2Buffer: Uint8Array;
  /** l2Buffer's zero tests, made once for all the tables read into it. */
  l2BufferScan: ZeroScan;
  /** Pass 1's copy of the allocated L2 entries, for a check that repairs nothing. */
  l2Entries: L2EntryCopies | undefined;
  /** The metered device under the FileNode, when there is one. */
  metered: MeteredInner | undefined;
}

/** The metered device under the FileNode: reads into a buffer, accounts a read it need not do. */
interface MeteredInner {
  readInto(offsetBytes: number, out: Uint8Array, kind: IoKind): void;
  noteRead(offsetBytes: number, lengthBytes: number, kind: IoKind): void;
}

function meteredInner(s: Qcow2State): MeteredInner | undefined {
  if (!(s.device instanceof FileNode)) return undefined;
  const inner = s.device.inner as Partial<MeteredInner>;
  if (typeof inner.readInto !== 'function' || typeof inner.noteRead !== 'function')
    return undefined;
  return inner as MeteredInner;
}

/**
 * One L2 table, read into the context's reusable buffer where the device allows (a fresh 64 KiB
 * buffer per table cost page faults on every one of thousands of tables); the I/O is the same.
 */
function readL2(c: Ctx, l2Offset: number): Uint8Array {
  const s = c.s;
  const inner = c.metered;
  if (!inner || l2Offset + s.clusterSize > Number.MAX_SAFE_INTEGER) {
    return s.device.read(l2Offset, s.clusterSize, 'l2');
  }
  (s.device as FileNode).settle();
  inner.readInto(l2Offset, c.l2Buffer, 'l2');
  return c.l2Buffer;
}

/** Pass 1 keeps at most this many L2 entries for pass 2 (12 bytes each); tables past it are re-read. */
const L2_ENTRY_COPIES_MAX = 2 * 1024 * 1024;

/**
 * The allocated (normal and preallocated-zero) entries of the active L2 tables as the refcount
 * pass read them, so the COPIED pass, which QEMU runs by reading every L2 table again, needs not
 * fetch them a second time: the re-read is charged with `noteRead` (same I/O log, counters and
 * simulated time) and the entries come from here. Only for a check that repairs nothing, where
 * no table can change between the passes.
 *
 * Both passes walk the active L1 table in index order, so the COPIED pass finds each table's
 * entries by moving a cursor forward, not by looking its offset up in a map (which cost more
 * than the rest of the bookkeeping while the check's code was still unoptimised). A table is
 * used only if it was kept for the same L1 index and the same L2 offset; any other is re-read.
 */
class L2EntryCopies {
  /** Table t: the L1 index and L2 offset it was read for, and its entries [starts[t], ends[t]). */
  #tableL1Index = new Float64Array(256);
  #tableOffsets = new Float64Array(256);
  #tableStarts = new Int32Array(256);
  #tableEnds = new Int32Array(256);
  #tableCount = 0;
  /** The COPIED pass's position among the tables. */
  #cursor = 0;
  #index = new Uint32Array(1024);
  #hi = new Uint32Array(1024);
  #lo = new Uint32Array(1024);
  #count = 0;
  #full = false;
  #tableStart = 0;

  /** Starts recording a table. */
  begin(): void {
    this.#tableStart = this.#count;
  }

  add(index: number, hi: number, lo: number): void {
    if (this.#full) return;
    if (this.#count === this.#index.length) {
      if (this.#count >= L2_ENTRY_COPIES_MAX) {
        this.#full = true;
        return;
      }
      this.#index = grown(this.#index);
      this.#hi = grown(this.#hi);
      this.#lo = grown(this.#lo);
    }
    this.#index[this.#count] = index;
    this.#hi[this.#count] = hi;
    this.#lo[this.#count] = lo;
    this.#count++;
  }

  /**
   * Ends the table read for L1 entry `l1Index` at `l2Offset`; kept only if every entry of it
   * fitted. (Numbers, not an object per table: allocating thousands of them cost more than the
   * rest of the bookkeeping.)
   */
  end(l1Index: number, l2Offset: number): void {
    if (this.#full) return;
    const t = this.#tableCount;
    if (t === this.#tableStarts.length) {
      this.#tableL1Index = grown(this.#tableL1Index);
      this.#tableOffsets = grown(this.#tableOffsets);
      this.#tableStarts = grown(this.#tableStarts);
      this.#tableEnds = grown(this.#tableEnds);
    }
    this.#tableL1Index[t] = l1Index;
    this.#tableOffsets[t] = l2Offset;
    this.#tableStarts[t] = this.#tableStart;
    this.#tableEnds[t] = this.#count;
    this.#tableCount = t + 1;
  }

  /**
   * The table kept for L1 entry `l1Index` at `l2Offset`, or -1. Calls must come in increasing
   * L1 index order (the cursor only moves forward).
   */
  find(l1Index: number, l2Offset: number): number {
    let t = this.#cursor;
    while (t < this.#tableCount && (this.#tableL1Index[t] as number) < l1Index) t++;
    this.#cursor = t;
    return t < this.#tableCount &&
      this.#tableL1Index[t] === l1Index &&
      this.#tableOffsets[t] === l2Offset
      ? t
      : -1;
  }

  /** Calls `visit` for each kept entry of table `t` (from `find`), in index order. */
  visit(t: number, visit: (index: number, hi: number, lo: number) => void): void {
    const end = this.#tableEnds[t] as number;
    for (let k = this.#tableStarts[t] as number; k < end; k++) {
      visit(this.#index[k] as number, this.#hi[k] as number, this.#lo[k] as number);
    }
  }
}

/** A typed array of twice the length holding `a`'s elements first. */
function grown<T extends Uint32Array | Int32Array | Float64Array>(a: T): T {
  const next = new (a.constructor as new (length: number) => T)(a.length * 2);
  next.set(a);
  return next;
}

/** qcow2_inc_refcounts_imrt. */
function incRefcounts(c: Ctx, offset: number, size: number): void {
  if (size <= 0) return;
  const cs = c.s.clusterSize;
  if (offset + size - c.s.device.size() >= cs) {
    c.messages.push(
      `ERROR: counting reference for region exceeding the end of the file by one cluster or more: offset 0x${hex(offset)} size 0x${hex(size)}`,
    );
    c.res.corruptions++;
    return;
  }
  const start = Math.floor(offset / cs);
  const last = Math.floor((offset + size - 1) / cs);
  for (let k = start; k <= last; k++) {
    if (k >= c.imrt.size) c.imrt.grow(k + 1);
    const refcount = c.imrt.counts[k] as number;
    if (refcount >= c.refcountMax) {
      c.messages.push(`ERROR: overflow cluster offset=0x${hex(k * cs)}`);
      c.res.corruptions++;
      continue;
    }
    c.imrt.counts[k] = refcount + 1;
  }
}

const ZERO_BLOCK_ENTRIES = 512;
const ZERO_BLOCK_BYTES = ZERO_BLOCK_ENTRIES * 8;
const ZERO_BLOCK = Buffer.alloc(ZERO_BLOCK_BYTES);
/** The reusable buffer's 512-entry blocks are also tested by eighths, and those by eighths. */
const ZERO_RUN_ENTRIES = 64;
const ZERO_RUN = ZERO_BLOCK.subarray(0, ZERO_RUN_ENTRIES * 8);
const ZERO_LINE_ENTRIES = 8;
const ZERO_LINE = ZERO_BLOCK.subarray(0, ZERO_LINE_ENTRIES * 8);

/** `table`'s consecutive pieces of `entries` entries as Buffers (whole pieces only). */
function pieces(table: Uint8Array, entries: number): Buffer[] {
  const bytes = entries * 8;
  const out: Buffer[] = [];
  for (let start = 0; start + bytes <= table.length; start += bytes) {
    out.push(Buffer.from(table.buffer, table.byteOffset + start, bytes));
  }
  return out;
}

/**
 * Zero tests over one L2 table's bytes. Blocks of 512 all-zero (unallocated) entries are skipped
 * with one memcmp: sparse tables are mostly such blocks, and visiting them entry by entry was
 * most of the check's CPU time. In a block that is not all zeros, single zero entries are told
 * by two 32-bit loads (where the table is 4-byte aligned) instead of decoding the entry.
 *
 * The reusable buffer's blocks are narrowed down further, by runs of 64 entries and lines of 8,
 * a memcmp each: a block holding one entry then costs 8 + 8 tests and at most 8 entry tests
 * instead of 511. What counts there is not the optimised code (a few ns per entry either way)
 * but the first thousands of tables of a CLI check, which run before the compiler has caught up:
 * the entry walk was three quarters of their time.
 */
class ZeroScan {
  readonly #whole: Buffer;
  readonly #words: Int32Array | undefined;
  /** The table's 512-entry blocks, 64-entry runs and 8-entry lines, for the reusable buffer. */
  readonly #blocks: Buffer[] | undefined;
  readonly #runs: Buffer[];
  readonly #lines: Buffer[];

  constructor(table: Uint8Array, reused: boolean) {
    this.#whole = Buffer.from(table.buffer, table.byteOffset, table.length);
    // For the reusable buffer, views made once: equals() on them is a bare memcmp, where
    // compare() with offsets validates five arguments per call, thousands of times per check.
    this.#blocks = reused ? pieces(table, ZERO_BLOCK_ENTRIES) : undefined;
    this.#runs = reused ? pieces(table, ZERO_RUN_ENTRIES) : [];
    this.#lines = reused ? pieces(table, ZERO_LINE_ENTRIES) : [];
    this.#words =
      table.byteOffset % 4 === 0
        ? new Int32Array(table.buffer, table.byteOffset, table.length >>> 2)
        : undefined;
  }

  /**
   * The first entry from `index` on that is not known to be zero, or `entries`. One small
   * function without calls of its own but memcmp, so it is optimised early and cheap before.
   */
  nextEntryFrom(index: number, entries: number): number {
    const blocks = this.#blocks;
    const words = this.#words;
    let i = index;
    while (i < entries) {
      if (i % ZERO_BLOCK_ENTRIES === 0 && i + ZERO_BLOCK_ENTRIES <= entries) {
        if (
          blocks !== undefined
            ? (blocks[i / ZERO_BLOCK_ENTRIES] as Buffer).equals(ZERO_BLOCK)
            : this.#whole.compare(
                ZERO_BLOCK,
                0,
                ZERO_BLOCK_BYTES,
                i * 8,
                i * 8 + ZERO_BLOCK_BYTES,
              ) === 0
        ) {
          i += ZERO_BLOCK_ENTRIES;
          continue;
        }
      }
      if (blocks !== undefined) {
        if (
          i % ZERO_RUN_ENTRIES === 0 &&
          i + ZERO_RUN_ENTRIES <= entries &&
          (this.#runs[i / ZERO_RUN_ENTRIES] as Buffer).equals(ZERO_RUN)
        ) {
          i += ZERO_RUN_ENTRIES;
          continue;
        }
        if (
          i % ZERO_LINE_ENTRIES === 0 &&
          i + ZERO_LINE_ENTRIES <= entries &&
          (this.#lines[i / ZERO_LINE_ENTRIES] as Buffer).equals(ZERO_LINE)
        ) {
          i += ZERO_LINE_ENTRIES;
          continue;
        }
      }
      // Two 32-bit loads where the table is 4-byte aligned; else the caller decodes the entry.
      if (words === undefined || ((words[2 * i] as number) | (words[2 * i + 1] as number)) !== 0)
        return i;
      i++;
    }
    return entries;
  }
}

/** The zero tests for `table`: the context's, made once, when it is the reusable buffer. */
function zeroScanOf(c: Ctx, table: Uint8Array): ZeroScan {
  return table === c.l2Buffer ? c.l2BufferScan : new ZeroScan(table, false);
}

/*
 * The rare cases of an L2 entry, in functions of their own: the per-table walk stays small, so
 * the compiler optimises it early (the first thousands of tables of a CLI check otherwise run
 * in slower code while it compiles).
 */

/** A compressed entry: the COPIED flag must be clear; its bytes may span clusters. */
function countCompressedEntry(c: Ctx, hi: number, lo: number, fragInfo: boolean): void {
  if (hi & HI_COPIED) {
    c.messages.push('ERROR: coffset: copied flag must never be set for compressed clusters');
    c.res.corruptions++;
  }
  const d = decodeCompressed(hi, lo, c.s.clusterBits);
  incRefcounts(c, d.hostOffsetBytes, d.storedBytes);
  if (fragInfo) {
    c.res.allocatedClusters = (c.res.allocatedClusters ?? 0) + 1;
    c.res.compressedClusters = (c.res.compressedClusters ?? 0) + 1;
    c.res.fragmentedClusters = (c.res.fragmentedClusters ?? 0) + 1;
  }
}

/**
 * A normal or preallocated-zero entry at an offset that is not cluster aligned: a corruption;
 * with -r all a preallocated one becomes a plain zero cluster (fix_l2_entry_by_zero), and then
 * true: nothing else is counted for the entry.
 */
function misalignedEntryRepaired(
  c: Ctx,
  table: Uint8Array,
  l2Offset: number,
  i: number,
  type: ClusterType,
  offset: number,
): boolean {
  c.res.corruptions++;
  if (type !== ClusterType.ZeroAlloc) {
    c.messages.push(
      `ERROR offset=${hex(offset)}: Data cluster is not properly aligned; L2 entry corrupted.`,
    );
    return false;
  }
  c.messages.push(
    `${c.fixErrors ? 'Repairing' : 'ERROR'} offset=${hex(offset)}: Preallocated cluster is not properly aligned; L2 entry corrupted.`,
  );
  if (!c.fixErrors) return false;
  setEntryRaw(table, i, 0, 1);
  c.s.device.write(l2Offset + i * 8, table.slice(i * 8, i * 8 + 8), 'l2');
  c.res.corruptions--;
  c.res.corruptionsFixed++;
  return true;
}

function checkRefcountsL2(c: Ctx, l1Index: number, l2Offset: number, fragInfo: boolean): void {
  const s = c.s;
  const cs = s.clusterSize;
  // Past EOF an L2 reads as zeros: nothing to count, nothing worth reading.
  if (l2Offset >= s.device.size()) return;
  const table = readL2(c, l2Offset);
  const scan = zeroScanOf(c, table);
  const copies = fragInfo ? c.l2Entries : undefined;
  copies?.begin();
  let nextContiguous = 0;
  for (
    let i = scan.nextEntryFrom(0, s.l2Size);
    i < s.l2Size;
    i = scan.nextEntryFrom(i + 1, s.l2Size)
  ) {
    const hi = entryHi(table, i);
    const lo = entryLo(table, i);
    if (hi === 0 && lo === 0) continue;
    const type = clusterTypeOf(hi, lo);
    if (copies && (type === ClusterType.Normal || type === ClusterType.ZeroAlloc)) {
      copies.add(i, hi, lo);
    }
    if (
      type !== ClusterType.Compressed &&
      ((hi & L2_HI_RESERVED) !== 0 || (lo & L2_LO_RESERVED) !== 0)
    ) {
      c.messages.push(`ERROR found l2 entry with reserved bits set: ${hex64(hi, lo)}`);
      c.res.corruptions++;
    }
    if (type === ClusterType.Compressed) {
      countCompressedEntry(c, hi, lo, fragInfo);
    } else if (type === ClusterType.Normal || type === ClusterType.ZeroAlloc) {
      const offset = offsetOf(hi, lo);
      if (offset % cs !== 0 && misalignedEntryRepaired(c, table, l2Offset, i, type, offset)) {
        continue;
      }
      if (fragInfo) {
        c.res.allocatedClusters = (c.res.allocatedClusters ?? 0) + 1;
        if (nextContiguous && offset !== nextContiguous)
          c.res.fragmentedClusters = (c.res.fragmentedClusters ?? 0) + 1;
        nextContiguous = offset + cs;
      }
      incRefcounts(c, offset, cs);
    }
  }
  copies?.end(l1Index, l2Offset);
}

/** The table as 32-bit words, where it is 4-byte aligned. */
function wordsOf(table: Uint8Array): Int32Array | undefined {
  return table.byteOffset % 4 === 0
    ? new Int32Array(table.buffer, table.byteOffset, table.length >>> 2)
    : undefined;
}

/**
 * The first L1 entry from `index` on that is not zero by its two words (all of them without the
 * words), or `entries`. The L1 walks run before their code is optimised, where decoding each
 * zero entry of a large L1 cost about a microsecond; a loop of its own, apart from the L2 zero
 * tests, whose optimised code the L1's different shape would throw away.
 */
function nextL1Entry(words: Int32Array | undefined, index: number, entries: number): number {
  if (words === undefined) return index;
  let i = index;
  while (i < entries && ((words[2 * i] as number) | (words[2 * i + 1] as number)) === 0) i++;
  return i;
}

function checkRefcountsL1(c: Ctx, l1Offset: number, l1Size: number, fragInfo: boolean): void {
  if (!l1Size) return;
  const s = c.s;
  incRefcounts(c, l1Offset, l1Size * 8);
  const l1 = readTableInFile(s.device, l1Offset, l1Size * 8, 'l1');
  const words = wordsOf(l1);
  for (let i = nextL1Entry(words, 0, l1Size); i < l1Size; i = nextL1Entry(words, i + 1, l1Size)) {
    const hi = entryHi(l1, i);
    const lo = entryLo(l1, i);
    if (hi === 0 && lo === 0) continue;
    if ((hi & L1_HI_RESERVED) !== 0 || (lo & L1_LO_RESERVED) !== 0) {
      c.messages.push(`ERROR found L1 entry with reserved bits set: ${hex64(hi, lo)}`);
      c.res.corruptions++;
    }
    const l2Offset = offsetOf(hi, lo);
    incRefcounts(c, l2Offset, s.clusterSize);
    if (l2Offset % s.clusterSize !== 0) {
      c.messages.push(
        `ERROR l2_offset=${hex(l2Offset)}: Table is not cluster aligned; L1 entry corrupted`,
      );
      c.res.corruptions++;
    }
    checkRefcountsL2(c, i, l2Offset, fragInfo);
  }
}

/** calculate_refcounts: header, active L1/L2/data, snapshots, snapshot table, reftable, refblocks. */
function calculateRefcounts(c: Ctx): void {
  const s = c.s;
  const cs = s.clusterSize;
  incRefcounts(c, 0, cs);
  checkRefcountsL1(c, s.l1TableOffset, s.l1Size, true);
  for (const sn of s.snapshots) {
    if (sn.l1TableOffset % cs !== 0) {
      c.messages.push(
        `ERROR snapshot ${sn.id} (${sn.name}) l1_offset=0x${hex(sn.l1TableOffset)}: L1 table is not cluster aligned; snapshot table entry corrupted`,
      );
      c.res.corruptions++;
      continue;
    }
    if (sn.l1Size > MAX_L1_BYTES / 8) {
      c.messages.push(
        `ERROR snapshot ${sn.id} (${sn.name}) l1_size=0x${hex(sn.l1Size)}: L1 table is too large; snapshot table entry corrupted`,
      );
      c.res.corruptions++;
      continue;
    }
    checkRefcountsL1(c, sn.l1TableOffset, sn.l1Size, false);
  }
  incRefcounts(c, s.snapshotsOffset, serializeSnapshotTable(s.snapshots).length);
  const r = s.refcounts;
  incRefcounts(c, r.reftableOffset, r.reftableSize * 8);
  for (const region of r.extraRegions?.() ?? []) incRefcounts(c, region.offset, region.bytes);
  checkRefblocks(c);
}

function checkRefblocks(c: Ctx): void {
  const s = c.s;
  const r = s.refcounts;
  const cs = s.clusterSize;
  const raw = s.device.read(r.reftableOffset, r.reftableSize * 8, 'reftable');
  for (let i = 0; i < r.reftableSize; i++) {
    const reserved = ((raw[i * 8 + 6] as number) & 1) | (raw[i * 8 + 7] as number);
    const offset = r.reftable[i] as number;
    const cluster = Math.floor(offset / cs);
    if (
      reserved !== 0 &&
      offset === 0 &&
      (raw[i * 8 + 7] as number) === 0 &&
      ((raw[i * 8 + 6] as number) & 1) === 0
    )
      continue;
    if (reserved !== 0) {
      c.messages.push(`ERROR refcount table entry ${i} has reserved bits set`);
      c.res.corruptions++;
      c.rebuild = true;
      continue;
    }
    if (offset % cs !== 0) {
      c.messages.push(
        `ERROR refcount block ${i} is not cluster aligned; refcount table entry corrupted`,
      );
      c.res.corruptions++;
      c.rebuild = true;
      continue;
    }
    if (cluster >= c.imrt.size) {
      c.res.corruptions++;
      c.messages.push(
        `${c.fixErrors ? 'Repairing' : 'ERROR'} refcount block ${i} is outside image`,
      );
      if (c.fixErrors) {
        const failure = resizeFailure(s.device.size(), offset + cs);
        if (failure) {
          // resize_fail: the refcount structure is rebuilt instead.
          c.messages.push(`ERROR could not resize image: ${failure}`);
          c.rebuild = true;
          continue;
        }
        s.device.truncate(offset + cs);
        c.imrt.grow(Math.ceil(s.device.size() / cs));
        c.res.corruptions--;
        c.res.corruptionsFixed++;
        incRefcounts(c, offset, cs);
      }
      continue;
    }
    if (offset !== 0) {
      incRefcounts(c, offset, cs);
      if (c.imrt.get(cluster) !== 1) {
        c.messages.push(`ERROR refcount block ${i} refcount=${c.imrt.get(cluster)}`);
        c.res.corruptions++;
        c.rebuild = true;
      }
    }
  }
}

/**
 * Why growing the file to `endBytes` fails, or undefined. QEMU refuses an end past INT64_MAX
 * (EINVAL) and otherwise leaves it to the filesystem (ext4: EFBIG past 16 TiB); the lab also
 * refuses growth past its limit (file-node.ts) with EFBIG, so a repair stays proportional.
 */
function resizeFailure(sizeBytes: number, endBytes: number): string | undefined {
  if (endBytes > 2 ** 63 - 1) return 'Invalid argument';
  if (pastGrowthLimit(sizeBytes, endBytes)) return 'File too large';
  return undefined;
}

/** Refcounts compare_refcounts reads at a time when it repairs nothing. */
const REFCOUNT_BATCH = 64 * 1024;

/** compare_refcounts; returns the highest cluster with a non-zero on-disk or computed refcount. */
function compareRefcounts(
  c: Ctx,
  fixLeaks: boolean,
  fixErrors: boolean,
  highest: { value: number },
): void {
  const s = c.s;
  const r = s.refcounts;
  // Without repairs nothing touches the refblock cache between two refcounts: read them a batch
  // at a time (the same cache traffic as one getRefcount per cluster, a fraction of the calls).
  const batch = fixLeaks || fixErrors ? undefined : new Float64Array(REFCOUNT_BATCH);
  let batchStart = 0;
  let batchEnd = 0;
  // The IMRT does not change here (repairs change the image's refcounts, not the references).
  const clusters = c.imrt.size;
  const references = c.imrt.counts;
  for (let i = 0; i < clusters; i++) {
    if (batch !== undefined && i >= batchEnd) {
      batchStart = i;
      const view = batch.subarray(0, Math.min(REFCOUNT_BATCH, clusters - i));
      r.getRefcounts(i, view);
      batchEnd = i + view.length;
    }
    const refcount1 = batch !== undefined ? (batch[i - batchStart] as number) : r.getRefcount(i);
    const refcount2 = references[i] as number;
    if (refcount1 > 0 || refcount2 > 0) highest.value = i;
    if (refcount1 === refcount2) continue;
    let fixed: 'leaks' | 'corruptions' | null = null;
    if (refcount1 === 0) c.rebuild = true;
    else if (refcount1 > refcount2 && fixLeaks) fixed = 'leaks';
    else if (refcount1 < refcount2 && fixErrors) fixed = 'corruptions';
    c.messages.push(
      `${fixed ? 'Repairing' : refcount1 < refcount2 ? 'ERROR' : 'Leaked'} cluster ${i} refcount=${refcount1} reference=${refcount2}`,
    );
    if (fixed) {
      const ret = r.updateRefcount(
        i * s.clusterSize,
        1,
        Math.abs(refcount1 - refcount2),
        refcount1 > refcount2,
        DISCARD_ALWAYS,
      );
      if (ret >= 0) {
        if (fixed === 'leaks') c.res.leaksFixed++;
        else c.res.corruptionsFixed++;
        continue;
      }
    }
    if (refcount1 < refcount2) c.res.corruptions++;
    else c.res.leaks++;
  }
}

/** alloc_clusters_imrt: first fit in the IMRT from *firstFree, extending it past the end. */
function allocClustersImrt(c: Ctx, count: number, firstFree: { value: number }): number {
  let cluster = firstFree.value;
  let firstGap = true;
  let contiguous = 0;
  for (; cluster < c.imrt.size && contiguous < count; cluster++) {
    if (!c.imrt.get(cluster)) {
      contiguous++;
      if (firstGap) {
        firstFree.value = cluster;
        firstGap = false;
      }
    } else if (contiguous) {
      contiguous = 0;
    }
  }
  if (contiguous < count) c.imrt.grow(cluster + count - contiguous);
  cluster -= contiguous;
  for (let i = 0; i < count; i++) c.imrt.counts[cluster + i] = 1;
  return cluster * c.s.clusterSize;
}

function writeRefblocks(
  c: Ctx,
  first: number,
  endCluster: number,
  table: { entries: number[] },
): boolean {
  const s = c.s;
  const r = s.refcounts;
  const cs = s.clusterSize;
  let firstFree = { value: 0 };
  let grown = false;
  let end = endCluster;
  for (let cluster = first; cluster < end; cluster++) {
    if (!c.imrt.get(cluster)) continue;
    const index = Math.floor(cluster / r.refblockEntries);
    const blockStart = index * r.refblockEntries;
    let blockOffset: number;
    if (table.entries.length > index && table.entries[index]) {
      blockOffset = table.entries[index] as number;
    } else {
      if (firstFree.value < blockStart) firstFree = { value: blockStart };
      blockOffset = allocClustersImrt(c, 1, firstFree);
      const blockCluster = blockOffset / cs;
      if (blockCluster >= end) end = blockCluster + 1;
      if (table.entries.length <= index) {
        const entries = Math.ceil(((index + 1) * 8) / cs) * (cs / 8);
        while (table.entries.length < entries) table.entries.push(0);
        grown = true;
      }
      table.entries[index] = blockOffset;
    }
    const block = new Uint8Array(cs);
    for (let j = 0; j < r.refblockEntries; j++) {
      const v = c.imrt.get(blockStart + j);
      if (v) setRefcount(block, j, r.refcountOrder, v);
    }
    s.device.write(blockOffset, block, 'refblock');
    cluster = blockStart + r.refblockEntries - 1;
  }
  return grown;
}

/** rebuild_refcount_structure: refblocks and a reftable placed in the IMRT's free space. */
function rebuildRefcountStructure(c: Ctx): void {
  const s = c.s;
  const r = s.refcounts;
  const cs = s.clusterSize;
  r.refblockCache.flush();
  r.refblockCache.invalidateAll();
  const table = { entries: [] as number[] };
  writeRefblocks(c, 0, c.imrt.size, table);
  let reftableOffset = 0;
  let reftableClusters = 0;
  let changed = true;
  while (changed) {
    const length = table.entries.length * 8;
    reftableClusters = Math.ceil(length / cs);
    reftableOffset = allocClustersImrt(c, reftableClusters, { value: 0 });
    const start = reftableOffset / cs;
    changed = writeRefblocks(c, start, start + reftableClusters, table);
  }
  const bytes = new Uint8Array(table.entries.length * 8);
  for (let i = 0; i < table.entries.length; i++) writeU64(bytes, i * 8, table.entries[i] as number);
  s.device.write(reftableOffset, bytes, 'reftable');
  const header = new Uint8Array(12);
  writeU64(header, 0, reftableOffset);
  writeU32(header, 8, reftableClusters);
  s.device.write(48, header, 'header');
  s.device.flush();
  r.reftable = Float64Array.from(table.entries);
  r.reftableOffset = reftableOffset;
  r.reftableSize = table.entries.length;
  let max = r.reftableSize - 1;
  while (max > 0 && r.reftable[max] === 0) max--;
  r.maxReftableIndex = Math.max(max, 0);
  s.headerCluster.header.refcountTableOffset = reftableOffset;
  s.headerCluster.header.refcountTableClusters = reftableClusters;
}

/** check_oflag_copied: COPIED ⇔ refcount 1 for the active L1 entries and their L2 entries. */
function checkOflagCopied(c: Ctx): void {
  const s = c.s;
  const r = s.refcounts;
  const cs = s.clusterSize;
  const repair =
    c.fixErrors || (c.fixLeaks && !c.res.checkErrors && !c.res.corruptions && !c.res.leaks);
  // A repair below changes entry i only (and leaves it non-zero).
  const words = wordsOf(s.l1);
  for (
    let i = nextL1Entry(words, 0, s.l1Size);
    i < s.l1Size;
    i = nextL1Entry(words, i + 1, s.l1Size)
  ) {
    const hi = entryHi(s.l1, i);
    const lo = entryLo(s.l1, i);
    const l2Offset = offsetOf(hi, lo);
    if (!l2Offset) continue;
    const refcount = r.getRefcount(Math.floor(l2Offset / cs));
    if ((refcount === 1) !== ((hi & HI_COPIED) !== 0)) {
      c.res.corruptions++;
      c.messages.push(
        `${repair ? 'Repairing' : 'ERROR'} OFLAG_COPIED L2 cluster: l1_index=${i} l1_entry=${hex64(hi, lo)} refcount=${refcount}`,
      );
      if (repair) {
        setEntryRaw(s.l1, i, refcount === 1 ? (hi | HI_COPIED) >>> 0 : (hi & ~HI_COPIED) >>> 0, lo);
        s.writeL1Entry(i);
        c.res.corruptions--;
        c.res.corruptionsFixed++;
      }
    }
    if (l2Offset >= s.device.size()) continue; // zeros: no data cluster to check
    const copies = repair ? undefined : c.l2Entries;
    const kept = c.metered && copies ? copies.find(i, l2Offset) : -1;
    if (kept >= 0) {
      c.metered?.noteRead(l2Offset, cs, 'l2');
      copies?.visit(kept, (_j, h, l) => {
        const rc = r.getRefcount(Math.floor(offsetOf(h, l) / cs));
        if ((rc === 1) !== ((h & HI_COPIED) !== 0)) {
          c.res.corruptions++;
          c.messages.push(
            `ERROR OFLAG_COPIED data cluster: l2_entry=${hex64(h, l)} refcount=${rc}`,
          );
        }
      });
      continue;
    }
    const l2 = readL2(c, l2Offset);
    const scan = zeroScanOf(c, l2);
    let dirty = 0;
    for (
      let j = scan.nextEntryFrom(0, s.l2Size);
      j < s.l2Size;
      j = scan.nextEntryFrom(j + 1, s.l2Size)
    ) {
      const h = entryHi(l2, j);
      const l = entryLo(l2, j);
      const type = clusterTypeOf(h, l);
      if (type !== ClusterType.Normal && type !== ClusterType.ZeroAlloc) continue;
      const rc = r.getRefcount(Math.floor(offsetOf(h, l) / cs));
      if ((rc === 1) !== ((h & HI_COPIED) !== 0)) {
        c.res.corruptions++;
        c.messages.push(
          `${repair ? 'Repairing' : 'ERROR'} OFLAG_COPIED data cluster: l2_entry=${hex64(h, l)} refcount=${rc}`,
        );
        if (repair) {
          setEntryRaw(l2, j, rc === 1 ? (h | HI_COPIED) >>> 0 : (h & ~HI_COPIED) >>> 0, l);
          dirty++;
        }
      }
    }
    if (dirty > 0) {
      s.device.write(l2Offset, l2, 'l2');
      c.res.corruptions -= dirty;
      c.res.corruptionsFixed += dirty;
    }
  }
}

/**
 * qcow2_check_refcounts (+ qcow2_co_check_locked's mark clean): builds the IMRT, compares it with
 * the on-disk refcounts, repairs leaks/corruptions or rebuilds the structure, checks COPIED.
 */
export function checkImage(s: Qcow2State, repair: RepairMode): CheckResult {
  // Caches may hold newer metadata than the file; the check reads the file directly.
  if (!s.readOnly) flushCaches(s);
  s.l2Cache.invalidateAll();
  const cs = s.clusterSize;
  const res: CheckResult = {
    format: 'qcow2',
    checkErrors: 0,
    corruptions: 0,
    leaks: 0,
    corruptionsFixed: 0,
    leaksFixed: 0,
    totalClusters: Math.ceil((Math.ceil(s.sizeBytes / 512) * 512) / cs),
    allocatedClusters: 0,
    fragmentedClusters: 0,
    compressedClusters: 0,
    imageEndOffsetBytes: 0,
    messages: [],
  };
  const fixErrors = repair === 'all';
  const fixLeaks = repair !== 'none';
  const l2Buffer = new Uint8Array(cs);
  const c: Ctx = {
    s,
    res,
    fixErrors,
    fixLeaks,
    imrt: new Imrt(Math.ceil(s.device.size() / cs)),
    rebuild: false,
    refcountMax: s.refcounts.refcountMax,
    messages: res.messages,
    l2Buffer,
    l2BufferScan: new ZeroScan(l2Buffer, true),
    l2Entries: repair === 'none' && meteredInner(s) ? new L2EntryCopies() : undefined,
    metered: meteredInner(s),
  };
  calculateRefcounts(c);
  const pre = { ...res, messages: [] as string[] };
  const highest = { value: 0 };
  compareRefcounts(c, false, false, highest);
  if (c.rebuild && fixErrors) {
    const old = { corruptions: res.corruptions, leaks: res.leaks };
    res.messages.push('Rebuilding refcount structure');
    rebuildRefcountStructure(c);
    res.corruptions = 0;
    res.leaks = 0;
    c.rebuild = false;
    c.imrt = new Imrt(Math.ceil(s.device.size() / cs));
    const saveAlloc = [
      res.allocatedClusters ?? 0,
      res.fragmentedClusters ?? 0,
      res.compressedClusters ?? 0,
    ];
    calculateRefcounts(c);
    res.allocatedClusters = saveAlloc[0] as number;
    res.fragmentedClusters = saveAlloc[1] as number;
    res.compressedClusters = saveAlloc[2] as number;
    let freshLeaks = 0;
    if (fixLeaks) {
      const saved = {
        corruptions: res.corruptions,
        leaks: res.leaks,
        checkErrors: res.checkErrors,
        cf: res.corruptionsFixed,
        lf: res.leaksFixed,
      };
      res.corruptions = 0;
      res.leaks = 0;
      compareRefcounts(c, true, false, highest);
      if (c.rebuild) res.messages.push('ERROR rebuilt refcount structure is still broken');
      freshLeaks = res.leaks;
      res.corruptions = saved.corruptions;
      res.leaks = saved.leaks;
      res.checkErrors = saved.checkErrors;
      res.corruptionsFixed = saved.cf;
      res.leaksFixed = saved.lf;
    }
    if (res.corruptions < old.corruptions)
      res.corruptionsFixed += old.corruptions - res.corruptions;
    if (res.leaks < old.leaks) res.leaksFixed += old.leaks - res.leaks;
    res.leaks += freshLeaks;
  } else if (fixLeaks) {
    if (c.rebuild) {
      res.messages.push('ERROR need to rebuild refcount structures');
      res.checkErrors++;
      return finish(s, res, highest.value, repair);
    }
    if (res.leaks || res.corruptions) {
      const messages = res.messages;
      Object.assign(res, pre, { messages });
      compareRefcounts(c, fixLeaks, fixErrors, highest);
    }
  }
  s.refcounts.refblockCache.flush();
  checkOflagCopied(c);
  return finish(s, res, highest.value, repair);
}

function finish(s: Qcow2State, res: CheckResult, highest: number, repair: RepairMode): CheckResult {
  res.imageEndOffsetBytes = (highest + 1) * s.clusterSize;
  s.refcounts.freeClusterIndex = 0;
  if (repair !== 'none' && res.checkErrors === 0 && res.corruptions === 0) {
    s.refcounts.refblockCache.flush();
    markClean(s);
    const h = s.headerCluster.header;
    if (h.incompatibleFeatures & 2n) {
      h.incompatibleFeatures &= ~2n;
      s.updateHeader();
    }
  }
  return res;
}
