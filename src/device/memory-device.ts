import { MISSING, NumberIndex } from '../util/number-index.ts';
import {
  type IoKind,
  isZeroBufferView,
  materializePatchedWrite,
  type PatchedWrite,
  type PatchWritableDevice,
  type WritePatch,
  ZERO_BUFFER_BYTES,
  zeroBytes,
} from './types.ts';

const DEFAULT_PAGE_BYTES = 4096;

/**
 * Holds live views of the device's pages (`ownedPageView`) whose bytes may be ahead of what the
 * device should show (a qcow2 L2 cache keeping its slots in the pages: lent-pages.ts). The device
 * calls `reclaim` before anything reads, changes, frees or clones bytes in a range, and the
 * borrower puts the device's bytes back there first.
 */
export interface PageBorrower {
  reclaim(offsetBytes: number, lengthBytes: number): void;
  /** Gives every view back and borrows no more (another borrower takes over the device). */
  stop(): void;
}

/**
 * Set under the test suite: a patched write that carries its whole content is checked against
 * what the device would hold after it, so every engine test also proves the "unchanged" claims
 * its caches make.
 */
const VERIFY_PATCHED_WRITES = process.env.QEDLAB_VERIFY_PATCHED_WRITES === '1';

export interface MemoryDeviceOptions {
  /**
   * Allocation granule; memory use is about (pages touched by non-zero writes) × pageBytes, less
   * for pages whose non-zero bytes all lie in one small block (see `compactBytes`).
   */
  pageBytes?: number;
  /**
   * `store` keeps guest data like any other bytes. `drop` keeps only metadata: writes of kind
   * `data` and `zero-fill` extend the size but store nothing and read back as zeros. That is how a
   * 1 PiB image taking a million allocating writes fits in memory: the simulation needs the
   * metadata, never the guest's bytes.
   */
  dataMode?: 'store' | 'drop';
  /**
   * A page whose non-zero bytes all lie in one aligned block of this many bytes is stored in that
   * block alone (default 32; 0, or a size not below pageBytes, turns it off). A fresh metadata
   * table holding one entry (a qcow2 L2 slice, a QED L2 of a 1 PiB image) then costs 32 bytes,
   * not a 4 KiB page: less memory, and far fewer first touches of fresh memory, which are page
   * faults (10-40 µs each on a VM). A page with non-zero bytes in a few blocks is a sparse page
   * (those blocks, in chunks of four, and a map of them) while they take at most half a page;
   * beyond that, or when it is read whole, it is a full page. 32 bytes (four table entries) were
   * the fastest block for QED's and qcow2's 1 TiB runs (against 16 and 64).
   */
  compactBytes?: number;
}

/**
 * Pages live in slabs (one ArrayBuffer holds up to 2,048 pages) and are addressed by a slot number
 * `slab << shift | pageInSlab`. One backing store per page would make V8 account and
 * collect a million external buffers; slabs and a typed-array hash table keep the heap free of
 * per-page objects, which is what makes millions of writes a second possible.
 *
 * Slabs grow to 8 MiB, so that malloc can back most of one with transparent huge pages (glibc's
 * `glibc.malloc.hugetlb=1`; bench:perf sets it): a random write over hundreds of MiB of pages
 * then costs far fewer TLB misses and page faults. Once a device has been cloned, its slabs stay
 * at 1 MiB: each clone leaves both sides a partly used slab they may no longer fill.
 */
const FULL_SLAB_SHIFT = 11;
/**
 * Compact block slabs hold at most 2 MiB (one huge page): codes give single blocks 30 bits, and a
 * slab takes 2^shift of them however small it is, so the smaller the slab, the more slabs fit. Every
 * clone starts a new slab on each side, so this is how many clones a device can go through: 128
 * for 32-byte blocks.
 */
const COMPACT_SLAB_BYTES = 1 << 21;
const DEFAULT_COMPACT_BYTES = 32;
const MAX_SLAB_BYTES = 1 << 23;
const MAX_SLAB_BYTES_AFTER_CLONE = 1 << 20;
const FIRST_SLAB_UNITS = 4;
/** Transparent huge page size (x86-64, arm64 with 4 KiB pages). */
const HUGE_PAGE_BYTES = 1 << 21;
/** What a slab leaves for malloc's chunk header and the rounding of its mapping to a page. */
const MALLOC_SLACK_BYTES = 4096;
/** Copies shorter than this go byte by byte: TypedArray.set costs more than the copy. */
const SHORT_COPY_BYTES = 64;
/** Sparse page codes: -2 - (SPARSE_CODE_BASE + header unit); single-block codes stay below. */
const SPARSE_CODE_BASE = 2 ** 30;
/** Blocks per chunk of a sparse page (log2). */
const CHUNK_BLOCKS_SHIFT = 2;
/** A sparse page's header and chunks take at most this share of a page; beyond, it is full. */
const SPARSE_MAX_PAGE_SHARE = 0.5;

/**
 * Where a sparse page's header (at `base`) keeps the number of the chunk holding its block in
 * `slot` (slots count from 1, in the order blocks arrived; four to a chunk).
 */
function chunkNumberAt(base: number, slot: number): number {
  return base + (((slot - 1) >>> CHUNK_BLOCKS_SHIFT) << 2);
}

/** Byte offset of `slot`'s block within its chunk. */
function blockInChunk(slot: number, blockShift: number): number {
  return ((slot - 1) & ((1 << CHUNK_BLOCKS_SHIFT) - 1)) << blockShift;
}

/** Fixed-size units in slabs, with a free list and copy-on-write sharing after a clone. */
class SlotPool {
  readonly unitBytes: number;
  readonly shift: number;
  readonly mask: number;
  readonly maxSlabs: number;
  slabs: Uint8Array[] = [];
  /** Each slab as 32-bit words (for copies and zero checks a word at a time). */
  words: Int32Array[] = [];
  /** Slabs below this index may be shared with a clone: never written in place nor reused. */
  firstOwnedSlab = 0;
  /** Units in use by this device (shared ones included). */
  live = 0;
  #allocSlab = -1;
  #allocNext = 0;
  #allocLimit = 0;
  #ownSlabCount = 0;
  #freeSlots: number[] = [];
  #maxSlabBytes = MAX_SLAB_BYTES;

  constructor(unitBytes: number, shift: number, maxSlabs: number) {
    this.unitBytes = unitBytes;
    this.shift = shift;
    this.mask = (1 << shift) - 1;
    this.maxSlabs = maxSlabs;
  }

  /** A unit; zeroed when the caller will not overwrite all of it. */
  allocate(zeroed: boolean): number {
    this.live++;
    const reused = this.#freeSlots.pop();
    if (reused !== undefined) {
      if (zeroed) {
        const start = (reused & this.mask) * this.unitBytes;
        (this.slabs[reused >>> this.shift] as Uint8Array).fill(0, start, start + this.unitBytes);
      }
      return reused;
    }
    if (this.#allocNext === this.#allocLimit) {
      const maxUnits = Math.max(1, Math.min(this.mask + 1, this.#maxSlabBytes / this.unitBytes));
      let units = Math.min(maxUnits, FIRST_SLAB_UNITS << Math.min(this.#ownSlabCount, 16));
      if (units * this.unitBytes >= HUGE_PAGE_BYTES) {
        // malloc maps a big buffer with its chunk header in front: one size a multiple of 2 MiB
        // plus a few bytes maps 4 KiB more, and the kernel then neither aligns the mapping to a
        // huge page nor can back its first and last 2 MiB with one. A slab a page short of that
        // multiple lands in a mapping of exactly the multiple, which Linux aligns: an 8 MiB slab
        // is then four huge pages, not three and 512 small ones (a quarter of it in 4 KiB faults).
        units = Math.max(
          1,
          Math.floor((units * this.unitBytes - MALLOC_SLACK_BYTES) / this.unitBytes),
        );
      }
      if (this.slabs.length >= this.maxSlabs) throw new Error('MemoryDevice: too many slabs');
      this.#allocSlab = this.slabs.length;
      const slab = new Uint8Array(units * this.unitBytes);
      this.slabs.push(slab);
      this.words.push(new Int32Array(slab.buffer, 0, slab.length >> 2));
      this.#ownSlabCount++;
      this.#allocNext = 0;
      this.#allocLimit = units;
    }
    return (this.#allocSlab << this.shift) | this.#allocNext++;
  }

  release(slot: number): void {
    this.live--;
    if (slot >>> this.shift >= this.firstOwnedSlab) this.#freeSlots.push(slot);
  }

  isShared(slot: number): boolean {
    return slot >>> this.shift < this.firstOwnedSlab;
  }

  slab(slot: number): Uint8Array {
    return this.slabs[slot >>> this.shift] as Uint8Array;
  }

  start(slot: number): number {
    return (slot & this.mask) * this.unitBytes;
  }

  /** A copy sharing every slab; from now on neither side writes into or reuses them. */
  clone(): SlotPool {
    const copy = new SlotPool(this.unitBytes, this.shift, this.maxSlabs);
    copy.slabs = this.slabs.slice();
    copy.words = this.words.slice();
    copy.live = this.live;
    copy.firstOwnedSlab = this.slabs.length;
    copy.#maxSlabBytes = MAX_SLAB_BYTES_AFTER_CLONE;
    this.firstOwnedSlab = this.slabs.length;
    this.#maxSlabBytes = MAX_SLAB_BYTES_AFTER_CLONE;
    this.#allocSlab = -1;
    this.#allocNext = 0;
    this.#allocLimit = 0;
    this.#freeSlots = [];
    return copy;
  }
}

/** Copies `length` bytes within or across slabs (short copies byte by byte). */
function copyBytes(
  from: Uint8Array,
  fromAt: number,
  to: Uint8Array,
  toAt: number,
  length: number,
): void {
  if (length <= 128) {
    for (let i = 0; i < length; i++) to[toAt + i] = from[fromAt + i] as number;
  } else {
    to.set(from.subarray(fromAt, fromAt + length), toAt);
  }
}

/**
 * Copies `chunk` (shorter than a block) into `target` at `at`. An 8-byte table entry, the usual
 * chunk, is copied unrolled: a byte loop repeats its typed-array checks for every byte.
 */
function copyShort(chunk: Uint8Array, target: Uint8Array, at: number): void {
  const length = chunk.length;
  if (length !== 8) {
    for (let i = 0; i < length; i++) target[at + i] = chunk[i] as number;
    return;
  }
  target[at] = chunk[0] as number;
  target[at + 1] = chunk[1] as number;
  target[at + 2] = chunk[2] as number;
  target[at + 3] = chunk[3] as number;
  target[at + 4] = chunk[4] as number;
  target[at + 5] = chunk[5] as number;
  target[at + 6] = chunk[6] as number;
  target[at + 7] = chunk[7] as number;
}

/** True when the 8 bytes of `entry` are all zero. */
function isZeroEntry(entry: Uint8Array): boolean {
  return (
    ((entry[0] as number) |
      (entry[1] as number) |
      (entry[2] as number) |
      (entry[3] as number) |
      (entry[4] as number) |
      (entry[5] as number) |
      (entry[6] as number) |
      (entry[7] as number)) ===
    0
  );
}

/** True when `bytes[from, to)` holds a non-zero byte. */
function hasNonZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return true;
  return false;
}

/** True when `words[from, to)` holds a non-zero word. */
function hasNonZeroWord(words: Int32Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (words[i] !== 0) return true;
  return false;
}

/** Copies `chunk` into `target` at `at` (short chunks byte by byte). */
function copyInto(target: Uint8Array, at: number, chunk: Uint8Array): void {
  const length = chunk.length;
  if (length < SHORT_COPY_BYTES) {
    for (let i = 0; i < length; i++) target[at + i] = chunk[i] as number;
  } else {
    target.set(chunk, at);
  }
}

/**
 * A sparse in-memory device: pages are allocated on the first non-zero write, so a 1 PiB device
 * costs only what was written. All-zero page writes store nothing (or free the page).
 *
 * The page table maps a page index to a full page (a slot >= 0) or, for a page whose non-zero
 * bytes lie in one block, to a compact block: `-2 - (block << blocksPerPageShift | blockInPage)`.
 * Zeros around the block need no storing (they read as zeros). Non-zero bytes in other blocks make
 * it a sparse page (below) while its blocks fit in half a page, else a full page.
 *
 * A sparse page is a fixed-size header, `-2 - (SPARSE_CODE_BASE + header)`, and chunks of four
 * blocks: the header holds the chunk numbers, the number of blocks held and a map with a byte per
 * block of the page (1 + the slot holding it, 0 for none); slot s is block s % 4 of chunk s / 4,
 * in the order the blocks arrived. A page grows by a chunk at a time and never moves, and every
 * chunk has one size, so a freed one serves any page. A table page holding a few entries (QED's
 * L2 pages after 100,000 random writes into a TiB hold about three) then costs a few hundred
 * bytes instead of a page: the first touch of fresh memory is a page fault (about 17 µs per 4 KiB
 * on this VM), and a smaller footprint misses the CPU caches and TLB less. Blocks are never taken
 * out (zeros written into one stay there); the page is freed whole. A clone shares headers and
 * chunks like pages: each side copies a header before changing it, a chunk before writing it.
 * (Pages kept in one unit that moves to a larger size class as it grows were tried first: the
 * moves, and freed small units that no larger page could use, made QED's 1M-write run touch more
 * fresh memory than full pages did.)
 *
 * `clone()` is copy-on-write: the copy shares the pages that exist at the time and each side
 * copies a page when it first changes it, so crash exploration can take a clone per state.
 */
export class MemoryDevice implements PatchWritableDevice {
  readonly pageBytes: number;
  readonly dataMode: 'store' | 'drop';
  /** Size of a compact block; 0 when pages are never compact. */
  readonly compactBytes: number;
  #table = new NumberIndex();
  #full: SlotPool;
  #blocks: SlotPool;
  /** Sparse page headers and chunks (see the class comment). */
  #headers: SlotPool;
  #chunks: SlotPool;
  /** Most blocks a sparse page holds (0: sparse pages off); beyond that a page is full. */
  readonly #sparseMaxBlocks: number;
  /** Blocks per page. */
  readonly #blocksPerPage: number;
  /** Where a header keeps its block count and its map (its chunk numbers come first). */
  readonly #countAt: number;
  readonly #mapAt: number;
  /** Blocks a write adds to a sparse page (reused: no allocation per write). */
  readonly #newBlocks: Int32Array;
  /** log2(compactBytes). */
  readonly #blockShift: number;
  /** log2(compact blocks per page). */
  readonly #blocksPerPageShift: number;
  #sizeBytes = 0;
  /**
   * No page at or past this offset has ever been stored: a clear (dropped data write, zero range)
   * that starts here touches nothing. Appending formats write new data clusters past every table,
   * so in drop mode most data writes cost no page lookups at all.
   */
  #storedEndBytes = 0;
  #borrower: PageBorrower | null = null;

  constructor(options: MemoryDeviceOptions = {}) {
    this.pageBytes = options.pageBytes ?? DEFAULT_PAGE_BYTES;
    if (this.pageBytes <= 0 || (this.pageBytes & (this.pageBytes - 1)) !== 0) {
      throw new Error(`page size must be a power of two, got ${this.pageBytes}`);
    }
    this.dataMode = options.dataMode ?? 'store';
    const compactBytes = options.compactBytes ?? DEFAULT_COMPACT_BYTES;
    if (compactBytes < 0 || (compactBytes & (compactBytes - 1)) !== 0) {
      throw new Error(`compact block size must be 0 or a power of two, got ${compactBytes}`);
    }
    this.compactBytes = compactBytes > 0 && compactBytes < this.pageBytes ? compactBytes : 0;
    this.#blockShift = this.compactBytes > 0 ? Math.log2(this.compactBytes) : 0;
    this.#blocksPerPageShift =
      this.compactBytes > 0 ? Math.log2(this.pageBytes / this.compactBytes) : 0;
    this.#full = new SlotPool(this.pageBytes, FULL_SLAB_SHIFT, 2 ** (31 - FULL_SLAB_SHIFT));
    // Codes -2 - (block << blocksPerPageShift | blockInPage) must stay int32s.
    const blockSlabShift = Math.max(0, Math.log2(COMPACT_SLAB_BYTES) - this.#blockShift);
    this.#blocks = new SlotPool(
      Math.max(1, this.compactBytes),
      blockSlabShift,
      2 ** Math.max(0, 30 - blockSlabShift - this.#blocksPerPageShift),
    );
    // The map holds 1 + a slot in a byte; a chunk number is a u32.
    const blocksPerPage = this.compactBytes > 0 ? this.pageBytes / this.compactBytes : 0;
    this.#blocksPerPage = blocksPerPage;
    const chunkBytes = Math.max(1, this.compactBytes) << CHUNK_BLOCKS_SHIFT;
    let maxChunks = 0;
    if (this.compactBytes >= 8 && blocksPerPage >= 8 && blocksPerPage <= 256) {
      const limit = this.pageBytes * SPARSE_MAX_PAGE_SHARE;
      while (
        (maxChunks + 1) << CHUNK_BLOCKS_SHIFT < 255 &&
        sparseHeaderBytes(maxChunks + 1, blocksPerPage) + (maxChunks + 1) * chunkBytes <= limit
      ) {
        maxChunks++;
      }
      if (maxChunks < 2) maxChunks = 0;
    }
    this.#sparseMaxBlocks = maxChunks << CHUNK_BLOCKS_SHIFT;
    this.#countAt = maxChunks * 4;
    this.#mapAt = maxChunks * 4 + 4;
    const headerBytes = maxChunks > 0 ? sparseHeaderBytes(maxChunks, blocksPerPage) : 8;
    // Header numbers go into int32 codes: below 2^30.
    const headerShift = slabShiftFor(headerBytes);
    this.#headers = new SlotPool(headerBytes, headerShift, 2 ** (30 - headerShift));
    const chunkShift = slabShiftFor(chunkBytes);
    this.#chunks = new SlotPool(chunkBytes, chunkShift, 2 ** (30 - chunkShift));
    this.#newBlocks = new Int32Array(blocksPerPage);
  }

  size(): number {
    return this.#sizeBytes;
  }

  /** Bytes of page memory held by live pages (the device's memory cost, excluding the index). */
  storedBytes(): number {
    let bytes = this.#full.live * this.pageBytes + this.#blocks.live * this.compactBytes;
    bytes += this.#headers.live * this.#headers.unitBytes;
    bytes += this.#chunks.live * this.#chunks.unitBytes;
    return bytes;
  }

  /** Number of pages holding data (full or compact). */
  storedPages(): number {
    return this.#table.size;
  }

  read(offsetBytes: number, lengthBytes: number, _kind?: IoKind): Uint8Array {
    // readInto writes every byte, so the buffer need not be zeroed first (zeroing fresh memory
    // costs as much as the copy). A plain Uint8Array over its own ArrayBuffer, offset 0: callers
    // may wrap `.buffer` in a DataView.
    const buffer = Buffer.allocUnsafeSlow(lengthBytes);
    const out = new Uint8Array(buffer.buffer, buffer.byteOffset, lengthBytes);
    if (this.#borrower !== null) this.#borrower.reclaim(offsetBytes, lengthBytes);
    this.#readInto(offsetBytes, out);
    return out;
  }

  /**
   * From now on `borrower` is told before any operation touches bytes it may hold views of. One
   * borrower at a time: a previous one stops first (an image abandoned without a close, as a
   * simulated crash leaves it, and the device reopened).
   */
  lendPagesTo(borrower: PageBorrower): void {
    const previous = this.#borrower;
    if (previous !== null && previous !== borrower) previous.stop();
    this.#borrower = borrower;
  }

  /** `borrower` holds no views any more. */
  endLending(borrower: PageBorrower): void {
    if (this.#borrower === borrower) this.#borrower = null;
  }

  /** Copies the bytes at `offsetBytes` into `out` (zeros where nothing was written). */
  readInto(offsetBytes: number, out: Uint8Array, _kind?: IoKind): void {
    if (this.#borrower !== null) this.#borrower.reclaim(offsetBytes, out.length);
    this.#readInto(offsetBytes, out);
  }

  #readInto(offsetBytes: number, out: Uint8Array): void {
    const pageBytes = this.pageBytes;
    const length = out.length;
    let done = 0;
    while (done < length) {
      const pos = offsetBytes + done;
      const pageIndex = Math.floor(pos / pageBytes);
      const inPage = pos - pageIndex * pageBytes;
      const n = Math.min(pageBytes - inPage, length - done);
      let code = this.#table.get(pageIndex);
      if (n === pageBytes && code < -1) {
        // A sparse page read whole becomes a full page (see #promoteSparse); so does a compact
        // one read alone (a table slice read into a cache, which will write more entries back).
        if (-2 - code >= SPARSE_CODE_BASE) code = this.#promoteSparse(pageIndex, code);
        else if (length === pageBytes) code = this.#promoteBlock(pageIndex, code);
      }
      if (code >= 0) {
        const start = this.#full.start(code) + inPage;
        out.set(this.#full.slab(code).subarray(start, start + n), done);
      } else if (code === MISSING) {
        out.fill(0, done, done + n);
      } else {
        this.#readCompact(code, inPage, out, done, n);
      }
      done += n;
    }
  }

  /**
   * The little-endian u64 at `offsetBytes` as a number, read as `readInto` would read those 8
   * bytes (exact below 2^53). A table engine reads one entry per lookup: this skips the view and
   * copy `readInto` costs, which take most of a hot-page lookup.
   */
  readU64(offsetBytes: number): number {
    if (this.#borrower !== null) this.#borrower.reclaim(offsetBytes, 8);
    const pageBytes = this.pageBytes;
    const pageIndex = Math.floor(offsetBytes / pageBytes);
    const inPage = offsetBytes - pageIndex * pageBytes;
    const code = this.#table.get(pageIndex);
    if (code === MISSING) {
      if (inPage + 8 <= pageBytes) return 0;
    } else if (code >= 0) {
      if (inPage + 8 <= pageBytes)
        return readU64At(this.#full.slab(code), this.#full.start(code) + inPage);
    } else if (-2 - code >= SPARSE_CODE_BASE) {
      const blockInPage = inPage >>> this.#blockShift;
      if ((inPage + 7) >>> this.#blockShift === blockInPage && inPage + 8 <= pageBytes) {
        const header = -2 - code - SPARSE_CODE_BASE;
        const headers = this.#headers;
        const slab = headers.slab(header);
        const base = headers.start(header);
        // The block count sits with the chunk numbers at the header's start, in another cache
        // line than most map bytes: reading it with the map byte fetches both lines at once, for
        // the chunk number below and for the write that usually follows a lookup (adding a block
        // reads the count and the last chunk's number): one dependent cache miss less.
        const held = slab[base + this.#countAt] as number;
        const slot = slab[base + this.#mapAt + blockInPage] as number;
        if (slot === 0) return 0;
        if (slot > held)
          throw new Error(`MemoryDevice: page ${pageIndex} maps a block past its count`);
        const chunk = readU32At(slab, chunkNumberAt(base, slot));
        return readU64At(
          this.#chunks.slab(chunk),
          this.#chunks.start(chunk) +
            blockInChunk(slot, this.#blockShift) +
            (inPage & (this.compactBytes - 1)),
        );
      }
    } else {
      const local = -2 - code;
      const blockStart = (local & ((1 << this.#blocksPerPageShift) - 1)) << this.#blockShift;
      if (inPage >= blockStart && inPage + 8 <= blockStart + this.compactBytes) {
        const block = local >>> this.#blocksPerPageShift;
        return readU64At(this.#blocks.slab(block), this.#blocks.start(block) + inPage - blockStart);
      }
      // Zeros only when the entry also ends in this page: past it lies the next page's bytes.
      const inPageOnly = inPage + 8 <= pageBytes;
      if (inPageOnly && (inPage + 8 <= blockStart || inPage >= blockStart + this.compactBytes))
        return 0;
    }
    // Straddles a page or a compact block's edge: the general path.
    this.#readInto(offsetBytes, U64_SCRATCH);
    return readU64At(U64_SCRATCH, 0);
  }

  /**
   * A live view of the stored bytes [offsetBytes, offsetBytes + lengthBytes) when they lie in one
   * full page this device owns (not shared with a clone); null otherwise (nothing stored there, a
   * compact page, a page shared since clone()). Writing into the view changes the device's bytes
   * with no operation, so whoever holds one answers for what the device shows. The view is the
   * page's until the page is freed (zeros written over all of it, a zero range, dropped data
   * write or truncate covering it) or the device is cloned: its holder must give it up first.
   * For a metadata cache that keeps its tables in the device's pages (qcow2 lent-pages.ts).
   */
  ownedPageView(offsetBytes: number, lengthBytes: number): Uint8Array | null {
    const pageIndex = Math.floor(offsetBytes / this.pageBytes);
    const inPage = offsetBytes - pageIndex * this.pageBytes;
    if (inPage + lengthBytes > this.pageBytes) return null;
    const code = this.#table.get(pageIndex);
    if (code < 0 || this.#full.isShared(code)) return null;
    const start = this.#full.start(code) + inPage;
    return this.#full.slab(code).subarray(start, start + lengthBytes);
  }

  /** `n` bytes from `inPage` of a compact page into `out` at `at`. */
  #readCompact(code: number, inPage: number, out: Uint8Array, at: number, n: number): void {
    if (-2 - code >= SPARSE_CODE_BASE) {
      this.#readSparse(code, inPage, out, at, n);
      return;
    }
    const block = (-2 - code) >>> this.#blocksPerPageShift;
    const blockStart = ((-2 - code) & ((1 << this.#blocksPerPageShift) - 1)) << this.#blockShift;
    out.fill(0, at, at + n);
    const from = Math.max(inPage, blockStart);
    const to = Math.min(inPage + n, blockStart + this.compactBytes);
    if (from >= to) return;
    const base = this.#blocks.start(block) - blockStart;
    const slab = this.#blocks.slab(block);
    const shift = at - inPage;
    for (let i = from; i < to; i++) out[i + shift] = slab[base + i] as number;
  }

  write(offsetBytes: number, data: Uint8Array, kind?: IoKind): void {
    if (this.#borrower !== null) this.#borrower.reclaim(offsetBytes, data.length);
    const length = data.length;
    const end = offsetBytes + length;
    if (end > this.#sizeBytes) this.#sizeBytes = end;
    if (this.dataMode === 'drop' && (kind === 'data' || kind === 'zero-fill')) {
      // Dropped bytes read back as zeros, even where metadata lived before. (Checked here too: an
      // appending format's data lands past every stored page, three times per QED request.)
      if (offsetBytes < this.#storedEndBytes) this.#clearRange(offsetBytes, end);
      return;
    }
    this.#writeBytes(offsetBytes, data);
  }

  /** `write` of bytes that are stored (the device's size already covers them). */
  #writeBytes(offsetBytes: number, data: Uint8Array): void {
    const length = data.length;
    // (Arrays of up to 64 bytes live on V8's heap: asking for their buffer would move them.)
    const knownZero = length > 64 && isZeroBufferView(data);
    const pageBytes = this.pageBytes;
    let done = 0;
    while (done < length) {
      const pos = offsetBytes + done;
      const pageIndex = Math.floor(pos / pageBytes);
      const inPage = pos - pageIndex * pageBytes;
      const n = Math.min(pageBytes - inPage, length - done);
      this.#writeInPage(
        pageIndex,
        inPage,
        n === length ? data : data.subarray(done, done + n),
        knownZero,
      );
      done += n;
    }
  }

  /** Applies only the patches (after clearing, for a `zero` base): the rest is known. */
  writePatched(offsetBytes: number, lengthBytes: number, write: PatchedWrite, kind?: IoKind): void {
    const end = offsetBytes + lengthBytes;
    const patches = write.patches;
    // Indexed loops: for-of over a frozen (or any non-plain) array takes V8's slow iterator path.
    for (let i = 0; i < patches.length; i++) {
      const patch = patches[i] as WritePatch;
      if (patch.atBytes < 0 || patch.atBytes + patch.bytes.length > lengthBytes) {
        throw new Error(
          `patched write: patch at ${patch.atBytes} (+${patch.bytes.length}) outside ${lengthBytes} bytes`,
        );
      }
    }
    // A write of unchanged bytes reads and changes nothing (a lent table's write-back).
    if (this.#borrower !== null && (write.base === 'zero' || patches.length > 0)) {
      this.#borrower.reclaim(offsetBytes, lengthBytes);
    }
    if (this.dataMode === 'drop' && (kind === 'data' || kind === 'zero-fill')) {
      if (end > this.#sizeBytes) this.#sizeBytes = end;
      this.#clearRange(offsetBytes, end);
      return;
    }
    if (VERIFY_PATCHED_WRITES && write.whole !== undefined) {
      this.#verifyPatchedWrite(offsetBytes, lengthBytes, write, write.whole);
    }
    if (end > this.#sizeBytes) this.#sizeBytes = end;
    if (write.base === 'zero') this.#clearRange(offsetBytes, end);
    // (The patches lie inside the op, whose end the size already covers, and are not dropped.)
    for (let i = 0; i < patches.length; i++) {
      const patch = patches[i] as WritePatch;
      this.#writeBytes(offsetBytes + patch.atBytes, patch.bytes);
    }
  }

  #verifyPatchedWrite(
    offsetBytes: number,
    lengthBytes: number,
    write: PatchedWrite,
    whole: Uint8Array,
  ): void {
    const expected = materializePatchedWrite(this, offsetBytes, lengthBytes, {
      base: write.base,
      patches: write.patches,
    });
    if (Buffer.compare(expected, whole) !== 0) {
      let at = 0;
      while (expected[at] === whole[at]) at++;
      throw new Error(
        `patched write at ${offsetBytes} (${write.base} base): byte ${at} of the op would be ` +
          `${expected[at]} on the device but the caller's whole buffer holds ${whole[at]}`,
      );
    }
  }

  zeroRange(offsetBytes: number, lengthBytes: number, _kind?: IoKind): void {
    if (this.#borrower !== null) this.#borrower.reclaim(offsetBytes, lengthBytes);
    const end = offsetBytes + lengthBytes;
    if (end > this.#sizeBytes) this.#sizeBytes = end;
    this.#clearRange(offsetBytes, end);
  }

  flush(): void {}

  truncate(sizeBytes: number): void {
    if (this.#borrower !== null && sizeBytes < this.#sizeBytes) {
      this.#borrower.reclaim(sizeBytes, this.#sizeBytes - sizeBytes);
    }
    if (sizeBytes < this.#sizeBytes) this.#clearRange(sizeBytes, this.#sizeBytes);
    this.#sizeBytes = sizeBytes;
  }

  /**
   * An independent copy. Pages are shared copy-on-write: O(pages) for the index, no page bytes
   * copied until one side changes a page.
   */
  clone(): MemoryDevice {
    // The copy shares pages: it must get the device's bytes, and lent views must not be shared.
    if (this.#borrower !== null) this.#borrower.reclaim(0, Number.POSITIVE_INFINITY);
    const copy = new MemoryDevice({
      pageBytes: this.pageBytes,
      dataMode: this.dataMode,
      compactBytes: this.compactBytes,
    });
    copy.#table = this.#table.clone();
    copy.#full = this.#full.clone();
    copy.#blocks = this.#blocks.clone();
    copy.#headers = this.#headers.clone();
    copy.#chunks = this.#chunks.clone();
    copy.#sizeBytes = this.#sizeBytes;
    copy.#storedEndBytes = this.#storedEndBytes;
    return copy;
  }

  /** Whole contents, for small devices in tests and crash states. */
  toBytes(): Uint8Array {
    return this.read(0, this.#sizeBytes);
  }

  static fromBytes(bytes: Uint8Array, options: MemoryDeviceOptions = {}): MemoryDevice {
    const device = new MemoryDevice(options);
    device.write(0, bytes);
    return device;
  }

  #writeInPage(pageIndex: number, inPage: number, chunk: Uint8Array, knownZero: boolean): void {
    const pageBytes = this.pageBytes;
    const code = this.#table.get(pageIndex);
    const length = chunk.length;
    const full = length === pageBytes;
    if (code === MISSING) {
      if (knownZero) return;
      let first = 0;
      if (this.compactBytes > 0) {
        // Only the non-zero bytes need a home: one block when they fit in one.
        first = firstNonZero(chunk);
        if (first < 0) return;
        const last = lastNonZero(chunk);
        const block = (inPage + first) >>> this.#blockShift;
        if (block === (inPage + last) >>> this.#blockShift) {
          this.#noteStored(pageIndex);
          this.#writeNewBlock(pageIndex, block, inPage, chunk);
          return;
        }
        if (this.#sparseMaxBlocks > 0) {
          const needed = this.#countNonZeroBlocks(chunk, inPage, first, last);
          if (needed <= this.#sparseMaxBlocks) {
            this.#noteStored(pageIndex);
            const code = this.#newSparse(pageIndex);
            this.#writeInSparse(pageIndex, code, inPage, chunk, false);
            return;
          }
        }
      } else if (isAllZero(chunk)) {
        return;
      }
      this.#noteStored(pageIndex);
      const slot = this.#full.allocate(!full);
      this.#table.set(pageIndex, slot);
      copyInto(this.#full.slab(slot), this.#full.start(slot) + inPage, chunk);
      return;
    }
    if (code >= 0) {
      let slot = code;
      if (full && (knownZero || isAllZero(chunk))) {
        this.#table.delete(pageIndex);
        this.#full.release(slot);
        return;
      }
      if (this.#full.isShared(slot)) slot = this.#unshareFull(pageIndex, slot, !full);
      copyInto(this.#full.slab(slot), this.#full.start(slot) + inPage, chunk);
      return;
    }
    if (-2 - code >= SPARSE_CODE_BASE) {
      if (knownZero || !this.#writeEntryInSparse(code, inPage, chunk)) {
        this.#writeInSparse(pageIndex, code, inPage, chunk, knownZero);
      }
    } else this.#writeInCompact(pageIndex, code, inPage, chunk, knownZero);
  }

  /**
   * The usual table-entry update of a sparse page, in a function of its own (the general one's
   * set-up costs more than this work): bytes within one block, which the page holds in a chunk of
   * its own, or does not hold yet and has room for. Does what #writeInSparse does there and
   * returns true; false, having changed nothing, for anything else.
   */
  #writeEntryInSparse(code: number, inPage: number, chunk: Uint8Array): boolean {
    const length = chunk.length;
    const shift = this.#blockShift;
    const firstBlock = inPage >>> shift;
    if ((inPage + length - 1) >>> shift !== firstBlock) return false;
    const blockBytes = this.compactBytes;
    const headers = this.#headers;
    const chunks = this.#chunks;
    const header = -2 - code - SPARSE_CODE_BASE;
    const slab = headers.slab(header);
    const base = headers.start(header);
    const slot = slab[base + this.#mapAt + firstBlock] as number;
    if (slot !== 0) {
      // A block already held: the header does not change.
      const unit = readU32At(slab, chunkNumberAt(base, slot));
      if (chunks.isShared(unit)) return false;
      const at = chunks.start(unit) + blockInChunk(slot, shift) + (inPage & (blockBytes - 1));
      copyShort(chunk, chunks.slab(unit), at);
      return true;
    }
    // A block the page does not hold yet (an entry set in an untouched part of a table page):
    // what #writeInSparse does for one new block, without its bookkeeping for many.
    if (headers.isShared(header)) return false;
    const held = slab[base + this.#countAt] as number;
    if (held >= this.#sparseMaxBlocks) return false;
    if (length === 8 ? isZeroEntry(chunk) : !hasNonZero(chunk, 0, length)) return true;
    const chunkAt = chunkNumberAt(base, held + 1);
    if ((held & ((1 << CHUNK_BLOCKS_SHIFT) - 1)) === 0) {
      writeU32At(slab, chunkAt, chunks.allocate(true));
    }
    slab[base + this.#mapAt + firstBlock] = held + 1;
    slab[base + this.#countAt] = held + 1;
    const unit = this.#ownChunk(slab, chunkAt);
    const at = chunks.start(unit) + blockInChunk(held + 1, shift) + (inPage & (blockBytes - 1));
    copyShort(chunk, chunks.slab(unit), at);
    return true;
  }

  #noteStored(pageIndex: number): void {
    const pageEnd = (pageIndex + 1) * this.pageBytes;
    if (pageEnd > this.#storedEndBytes) this.#storedEndBytes = pageEnd;
  }

  /** A new compact page holding the bytes of `chunk` (at `inPage`) that fall in `blockInPage`. */
  #writeNewBlock(pageIndex: number, blockInPage: number, inPage: number, chunk: Uint8Array): void {
    const blockStart = blockInPage << this.#blockShift;
    const from = Math.max(inPage, blockStart);
    const to = Math.min(inPage + chunk.length, blockStart + this.compactBytes);
    const block = this.#blocks.allocate(
      from !== blockStart || to !== blockStart + this.compactBytes,
    );
    this.#table.set(pageIndex, -2 - ((block << this.#blocksPerPageShift) | blockInPage));
    const slab = this.#blocks.slab(block);
    const target = this.#blocks.start(block) - blockStart;
    const shift = inPage;
    for (let i = from; i < to; i++) slab[target + i] = chunk[i - shift] as number;
  }

  /**
   * A write into a compact page: the bytes that fall in its block are written there; zeros
   * outside it change nothing; any other byte outside it makes the page full.
   */
  #writeInCompact(
    pageIndex: number,
    code: number,
    inPage: number,
    chunk: Uint8Array,
    knownZero: boolean,
  ): void {
    const length = chunk.length;
    let block = (-2 - code) >>> this.#blocksPerPageShift;
    const blockInPage = (-2 - code) & ((1 << this.#blocksPerPageShift) - 1);
    const blockStart = blockInPage << this.#blockShift;
    const blockEnd = blockStart + this.compactBytes;
    const from = Math.max(inPage, blockStart);
    const to = Math.min(inPage + length, blockEnd);
    let outsideZero = knownZero;
    if (!outsideZero) {
      const first = firstNonZero(chunk);
      outsideZero =
        first < 0 || (inPage + first >= blockStart && inPage + lastNonZero(chunk) < blockEnd);
    }
    if (!outsideZero && this.#sparseMaxBlocks > 0) {
      // The page's block and every other block the chunk has non-zero bytes in.
      const first = firstNonZero(chunk);
      const needed =
        this.#countNonZeroBlocks(chunk, inPage, first, lastNonZero(chunk), blockInPage) + 1;
      if (needed <= this.#sparseMaxBlocks) {
        const sparseCode = this.#newSparse(pageIndex);
        const headers = this.#headers;
        const header = -2 - sparseCode - SPARSE_CODE_BASE;
        const slab = headers.slab(header);
        const base = headers.start(header);
        const first = this.#chunks.allocate(true);
        writeU32At(slab, base, first);
        slab[base + this.#countAt] = 1;
        slab[base + this.#mapAt + blockInPage] = 1;
        copyBytes(
          this.#blocks.slab(block),
          this.#blocks.start(block),
          this.#chunks.slab(first),
          this.#chunks.start(first),
          this.compactBytes,
        );
        this.#blocks.release(block);
        if (!this.#writeEntryInSparse(sparseCode, inPage, chunk)) {
          this.#writeInSparse(pageIndex, sparseCode, inPage, chunk, false);
        }
        return;
      }
    }
    if (!outsideZero) {
      const slot = this.#promote(pageIndex, block, blockStart);
      copyInto(this.#full.slab(slot), this.#full.start(slot) + inPage, chunk);
      return;
    }
    if (from >= to) return;
    if (from === blockStart && to === blockEnd && (knownZero || firstNonZero(chunk) < 0)) {
      // The block's bytes become zeros, like everything around them: the page is gone.
      this.#table.delete(pageIndex);
      this.#blocks.release(block);
      return;
    }
    if (this.#blocks.isShared(block)) block = this.#unshareBlock(pageIndex, block, blockInPage);
    const slab = this.#blocks.slab(block);
    const target = this.#blocks.start(block) - blockStart;
    for (let i = from; i < to; i++) slab[target + i] = chunk[i - inPage] as number;
  }

  /** A block of our own with the shared block's bytes. */
  #unshareBlock(pageIndex: number, shared: number, blockInPage: number): number {
    const own = this.#blocks.allocate(false);
    const from = this.#blocks.start(shared);
    this.#blocks
      .slab(own)
      .set(
        this.#blocks.slab(shared).subarray(from, from + this.compactBytes),
        this.#blocks.start(own),
      );
    this.#blocks.release(shared);
    this.#table.set(pageIndex, -2 - ((own << this.#blocksPerPageShift) | blockInPage));
    return own;
  }

  /** #promote for a compact page's code. */
  #promoteBlock(pageIndex: number, code: number): number {
    const block = (-2 - code) >>> this.#blocksPerPageShift;
    const blockInPage = (-2 - code) & ((1 << this.#blocksPerPageShift) - 1);
    return this.#promote(pageIndex, block, blockInPage << this.#blockShift);
  }

  /** Moves a compact page's block into a (zeroed) full page; returns the full slot. */
  #promote(pageIndex: number, block: number, blockStart: number): number {
    const slot = this.#full.allocate(true);
    const from = this.#blocks.start(block);
    this.#full
      .slab(slot)
      .set(
        this.#blocks.slab(block).subarray(from, from + this.compactBytes),
        this.#full.start(slot) + blockStart,
      );
    this.#blocks.release(block);
    this.#table.set(pageIndex, slot);
    return slot;
  }

  /** Moves a shared page to a slot of our own (copying its bytes unless they will be overwritten). */
  #unshareFull(pageIndex: number, sharedSlot: number, copyBytes: boolean): number {
    const slot = this.#full.allocate(false);
    if (copyBytes) {
      const from = this.#full.start(sharedSlot);
      this.#full
        .slab(slot)
        .set(
          this.#full.slab(sharedSlot).subarray(from, from + this.pageBytes),
          this.#full.start(slot),
        );
    }
    this.#full.release(sharedSlot);
    this.#table.set(pageIndex, slot);
    return slot;
  }

  /**
   * How many blocks other than `skipBlock` the non-zero bytes of `chunk` (at `inPage`; its first
   * and last non-zero bytes at `first` and `last`) fall in, counting no further than one past the
   * largest sparse class.
   */
  #countNonZeroBlocks(
    chunk: Uint8Array,
    inPage: number,
    first: number,
    last: number,
    skipBlock = -1,
  ): number {
    const shift = this.#blockShift;
    const limit = this.#sparseMaxBlocks;
    const firstBlock = (inPage + first) >>> shift;
    const lastBlock = (inPage + last) >>> shift;
    let count = 0;
    for (let b = firstBlock; b <= lastBlock; b++) {
      if (b === skipBlock) continue;
      if (b === firstBlock || b === lastBlock) {
        count++;
      } else if (hasNonZero(chunk, (b << shift) - inPage, ((b + 1) << shift) - inPage)) {
        count++;
      }
      if (count > limit) break;
    }
    return count;
  }

  /** An empty sparse page; returns its code. */
  #newSparse(pageIndex: number): number {
    const code = -2 - (SPARSE_CODE_BASE + this.#headers.allocate(true));
    this.#table.set(pageIndex, code);
    return code;
  }

  /**
   * A write into a sparse page: bytes in its blocks go there, zeros elsewhere change nothing,
   * non-zero bytes in other blocks add blocks (a chunk when the last one is full) or, past the
   * most a sparse page holds, make it a full page.
   */
  #writeInSparse(
    pageIndex: number,
    code: number,
    inPage: number,
    chunk: Uint8Array,
    knownZero: boolean,
  ): void {
    const length = chunk.length;
    if (knownZero || (length === this.pageBytes && isAllZero(chunk))) {
      this.#clearInSparse(pageIndex, code, inPage, inPage + length);
      return;
    }
    const shift = this.#blockShift;
    const blockBytes = this.compactBytes;
    const mapAt = this.#mapAt;
    const headers = this.#headers;
    const chunks = this.#chunks;
    let header = -2 - code - SPARSE_CODE_BASE;
    let slab = headers.slab(header);
    let base = headers.start(header);
    const firstBlock = inPage >>> shift;
    const lastBlock = (inPage + length - 1) >>> shift;
    // A long aligned write (a table slice's write-back) is checked and copied a word at a time.
    const chunkWords =
      length >= 256 && (inPage & 3) === 0 && (chunk.byteOffset & 3) === 0
        ? new Int32Array(chunk.buffer, chunk.byteOffset, length >> 2)
        : undefined;
    // The blocks this write adds, and whether it touches any held one.
    const newBlocks = this.#newBlocks;
    let added = 0;
    let touchesHeld = false;
    for (let b = firstBlock; b <= lastBlock; b++) {
      if (slab[base + mapAt + b] !== 0) {
        touchesHeld = true;
        continue;
      }
      const from = Math.max(inPage, b << shift) - inPage;
      const to = Math.min(inPage + length, (b + 1) << shift) - inPage;
      const nonZero =
        chunkWords !== undefined && to - from === blockBytes
          ? hasNonZeroWord(chunkWords, from >> 2, to >> 2)
          : hasNonZero(chunk, from, to);
      if (nonZero) newBlocks[added++] = b;
    }
    if (added === 0 && !touchesHeld) return;
    const held = slab[base + this.#countAt] as number;
    if (held + added > this.#sparseMaxBlocks) {
      const slot = this.#promoteSparse(pageIndex, code);
      copyInto(this.#full.slab(slot), this.#full.start(slot) + inPage, chunk);
      return;
    }
    if (headers.isShared(header)) {
      header = this.#ownHeader(pageIndex, header);
      slab = headers.slab(header);
      base = headers.start(header);
    }
    let count = held;
    for (let i = 0; i < added; i++) {
      const b = newBlocks[i] as number;
      // Blocks past the count are zeros: chunks come zeroed and blocks are never taken out.
      if ((count & ((1 << CHUNK_BLOCKS_SHIFT) - 1)) === 0) {
        writeU32At(slab, chunkNumberAt(base, count + 1), chunks.allocate(true));
      }
      slab[base + mapAt + b] = ++count;
    }
    slab[base + this.#countAt] = count;
    const end = inPage + length;
    for (let b = firstBlock; b <= lastBlock; b++) {
      const slot = slab[base + mapAt + b] as number;
      if (slot === 0) continue;
      const unit = this.#ownChunk(slab, chunkNumberAt(base, slot));
      const from = Math.max(inPage, b << shift);
      const to = Math.min(end, (b + 1) << shift);
      if (chunkWords !== undefined && to - from === blockBytes) {
        const words = chunks.words[unit >>> chunks.shift] as Int32Array;
        const target = (chunks.start(unit) + blockInChunk(slot, shift)) >> 2;
        const source = (from - inPage) >> 2;
        for (let i = 0; i < blockBytes >> 2; i++)
          words[target + i] = chunkWords[source + i] as number;
        continue;
      }
      copyBytes(
        chunk,
        from - inPage,
        chunks.slab(unit),
        chunks.start(unit) + blockInChunk(slot, shift) + from - (b << shift),
        to - from,
      );
    }
  }

  /** The header of a sparse page, moved to a unit of our own if a clone shares it. */
  #ownHeader(pageIndex: number, header: number): number {
    const headers = this.#headers;
    if (!headers.isShared(header)) return header;
    const own = headers.allocate(false);
    copyBytes(
      headers.slab(header),
      headers.start(header),
      headers.slab(own),
      headers.start(own),
      headers.unitBytes,
    );
    headers.release(header);
    this.#table.set(pageIndex, -2 - (SPARSE_CODE_BASE + own));
    return own;
  }

  /** The chunk whose number an (owned) header holds at `at`, copied first if a clone shares it. */
  #ownChunk(headerSlab: Uint8Array, at: number): number {
    const chunks = this.#chunks;
    const unit = readU32At(headerSlab, at);
    if (!chunks.isShared(unit)) return unit;
    const own = chunks.allocate(false);
    copyBytes(
      chunks.slab(unit),
      chunks.start(unit),
      chunks.slab(own),
      chunks.start(own),
      chunks.unitBytes,
    );
    chunks.release(unit);
    writeU32At(headerSlab, at, own);
    return own;
  }

  /** Frees a sparse page's chunks and header. */
  #releaseSparse(header: number): void {
    const slab = this.#headers.slab(header);
    const base = this.#headers.start(header);
    const held = slab[base + this.#countAt] as number;
    const chunkCount = (held + (1 << CHUNK_BLOCKS_SHIFT) - 1) >>> CHUNK_BLOCKS_SHIFT;
    for (let c = 0; c < chunkCount; c++) this.#chunks.release(readU32At(slab, base + (c << 2)));
    this.#headers.release(header);
  }

  /**
   * Moves a sparse page's blocks into a (zeroed) full page; returns the full slot. Also done to a
   * sparse page read whole: that is a table read whole (qcow2 reads an L2 slice on every cache
   * miss), and its blocks lie in chunks all over memory, a cache miss each, where a full page is
   * one sequential copy (3 µs against 0.7 µs per 4 KiB slice, measured).
   */
  #promoteSparse(pageIndex: number, code: number): number {
    const header = -2 - code - SPARSE_CODE_BASE;
    const slot = this.#full.allocate(true);
    const page = this.#full.slab(slot);
    const pageStart = this.#full.start(slot);
    const slab = this.#headers.slab(header);
    const base = this.#headers.start(header);
    const shift = this.#blockShift;
    const chunks = this.#chunks;
    for (let b = 0; b < this.#blocksPerPage; b++) {
      const held = slab[base + this.#mapAt + b] as number;
      if (held === 0) continue;
      const unit = readU32At(slab, chunkNumberAt(base, held));
      copyBytes(
        chunks.slab(unit),
        chunks.start(unit) + blockInChunk(held, shift),
        page,
        pageStart + (b << shift),
        this.compactBytes,
      );
    }
    this.#releaseSparse(header);
    this.#table.set(pageIndex, slot);
    return slot;
  }

  /** `n` bytes from `inPage` of a sparse page into `out` at `at`. */
  #readSparse(code: number, inPage: number, out: Uint8Array, at: number, n: number): void {
    const header = -2 - code - SPARSE_CODE_BASE;
    const slab = this.#headers.slab(header);
    const base = this.#headers.start(header);
    const chunks = this.#chunks;
    const shift = this.#blockShift;
    const blockBytes = this.compactBytes;
    const mapAt = base + this.#mapAt;
    const end = inPage + n;
    const delta = at - inPage;
    out.fill(0, at, at + n);
    const lastBlock = (end - 1) >>> shift;
    // A long aligned read (a table slice) copies whole blocks a word at a time.
    const outWords =
      n >= 256 && (inPage & 3) === 0 && ((out.byteOffset + at) & 3) === 0
        ? new Int32Array(out.buffer, out.byteOffset + at, n >> 2)
        : undefined;
    for (let b = inPage >>> shift; b <= lastBlock; b++) {
      const slot = slab[mapAt + b] as number;
      if (slot === 0) continue;
      const unit = readU32At(slab, chunkNumberAt(base, slot));
      const blockAt = chunks.start(unit) + blockInChunk(slot, shift);
      const blockStart = b << shift;
      if (outWords !== undefined && blockStart >= inPage && blockStart + blockBytes <= end) {
        const words = chunks.words[unit >>> chunks.shift] as Int32Array;
        const from = blockAt >> 2;
        const to = (blockStart - inPage) >> 2;
        for (let i = 0; i < blockBytes >> 2; i++) outWords[to + i] = words[from + i] as number;
        continue;
      }
      const from = Math.max(inPage, blockStart);
      const to = Math.min(end, blockStart + blockBytes);
      copyBytes(chunks.slab(unit), blockAt + from - blockStart, out, from + delta, to - from);
    }
  }

  /** Zeros [from, to) of a sparse page (all of it: frees it). */
  #clearInSparse(pageIndex: number, code: number, from: number, to: number): void {
    let header = -2 - code - SPARSE_CODE_BASE;
    if (from === 0 && to === this.pageBytes) {
      this.#table.delete(pageIndex);
      this.#releaseSparse(header);
      return;
    }
    const shift = this.#blockShift;
    const mapAt = this.#mapAt;
    const firstBlock = from >>> shift;
    const lastBlock = (to - 1) >>> shift;
    let slab = this.#headers.slab(header);
    let base = this.#headers.start(header);
    let touchesHeld = false;
    for (let b = firstBlock; b <= lastBlock && !touchesHeld; b++) {
      touchesHeld = slab[base + mapAt + b] !== 0;
    }
    if (!touchesHeld) return;
    if (this.#headers.isShared(header)) {
      header = this.#ownHeader(pageIndex, header);
      slab = this.#headers.slab(header);
      base = this.#headers.start(header);
    }
    const chunks = this.#chunks;
    for (let b = firstBlock; b <= lastBlock; b++) {
      const slot = slab[base + mapAt + b] as number;
      if (slot === 0) continue;
      const unit = this.#ownChunk(slab, chunkNumberAt(base, slot));
      const at = chunks.start(unit) + blockInChunk(slot, shift) - (b << shift);
      chunks
        .slab(unit)
        .fill(0, at + Math.max(from, b << shift), at + Math.min(to, (b + 1) << shift));
    }
  }

  #clearRange(startBytes: number, endBytes: number): void {
    if (endBytes <= startBytes || this.#table.size === 0 || startBytes >= this.#storedEndBytes)
      return;
    const pageBytes = this.pageBytes;
    const firstPage = Math.floor(startBytes / pageBytes);
    const lastPage = Math.floor((endBytes - 1) / pageBytes);
    // A huge range over a sparse device: visit the stored pages, not every page index.
    if (lastPage - firstPage > this.#table.size * 4) {
      const hits: number[] = [];
      this.#table.forEach((index) => {
        if (index >= firstPage && index <= lastPage) hits.push(index);
      });
      for (const index of hits) this.#clearInPage(index, startBytes, endBytes);
      return;
    }
    for (let index = firstPage; index <= lastPage; index++) {
      this.#clearInPage(index, startBytes, endBytes);
    }
  }

  #clearInPage(index: number, startBytes: number, endBytes: number): void {
    const code = this.#table.get(index);
    if (code === MISSING) return;
    const pageBytes = this.pageBytes;
    const pageStart = index * pageBytes;
    const from = Math.max(startBytes, pageStart) - pageStart;
    const to = Math.min(endBytes, pageStart + pageBytes) - pageStart;
    if (code >= 0) {
      if (from === 0 && to === pageBytes) {
        this.#table.delete(index);
        this.#full.release(code);
        return;
      }
      const slot = this.#full.isShared(code) ? this.#unshareFull(index, code, true) : code;
      const base = this.#full.start(slot);
      this.#full.slab(slot).fill(0, base + from, base + to);
      return;
    }
    if (-2 - code >= SPARSE_CODE_BASE) {
      this.#clearInSparse(index, code, from, to);
      return;
    }
    let block = (-2 - code) >>> this.#blocksPerPageShift;
    const blockInPage = (-2 - code) & ((1 << this.#blocksPerPageShift) - 1);
    const blockStart = blockInPage << this.#blockShift;
    const a = Math.max(from, blockStart);
    const b = Math.min(to, blockStart + this.compactBytes);
    if (a >= b) return;
    if (a === blockStart && b === blockStart + this.compactBytes) {
      this.#table.delete(index);
      this.#blocks.release(block);
      return;
    }
    if (this.#blocks.isShared(block)) block = this.#unshareBlock(index, block, blockInPage);
    const base = this.#blocks.start(block) - blockStart;
    this.#blocks.slab(block).fill(0, base + a, base + b);
  }
}

/** A zero page for comparisons (pages are 4 KiB unless a test asks otherwise). */
const ZERO_PAGE = new Uint8Array(DEFAULT_PAGE_BYTES);

function isAllZero(bytes: Uint8Array): boolean {
  const length = bytes.length;
  if (length === 0) return true;
  // Real data almost always has a non-zero byte near one end: skip building a view for it.
  if (bytes[0] !== 0 || bytes[length - 1] !== 0) return false;
  // memcmp against zeros: several times faster than a JS loop over a mostly-zero table page.
  if (length === DEFAULT_PAGE_BYTES) return Buffer.compare(bytes, ZERO_PAGE) === 0;
  if (length <= ZERO_BUFFER_BYTES && length >= 256) {
    return Buffer.compare(bytes, zeroBytes(length)) === 0;
  }
  if ((bytes.byteOffset & 3) === 0 && (length & 3) === 0) {
    const words = new Int32Array(bytes.buffer, bytes.byteOffset, length >> 2);
    for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < length; i++) if (bytes[i] !== 0) return false;
  return true;
}

const U64_SCRATCH = new Uint8Array(8);

function roundUp8(n: number): number {
  return (n + 7) & ~7;
}

/** A sparse page header: chunk numbers, the block count, the block map. */
function sparseHeaderBytes(maxChunks: number, blocksPerPage: number): number {
  return roundUp8(maxChunks * 4 + 4 + blocksPerPage);
}

/** Units per slab (log2) so that a slab reaches MAX_SLAB_BYTES. */
function slabShiftFor(unitBytes: number): number {
  let shift = 0;
  while (shift < 20 && (1 << shift) * unitBytes < MAX_SLAB_BYTES) shift++;
  return shift;
}

function readU32At(bytes: Uint8Array, at: number): number {
  return (
    ((bytes[at] as number) |
      ((bytes[at + 1] as number) << 8) |
      ((bytes[at + 2] as number) << 16) |
      ((bytes[at + 3] as number) << 24)) >>>
    0
  );
}

function writeU32At(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = value >>> 24;
}

/** The little-endian u64 at `at` of `bytes` as a number (two u32 halves; exact below 2^53). */
function readU64At(bytes: Uint8Array, at: number): number {
  const lo =
    ((bytes[at] as number) |
      ((bytes[at + 1] as number) << 8) |
      ((bytes[at + 2] as number) << 16) |
      ((bytes[at + 3] as number) << 24)) >>>
    0;
  const hi =
    ((bytes[at + 4] as number) |
      ((bytes[at + 5] as number) << 8) |
      ((bytes[at + 6] as number) << 16) |
      ((bytes[at + 7] as number) << 24)) >>>
    0;
  return hi === 0 ? lo : hi * 4294967296 + lo;
}

/** Index of the first non-zero byte, or -1. */
function firstNonZero(bytes: Uint8Array): number {
  const length = bytes.length;
  if (length === 0 || bytes[0] !== 0) return length === 0 ? -1 : 0;
  if (length >= 256 && isAllZero(bytes)) return -1;
  for (let i = 1; i < length; i++) if (bytes[i] !== 0) return i;
  return -1;
}

/** Index of the last non-zero byte (the caller knows there is one). */
function lastNonZero(bytes: Uint8Array): number {
  let i = bytes.length - 1;
  while (i > 0 && bytes[i] === 0) i--;
  return i;
}
