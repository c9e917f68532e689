import {
  type IoKind,
  isZeroBufferView,
  materializePatchedWrite,
  type PatchedWrite,
  type PatchWritableDevice,
  ZERO_BUFFER,
} from './types.ts';

const DEFAULT_PAGE_BYTES = 4096;

/**
 * Set under the test suite: a patched write that carries its whole content is checked against
 * what the device would hold after it, so every engine test also proves the "unchanged" claims
 * its caches make.
 */
const VERIFY_PATCHED_WRITES = process.env.QEDLAB_VERIFY_PATCHED_WRITES === '1';

export interface MemoryDeviceOptions {
  /** Allocation granule; memory use is (pages touched by non-zero writes) × pageBytes. */
  pageBytes?: number;
  /**
   * `store` keeps guest data like any other bytes. `drop` keeps only metadata: writes of kind
   * `data` and `zero-fill` extend the size but store nothing and read back as zeros. That is how a
   * 1 PiB image taking a million allocating writes fits in memory: the simulation needs the
   * metadata, never the guest's bytes.
   */
  dataMode?: 'store' | 'drop';
}

/**
 * Pages live in slabs (one ArrayBuffer holds up to 2,048 pages) and are addressed by a slot number
 * `slab << SLAB_SHIFT | pageInSlab`. One backing store per page would make V8 account and
 * collect a million external buffers; slabs and a typed-array hash table keep the heap free of
 * per-page objects, which is what makes millions of writes a second possible.
 *
 * Slabs grow to 8 MiB, so that malloc can back most of one with transparent huge pages (glibc's
 * `glibc.malloc.hugetlb=1`; bench:perf sets it): a random write over hundreds of MiB of pages
 * then costs far fewer TLB misses and page faults. Once a device has been cloned, its slabs stay
 * at 1 MiB: each clone leaves both sides a partly used slab they may no longer fill.
 */
const SLAB_SHIFT = 11;
const SLAB_MASK = (1 << SLAB_SHIFT) - 1;
const MAX_SLAB_BYTES = 1 << 23;
const MAX_SLAB_BYTES_AFTER_CLONE = 1 << 20;
/** Slots are non-negative int32s. */
const MAX_SLABS = 2 ** (31 - SLAB_SHIFT);
const FIRST_SLAB_PAGES = 4;

/**
 * A sparse in-memory device: pages are allocated on the first non-zero write, so a 1 PiB device
 * costs only what was written. All-zero page writes store nothing (or free the page).
 *
 * `clone()` is copy-on-write: the copy shares the pages that exist at the time and each side
 * copies a page when it first changes it, so crash exploration can take a clone per state.
 */
export class MemoryDevice implements PatchWritableDevice {
  readonly pageBytes: number;
  readonly dataMode: 'store' | 'drop';
  #table = new PageTable();
  #slabs: Uint8Array[] = [];
  /** Slabs below this index may be shared with a clone: never written in place nor reused. */
  #firstOwnedSlab = 0;
  #allocSlab = -1;
  #allocNext = 0;
  #allocLimit = 0;
  #ownSlabCount = 0;
  #freeSlots: number[] = [];
  #sizeBytes = 0;
  /**
   * No page at or past this offset has ever been stored: a clear (dropped data write, zero range)
   * that starts here touches nothing. Appending formats write new data clusters past every table,
   * so in drop mode most data writes cost no page lookups at all.
   */
  #storedEndBytes = 0;
  #maxSlabBytes = MAX_SLAB_BYTES;

  constructor(options: MemoryDeviceOptions = {}) {
    this.pageBytes = options.pageBytes ?? DEFAULT_PAGE_BYTES;
    if (this.pageBytes <= 0 || (this.pageBytes & (this.pageBytes - 1)) !== 0) {
      throw new Error(`page size must be a power of two, got ${this.pageBytes}`);
    }
    this.dataMode = options.dataMode ?? 'store';
  }

  size(): number {
    return this.#sizeBytes;
  }

  /** Bytes of page memory held by live pages (the device's memory cost, excluding the index). */
  storedBytes(): number {
    return this.#table.size * this.pageBytes;
  }

  /** Number of pages holding data. */
  storedPages(): number {
    return this.#table.size;
  }

  read(offsetBytes: number, lengthBytes: number, _kind?: IoKind): Uint8Array {
    // readInto writes every byte, so the buffer need not be zeroed first (zeroing fresh memory
    // costs as much as the copy). A plain Uint8Array over its own ArrayBuffer, offset 0: callers
    // may wrap `.buffer` in a DataView.
    const buffer = Buffer.allocUnsafeSlow(lengthBytes);
    const out = new Uint8Array(buffer.buffer, buffer.byteOffset, lengthBytes);
    this.readInto(offsetBytes, out);
    return out;
  }

  /** Copies the bytes at `offsetBytes` into `out` (zeros where nothing was written). */
  readInto(offsetBytes: number, out: Uint8Array): void {
    const pageBytes = this.pageBytes;
    const length = out.length;
    let done = 0;
    while (done < length) {
      const pos = offsetBytes + done;
      const pageIndex = Math.floor(pos / pageBytes);
      const inPage = pos - pageIndex * pageBytes;
      const n = Math.min(pageBytes - inPage, length - done);
      const slot = this.#table.get(pageIndex);
      if (slot >= 0) {
        const start = (slot & SLAB_MASK) * pageBytes + inPage;
        out.set((this.#slabs[slot >>> SLAB_SHIFT] as Uint8Array).subarray(start, start + n), done);
      } else {
        out.fill(0, done, done + n);
      }
      done += n;
    }
  }

  write(offsetBytes: number, data: Uint8Array, kind?: IoKind): void {
    const length = data.length;
    const end = offsetBytes + length;
    if (end > this.#sizeBytes) this.#sizeBytes = end;
    if (this.dataMode === 'drop' && (kind === 'data' || kind === 'zero-fill')) {
      // Dropped bytes read back as zeros, even where metadata lived before.
      this.#clearRange(offsetBytes, end);
      return;
    }
    const knownZero = isZeroBufferView(data);
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
    for (const patch of write.patches) {
      if (patch.atBytes < 0 || patch.atBytes + patch.bytes.length > lengthBytes) {
        throw new Error(
          `patched write: patch at ${patch.atBytes} (+${patch.bytes.length}) outside ${lengthBytes} bytes`,
        );
      }
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
    for (const patch of write.patches) this.write(offsetBytes + patch.atBytes, patch.bytes, kind);
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
    const end = offsetBytes + lengthBytes;
    if (end > this.#sizeBytes) this.#sizeBytes = end;
    this.#clearRange(offsetBytes, end);
  }

  flush(): void {}

  truncate(sizeBytes: number): void {
    if (sizeBytes < this.#sizeBytes) this.#clearRange(sizeBytes, this.#sizeBytes);
    this.#sizeBytes = sizeBytes;
  }

  /**
   * An independent copy. Pages are shared copy-on-write: O(pages) for the index, no page bytes
   * copied until one side changes a page.
   */
  clone(): MemoryDevice {
    const copy = new MemoryDevice({ pageBytes: this.pageBytes, dataMode: this.dataMode });
    copy.#table = this.#table.clone();
    copy.#slabs = this.#slabs.slice();
    copy.#sizeBytes = this.#sizeBytes;
    copy.#storedEndBytes = this.#storedEndBytes;
    copy.#maxSlabBytes = MAX_SLAB_BYTES_AFTER_CLONE;
    this.#maxSlabBytes = MAX_SLAB_BYTES_AFTER_CLONE;
    copy.#firstOwnedSlab = this.#slabs.length;
    // From now on neither side may write into, or reuse a slot of, the slabs they share.
    this.#firstOwnedSlab = this.#slabs.length;
    this.#allocSlab = -1;
    this.#allocNext = 0;
    this.#allocLimit = 0;
    this.#freeSlots = [];
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
    let slot = this.#table.get(pageIndex);
    const full = chunk.length === pageBytes;
    if (slot < 0) {
      if (knownZero || isAllZero(chunk)) return;
      slot = this.#allocate(!full);
      this.#table.set(pageIndex, slot);
      const pageEnd = (pageIndex + 1) * pageBytes;
      if (pageEnd > this.#storedEndBytes) this.#storedEndBytes = pageEnd;
    } else if (full && (knownZero || isAllZero(chunk))) {
      this.#table.delete(pageIndex);
      this.#release(slot);
      return;
    } else if (slot >>> SLAB_SHIFT < this.#firstOwnedSlab) {
      slot = this.#unshare(pageIndex, slot, !full);
    }
    (this.#slabs[slot >>> SLAB_SHIFT] as Uint8Array).set(
      chunk,
      (slot & SLAB_MASK) * pageBytes + inPage,
    );
  }

  /** A slot for a new page; zeroed when the caller will not overwrite all of it. */
  #allocate(zeroed: boolean): number {
    const reused = this.#freeSlots.pop();
    if (reused !== undefined) {
      if (zeroed) {
        const start = (reused & SLAB_MASK) * this.pageBytes;
        (this.#slabs[reused >>> SLAB_SHIFT] as Uint8Array).fill(0, start, start + this.pageBytes);
      }
      return reused;
    }
    if (this.#allocNext === this.#allocLimit) {
      const maxPages = Math.max(1, Math.min(SLAB_MASK + 1, this.#maxSlabBytes / this.pageBytes));
      const pages = Math.min(maxPages, FIRST_SLAB_PAGES << Math.min(this.#ownSlabCount, 16));
      if (this.#slabs.length >= MAX_SLABS) throw new Error('MemoryDevice: too many slabs');
      this.#allocSlab = this.#slabs.length;
      this.#slabs.push(new Uint8Array(pages * this.pageBytes));
      this.#ownSlabCount++;
      this.#allocNext = 0;
      this.#allocLimit = pages;
    }
    return (this.#allocSlab << SLAB_SHIFT) | this.#allocNext++;
  }

  #release(slot: number): void {
    if (slot >>> SLAB_SHIFT >= this.#firstOwnedSlab) this.#freeSlots.push(slot);
  }

  /** Moves a shared page to a slot of our own (copying its bytes unless they will be overwritten). */
  #unshare(pageIndex: number, sharedSlot: number, copyBytes: boolean): number {
    const slot = this.#allocate(false);
    if (copyBytes) {
      const pageBytes = this.pageBytes;
      const from = (sharedSlot & SLAB_MASK) * pageBytes;
      (this.#slabs[slot >>> SLAB_SHIFT] as Uint8Array).set(
        (this.#slabs[sharedSlot >>> SLAB_SHIFT] as Uint8Array).subarray(from, from + pageBytes),
        (slot & SLAB_MASK) * pageBytes,
      );
    }
    this.#table.set(pageIndex, slot);
    return slot;
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
    let slot = this.#table.get(index);
    if (slot < 0) return;
    const pageBytes = this.pageBytes;
    const pageStart = index * pageBytes;
    const from = Math.max(startBytes, pageStart) - pageStart;
    const to = Math.min(endBytes, pageStart + pageBytes) - pageStart;
    if (from === 0 && to === pageBytes) {
      this.#table.delete(index);
      this.#release(slot);
      return;
    }
    if (slot >>> SLAB_SHIFT < this.#firstOwnedSlab) slot = this.#unshare(index, slot, true);
    const base = (slot & SLAB_MASK) * pageBytes;
    (this.#slabs[slot >>> SLAB_SHIFT] as Uint8Array).fill(0, base + from, base + to);
  }
}

/** A zero page for comparisons (pages are 4 KiB unless a test asks otherwise). */
const ZERO_PAGE = ZERO_BUFFER.subarray(0, DEFAULT_PAGE_BYTES);

function isAllZero(bytes: Uint8Array): boolean {
  const length = bytes.length;
  if (length === 0) return true;
  // Real data almost always has a non-zero byte near one end: skip building a view for it.
  if (bytes[0] !== 0 || bytes[length - 1] !== 0) return false;
  // memcmp against zeros: several times faster than a JS loop over a mostly-zero table page.
  if (length === DEFAULT_PAGE_BYTES) return Buffer.compare(bytes, ZERO_PAGE) === 0;
  if (length <= ZERO_BUFFER.length && length >= 256) {
    return Buffer.compare(bytes, ZERO_BUFFER.subarray(0, length)) === 0;
  }
  if ((bytes.byteOffset & 3) === 0 && (length & 3) === 0) {
    const words = new Int32Array(bytes.buffer, bytes.byteOffset, length >> 2);
    for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < length; i++) if (bytes[i] !== 0) return false;
  return true;
}

const EMPTY_KEY = -1;

/**
 * Open-addressing hash table (linear probing, backward-shift deletion) from page index to slot,
 * in typed arrays: no per-entry heap objects, and page indexes past 2^31 (offsets beyond 8 TiB
 * at 4 KiB pages) cost nothing extra.
 */
class PageTable {
  keys: Float64Array;
  values: Int32Array;
  mask: number;
  size = 0;

  constructor(capacity = 64) {
    this.keys = new Float64Array(capacity).fill(EMPTY_KEY);
    this.values = new Int32Array(capacity);
    this.mask = capacity - 1;
  }

  clone(): PageTable {
    const copy = new PageTable(1);
    copy.keys = this.keys.slice();
    copy.values = this.values.slice();
    copy.mask = this.mask;
    copy.size = this.size;
    return copy;
  }

  /** Slot of `key`, or -1. */
  get(key: number): number {
    const keys = this.keys;
    const mask = this.mask;
    let i = hashIndex(key, mask);
    for (;;) {
      const k = keys[i];
      if (k === key) return this.values[i] as number;
      if (k === EMPTY_KEY) return -1;
      i = (i + 1) & mask;
    }
  }

  set(key: number, value: number): void {
    const keys = this.keys;
    const mask = this.mask;
    let i = hashIndex(key, mask);
    for (;;) {
      const k = keys[i];
      if (k === key) {
        this.values[i] = value;
        return;
      }
      if (k === EMPTY_KEY) break;
      i = (i + 1) & mask;
    }
    keys[i] = key;
    this.values[i] = value;
    this.size++;
    if (this.size * 4 > (mask + 1) * 3) this.#grow();
  }

  delete(key: number): void {
    const keys = this.keys;
    const values = this.values;
    const mask = this.mask;
    let i = hashIndex(key, mask);
    for (;;) {
      const k = keys[i];
      if (k === key) break;
      if (k === EMPTY_KEY) return;
      i = (i + 1) & mask;
    }
    // Backward-shift: pull later entries of the probe run into the hole when their home allows.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const k = keys[j] as number;
      if (k === EMPTY_KEY) break;
      const home = hashIndex(k, mask);
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      keys[i] = k;
      values[i] = values[j] as number;
      i = j;
    }
    keys[i] = EMPTY_KEY;
    this.size--;
  }

  forEach(callback: (key: number, value: number) => void): void {
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as number;
      if (k !== EMPTY_KEY) callback(k, this.values[i] as number);
    }
  }

  #grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const capacity = oldKeys.length * 2;
    this.keys = new Float64Array(capacity).fill(EMPTY_KEY);
    this.values = new Int32Array(capacity);
    this.mask = capacity - 1;
    this.size = 0;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i] as number;
      if (k !== EMPTY_KEY) this.set(k, oldValues[i] as number);
    }
  }
}

function hashIndex(key: number, mask: number): number {
  const lo = key >>> 0;
  const hi = (key / 4294967296) >>> 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & mask;
}
