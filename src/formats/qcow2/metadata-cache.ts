import {
  type BlockDevice,
  type IoKind,
  type WritePatch,
  writePatched,
} from '../../device/types.ts';
import { SlotIndex } from './slot-index.ts';

/** Shared by every write-back of an unchanged table (not frozen: V8 iterates those slowly). */
const NO_PATCHES: readonly WritePatch[] = [];
const EMPTY_BYTES = new Uint8Array(0);
/** Changed 8-byte ranges of a lent table whose written bytes are kept outside the arena. */
const KEPT_ENTRIES = 4;
/** #keptCount: the arena keeps the written bytes of the dirty range. */
const KEPT_IN_ARENA = 255;

/** A write description a cache refills for every write-back (devices keep none of it). */
interface ReusedWrite {
  base: 'zero' | 'unchanged';
  patches: readonly WritePatch[];
  whole: Uint8Array;
}

/** Copies bytes [from, to) of `source` to the same place in `target` (short runs byte by byte). */
function copyRange(source: Uint8Array, target: Uint8Array, from: number, to: number): void {
  if (to - from <= 32) {
    for (let i = from; i < to; i++) target[i] = source[i] as number;
  } else {
    target.set(source.subarray(from, to), from);
  }
}

/** The first `length` slots of `slots` ascending, in place: by insertion for the usual handful. */
function sortSlots(slots: Int32Array, length: number): void {
  if (length > 32) {
    slots.subarray(0, length).sort();
    return;
  }
  for (let i = 1; i < length; i++) {
    const slot = slots[i] as number;
    let j = i - 1;
    while (j >= 0 && (slots[j] as number) > slot) {
      slots[j + 1] = slots[j] as number;
      j--;
    }
    slots[j + 1] = slot;
  }
}

interface ReadsInto {
  readInto(offsetBytes: number, out: Uint8Array, kind: IoKind): void;
}

/**
 * Lends a cache the device's own pages as table slots (lent-pages.ts): a miss then costs no copy
 * and a write-back no device work, but the device shows a lent table's changes before their
 * write-back, which the cache undoes whenever anything else looks (see `returnLentIn`).
 */
export interface PageLender {
  /** The device's live view of the table at `offsetBytes`, its read counted as one; or null. */
  borrow(offsetBytes: number, lengthBytes: number, kind: IoKind): Uint8Array | null;
  /** Counts the write-back of a lent table: one write op, the device holding its bytes already. */
  wroteBack(offsetBytes: number, lengthBytes: number, kind: IoKind): void;
  /** The table at `offsetBytes` is no longer lent. */
  returned(offsetBytes: number): void;
}

/**
 * QEMU's qcow2-cache: a fixed array of table slots. Lookup probes from slot
 * `(offset / tableSize * 4) % size`; the victim is the unreferenced slot with the smallest LRU
 * counter (empty slots count 0, so the first empty slot in probe order wins); flushing writes
 * dirty slots in slot order. The slot a table lands in is observable (it orders write-back), so
 * placement follows QEMU exactly, while lookups go through a SlotIndex and victim search through an
 * LRU list and an empty-slot bitmap so neither costs O(size).
 *
 * Write-back is one host write of the whole table, as QEMU's, but described to the device by what
 * changed (`writePatched`): each slot remembers the byte range its changes since the last read or
 * write-back lie in, and whether the device holds the table's previous content there at all (a
 * table made with `zeroTable` is written on a zero base). A 64 KiB refblock with three new
 * refcounts then costs the device six bytes, not 64 KiB.
 */
export class MetadataCache {
  readonly tableBytes: number;
  readonly size: number;
  readonly kind: IoKind;
  /** Cache this one must flush before writing any entry (QEMU's c->depends). */
  depends: MetadataCache | null = null;
  /** An fdatasync is due before the next entry write (QEMU's depends_on_flush). */
  dependsOnFlush = false;

  readonly #device: BlockDevice;
  /**
   * Every slot's table, one after another (QEMU allocates its cache in one block too): the
   * per-slot views are made once, next to each other, so evicting a slot does not chase a
   * typed-array object scattered over the heap, and zeroing a slot does not touch one at all.
   * Empty until a slot first takes a table (#makeArena): an image opened only to be checked
   * never does, and the 32 MiB and 8,192 views of a full L2 cache cost such a check about a
   * tenth of its time in allocation and the garbage collections they set off.
   */
  #arena: Uint8Array = EMPTY_BYTES;
  /** Each slot's part of the arena (empty until the arena is made). */
  #arenaTables: Uint8Array[] = [];
  /** Each slot's table: its part of the arena, or a page the lender lent (empty until then too). */
  #tables: Uint8Array[] = [];
  #lender: PageLender | null = null;
  /**
   * 1: the slot's table is a lent page. The device then already shows the table's changes since
   * its last write-back; the bytes it held before them, [#dirtyFrom, #dirtyTo), wait in the
   * slot's part of the arena so that they can be put back.
   */
  readonly #lent: Uint8Array;
  /**
   * A lent table changes an entry or a few between write-backs: the written bytes of up to
   * KEPT_ENTRIES 8-byte ranges are kept here, in small arrays that stay in the CPU's cache, rather
   * than in the slot's part of the arena (a memory miss each time, and a copy of every byte
   * between the changes). #keptCount: how many, or KEPT_IN_ARENA once the arena holds the written
   * bytes of the whole dirty range instead.
   */
  readonly #keptCount: Uint8Array;
  readonly #keptAt: Int32Array;
  readonly #keptBytes: Uint8Array;
  #scratch: Uint8Array | null = null;
  readonly #offsets: Float64Array;
  readonly #refs: Int32Array;
  readonly #dirty: Uint8Array;
  /** Changed bytes since the device last held the table: [#dirtyFrom, #dirtyTo), empty if from >= to. */
  readonly #dirtyFrom: Int32Array;
  readonly #dirtyTo: Int32Array;
  /** 1: the device holds nothing of this table yet (zeroTable); write it on a zero base. */
  readonly #zeroBase: Uint8Array;
  /** Every non-zero byte of the slot's buffer lies in [#nonZeroFrom, #nonZeroTo): zeroTable clears only that. */
  readonly #nonZeroFrom: Int32Array;
  readonly #nonZeroTo: Int32Array;
  /** Slots made dirty since the last flushToOs (may repeat, or be clean again by now). */
  #dirtyList: Int32Array;
  #dirtyListLength = 0;
  /**
   * No slot in #dirtyList lies below the one before it, so a flush needs no sort. Often so: a new
   * table's slices take empty slots whose lookup indexes step by 4, or LRU victims that were
   * taken in that order.
   */
  #dirtyListAscending = true;
  readonly #readsInto: boolean;
  /** The one patch of a write-back and its description, refilled each time. */
  readonly #patch: { atBytes: number; bytes: Uint8Array } = { atBytes: 0, bytes: EMPTY_BYTES };
  readonly #onePatch: readonly WritePatch[] = [this.#patch];
  readonly #write: ReusedWrite = { base: 'zero', patches: NO_PATCHES, whole: EMPTY_BYTES };
  /** How many slots are dirty (flushes write them in slot order, scanning `#dirty`). */
  #dirtyCount = 0;
  #emptyCount: number;
  readonly #bySlotOffset: SlotIndex;
  /** size - 1 when size is a power of two (the modulo is then a mask), else -1. */
  readonly #sizeMask: number;
  /** 1 / tableBytes, exact (tables are a power of two in size): a multiply costs less than a divide. */
  readonly #perTableByte: number;
  /** Bit set: slot has LRU counter 0 (never used, or discarded). */
  readonly #emptyBits: Uint32Array;
  /** Doubly linked LRU list of used slots, oldest release first. */
  readonly #prev: Int32Array;
  readonly #next: Int32Array;
  #head = -1;
  #tail = -1;

  constructor(device: BlockDevice, size: number, tableBytes: number, kind: IoKind) {
    this.#device = device;
    this.size = size;
    this.tableBytes = tableBytes;
    this.kind = kind;
    this.#lent = new Uint8Array(size);
    this.#keptCount = new Uint8Array(size);
    this.#keptAt = new Int32Array(size * KEPT_ENTRIES);
    this.#keptBytes = new Uint8Array(size * KEPT_ENTRIES * 8);
    this.#offsets = new Float64Array(size);
    this.#refs = new Int32Array(size);
    this.#dirty = new Uint8Array(size);
    this.#dirtyFrom = new Int32Array(size).fill(tableBytes);
    this.#dirtyTo = new Int32Array(size);
    this.#zeroBase = new Uint8Array(size);
    this.#nonZeroFrom = new Int32Array(size);
    this.#nonZeroTo = new Int32Array(size);
    this.#dirtyList = new Int32Array(Math.max(16, size * 2));
    this.#bySlotOffset = new SlotIndex(size, tableBytes);
    this.#sizeMask = (size & (size - 1)) === 0 ? size - 1 : -1;
    this.#perTableByte = 1 / tableBytes;
    this.#readsInto = typeof (device as Partial<ReadsInto>).readInto === 'function';
    this.#emptyBits = new Uint32Array(Math.ceil(size / 32)).fill(0xffffffff);
    this.#emptyCount = size;
    this.#prev = new Int32Array(size).fill(-1);
    this.#next = new Int32Array(size).fill(-1);
  }

  /**
   * Allocates the arena and every slot's view of it, before the first slot takes a table: every
   * other use of a slot's table follows that (a slot is lent, zeroed, written back or given back
   * only after #get gave it a table), so the arrays are complete whenever anything reads them.
   */
  #makeArena(): void {
    const tableBytes = this.tableBytes;
    this.#arena = new Uint8Array(this.size * tableBytes);
    const arenaTables: Uint8Array[] = [];
    for (let slot = 0; slot < this.size; slot++) {
      arenaTables.push(this.#arena.subarray(slot * tableBytes, (slot + 1) * tableBytes));
    }
    this.#arenaTables = arenaTables;
    this.#tables = arenaTables.slice();
  }

  /** The table held in `slot` (valid while the caller holds a reference). */
  table(slot: number): Uint8Array {
    return this.#tables[slot] as Uint8Array;
  }

  offsetOf(slot: number): number {
    return this.#offsets[slot] as number;
  }

  /**
   * The slot is the last one released (the tail of the LRU order): a get and put of it now would
   * leave the cache exactly as it is.
   */
  isLastReleased(slot: number): boolean {
    return slot === this.#tail;
  }

  /** Slot holding `offset`, or -1 (qcow2_cache_is_table_offset). */
  lookup(offset: number): number {
    return this.#bySlotOffset.get(offset);
  }

  get(offset: number): number {
    return this.#get(offset, true);
  }

  getEmpty(offset: number): number {
    return this.#get(offset, false);
  }

  put(slot: number): void {
    const refs = (this.#refs[slot] as number) - 1;
    this.#refs[slot] = refs;
    if (refs === 0) this.#touch(slot);
  }

  /** The whole table may have changed. */
  markDirty(slot: number): void {
    this.markDirtyBytes(slot, 0, this.tableBytes);
  }

  /**
   * Bytes [fromBytes, toBytes) of the table changed (an empty range only marks the slot dirty):
   * every byte that differs from what the device holds must lie in a range passed here.
   */
  markDirtyBytes(slot: number, fromBytes: number, toBytes: number): void {
    if (fromBytes < toBytes) {
      if (this.#lent[slot] === 1) this.#keepWritten(slot, fromBytes, toBytes);
      if (fromBytes < (this.#dirtyFrom[slot] as number)) this.#dirtyFrom[slot] = fromBytes;
      if (toBytes > (this.#dirtyTo[slot] as number)) this.#dirtyTo[slot] = toBytes;
      if (fromBytes < (this.#nonZeroFrom[slot] as number)) this.#nonZeroFrom[slot] = fromBytes;
      if (toBytes > (this.#nonZeroTo[slot] as number)) this.#nonZeroTo[slot] = toBytes;
    }
    if (this.#dirty[slot]) return;
    this.#dirty[slot] = 1;
    this.#dirtyCount++;
    if (this.#dirtyListLength === this.#dirtyList.length) this.#compactDirtyList();
    const length = this.#dirtyListLength;
    if (length > 0 && slot < (this.#dirtyList[length - 1] as number))
      this.#dirtyListAscending = false;
    this.#dirtyList[length] = slot;
    this.#dirtyListLength = length + 1;
  }

  /** Keeps one entry per slot that is dirty now (slots written back by eviction drop out). */
  #compactDirtyList(): void {
    const list = this.#dirtyList;
    const seen = new Uint8Array(this.size);
    let kept = 0;
    for (let i = 0; i < this.#dirtyListLength; i++) {
      const slot = list[i] as number;
      if (!this.#dirty[slot] || seen[slot]) continue;
      seen[slot] = 1;
      list[kept++] = slot;
    }
    this.#dirtyListLength = kept;
  }

  /**
   * A lent table's bytes in [fromBytes, toBytes) are about to change: the ones not already kept
   * (outside the dirty range) go to the arena first, as the device held them.
   */
  #keepWritten(slot: number, fromBytes: number, toBytes: number): void {
    const view = this.#tables[slot] as Uint8Array;
    const count = this.#keptCount[slot] as number;
    if (count !== KEPT_IN_ARENA) {
      if (toBytes - fromBytes === 8) {
        const first = slot * KEPT_ENTRIES;
        for (let k = 0; k < count; k++) if (this.#keptAt[first + k] === fromBytes) return;
        if (count < KEPT_ENTRIES) {
          this.#keptAt[first + count] = fromBytes;
          const at = (first + count) * 8;
          for (let i = 0; i < 8; i++) this.#keptBytes[at + i] = view[fromBytes + i] as number;
          this.#keptCount[slot] = count + 1;
          return;
        }
      }
      this.#spillKept(slot);
    }
    const from = this.#dirtyFrom[slot] as number;
    const to = this.#dirtyTo[slot] as number;
    if (fromBytes >= from && toBytes <= to) return;
    const kept = this.#arenaTables[slot] as Uint8Array;
    if (from >= to) {
      copyRange(view, kept, fromBytes, toBytes);
      return;
    }
    if (fromBytes < from) copyRange(view, kept, fromBytes, from);
    if (toBytes > to) copyRange(view, kept, to, toBytes);
  }

  /** From now on the arena keeps the written bytes of the whole dirty range. */
  #spillKept(slot: number): void {
    const from = this.#dirtyFrom[slot] as number;
    const to = this.#dirtyTo[slot] as number;
    const kept = this.#arenaTables[slot] as Uint8Array;
    if (from < to) {
      copyRange(this.#tables[slot] as Uint8Array, kept, from, to);
      this.#putKeptBack(slot, kept);
    }
    this.#keptCount[slot] = KEPT_IN_ARENA;
  }

  /** Writes the kept entries' written bytes into `target`, last kept first (the first is oldest). */
  #putKeptBack(slot: number, target: Uint8Array): void {
    const first = slot * KEPT_ENTRIES;
    for (let k = (this.#keptCount[slot] as number) - 1; k >= 0; k--) {
      const to = this.#keptAt[first + k] as number;
      const at = (first + k) * 8;
      for (let i = 0; i < 8; i++) target[to + i] = this.#keptBytes[at + i] as number;
    }
  }

  /**
   * Lend this cache's slots from `lender` from now on (null: stop, giving every lent table back).
   * Callers must mark bytes dirty before they change them (markDirtyBytes), which the L2 paths do.
   */
  lendFrom(lender: PageLender | null): void {
    if (lender === null) this.returnLentIn(0, Number.POSITIVE_INFINITY);
    this.#lender = lender;
  }

  /**
   * Gives back every lent table overlapping [offsetBytes, offsetBytes + lengthBytes): the device
   * gets back the bytes it held at the last write-back and the slot keeps its own copy, as if it
   * had never been lent. Called before any other I/O touches those bytes.
   */
  returnLentIn(offsetBytes: number, lengthBytes: number): void {
    const end = offsetBytes + lengthBytes;
    const tableBytes = this.tableBytes;
    const first = Math.floor(offsetBytes / tableBytes);
    const last = Math.ceil(end / tableBytes);
    if (last - first > 64) {
      for (let slot = 0; slot < this.size; slot++) {
        if (this.#lent[slot] === 0) continue;
        const at = this.#offsets[slot] as number;
        if (at < end && at + tableBytes > offsetBytes) this.#returnLent(slot);
      }
      return;
    }
    for (let i = first; i < last; i++) {
      const slot = this.#bySlotOffset.get(i * tableBytes);
      if (slot >= 0 && this.#lent[slot] === 1) this.#returnLent(slot);
    }
  }

  /** The device gets back the bytes of the last write-back; the slot keeps the table in the arena. */
  #returnLent(slot: number): void {
    const view = this.#tables[slot] as Uint8Array;
    const own = this.#arenaTables[slot] as Uint8Array;
    const from = this.#dirtyFrom[slot] as number;
    const to = this.#dirtyTo[slot] as number;
    if (this.#keptCount[slot] !== KEPT_IN_ARENA) {
      own.set(view);
      this.#putKeptBack(slot, view);
      this.#unlend(slot);
      return;
    }
    if (from < to) {
      if (this.#scratch === null) this.#scratch = new Uint8Array(this.tableBytes);
      const changed = this.#scratch.subarray(0, to - from);
      changed.set(view.subarray(from, to));
      view.set(own.subarray(from, to), from);
      own.set(view);
      own.set(changed, from);
    } else {
      own.set(view);
    }
    this.#unlend(slot);
  }

  /** The slot's table is its part of the arena again (its content is the caller's business). */
  #unlend(slot: number): void {
    this.#tables[slot] = this.#arenaTables[slot] as Uint8Array;
    this.#lent[slot] = 0;
    this.#nonZeroFrom[slot] = 0;
    this.#nonZeroTo[slot] = this.tableBytes;
    (this.#lender as PageLender).returned(this.#offsets[slot] as number);
  }

  /** Fills the table with zeros and marks it dirty: its write-back is a zero base plus changes. */
  zeroTable(slot: number): void {
    if (this.#lent[slot] === 1) this.#returnLent(slot);
    const from = this.#nonZeroFrom[slot] as number;
    const to = this.#nonZeroTo[slot] as number;
    if (from < to) {
      const base = slot * this.tableBytes;
      // An entry or two (a table that had one change) costs less stored by hand than by `fill`.
      if (to - from <= 32) for (let i = base + from; i < base + to; i++) this.#arena[i] = 0;
      else this.#arena.fill(0, base + from, base + to);
    }
    this.#nonZeroFrom[slot] = this.tableBytes;
    this.#nonZeroTo[slot] = 0;
    this.#zeroBase[slot] = 1;
    this.#dirtyFrom[slot] = this.tableBytes;
    this.#dirtyTo[slot] = 0;
    this.markDirtyBytes(slot, 0, 0);
  }

  isDirty(slot: number): boolean {
    return this.#dirty[slot] === 1;
  }

  hasDirty(): boolean {
    return this.#dirtyCount > 0;
  }

  /** qcow2_cache_discard: forget the table without writing it (its cluster was freed). */
  discard(slot: number): void {
    if (this.#lent[slot] === 1) {
      // The changes are dropped: the device gets back what it held at the last write-back.
      const from = this.#dirtyFrom[slot] as number;
      const to = this.#dirtyTo[slot] as number;
      const own = this.#arenaTables[slot] as Uint8Array;
      if (this.#keptCount[slot] !== KEPT_IN_ARENA)
        this.#putKeptBack(slot, this.#tables[slot] as Uint8Array);
      else if (from < to) (this.#tables[slot] as Uint8Array).set(own.subarray(from, to), from);
      this.#unlend(slot);
    }
    this.#bySlotOffset.delete(slot);
    this.#offsets[slot] = 0;
    if (this.#dirty[slot]) {
      this.#dirty[slot] = 0;
      this.#dirtyCount--;
    }
    this.#clean(slot);
    this.#unlink(slot);
    this.#setEmpty(slot, true);
  }

  /** Write every dirty entry in slot order (qcow2_cache_write / flush_to_os). */
  flushToOs(): void {
    if (this.#dirtyCount === 0) {
      this.#dirtyListLength = 0;
      this.#dirtyListAscending = true;
      return;
    }
    // The slots dirty now, in slot order (writing them back dirties nothing new).
    const listed = this.#dirtyList;
    const count = this.#dirtyListLength;
    if (!this.#dirtyListAscending) sortSlots(listed, count);
    this.#dirtyListLength = 0;
    // What stays listed below is re-added in slot order, at or before where it was read.
    this.#dirtyListAscending = true;
    let previous = -1;
    for (let i = 0; i < count; i++) {
      const slot = listed[i] as number;
      if (slot === previous) continue;
      previous = slot;
      if (this.#dirty[slot] === 0) continue;
      this.entryFlush(slot);
      // A slot entryFlush leaves dirty (no offset) stays listed for the next flush.
      if (this.#dirty[slot]) this.#dirtyList[this.#dirtyListLength++] = slot;
    }
  }

  /** qcow2_cache_flush: write back, then fdatasync (elided by the device when nothing changed). */
  flush(): void {
    this.flushToOs();
    this.#device.flush();
  }

  /** qcow2_cache_set_dependency. */
  setDependency(dependency: MetadataCache): void {
    if (dependency.depends) dependency.flushDependency();
    if (this.depends && this.depends !== dependency) this.flushDependency();
    this.depends = dependency;
  }

  flushDependency(): void {
    (this.depends as MetadataCache).flush();
    this.depends = null;
    this.dependsOnFlush = false;
  }

  entryFlush(slot: number): void {
    if (!this.#dirty[slot] || this.#offsets[slot] === 0) return;
    if (this.depends) {
      this.flushDependency();
    } else if (this.dependsOnFlush) {
      this.#device.flush();
      this.dependsOnFlush = false;
    }
    if (this.#lent[slot] === 1) {
      (this.#lender as PageLender).wroteBack(
        this.#offsets[slot] as number,
        this.tableBytes,
        this.kind,
      );
      this.#dirty[slot] = 0;
      this.#dirtyCount--;
      this.#clean(slot);
      return;
    }
    const from = this.#dirtyFrom[slot] as number;
    const to = this.#dirtyTo[slot] as number;
    const table = this.table(slot);
    const write = this.#write;
    write.base = this.#zeroBase[slot] ? 'zero' : 'unchanged';
    if (from < to) {
      this.#patch.atBytes = from;
      this.#patch.bytes = table.subarray(from, to);
      write.patches = this.#onePatch;
    } else {
      write.patches = NO_PATCHES;
    }
    write.whole = table;
    writePatched(this.#device, this.#offsets[slot] as number, this.tableBytes, write, this.kind);
    this.#patch.bytes = EMPTY_BYTES;
    write.whole = EMPTY_BYTES;
    this.#dirty[slot] = 0;
    this.#dirtyCount--;
    this.#clean(slot);
  }

  /** The device holds the table as it is in the slot. */
  #clean(slot: number): void {
    this.#keptCount[slot] = 0;
    this.#zeroBase[slot] = 0;
    this.#dirtyFrom[slot] = this.tableBytes;
    this.#dirtyTo[slot] = 0;
  }

  /** Drops every table (used after a rebuild rewrote metadata behind the cache). */
  invalidateAll(): void {
    for (let slot = 0; slot < this.size; slot++) {
      if (this.#offsets[slot] !== 0) this.discard(slot);
    }
    this.#dirty.fill(0);
    this.#dirtyCount = 0;
  }

  #get(offset: number, readFromDisk: boolean): number {
    let slot = this.#bySlotOffset.get(offset);
    if (slot >= 0) {
      // A table about to be filled by the caller without marking first: it must be our own.
      if (!readFromDisk && this.#lent[slot] === 1) this.#returnLent(slot);
    } else {
      if (this.#tables.length === 0) this.#makeArena();
      slot = this.#victim(this.#lookupIndex(offset));
      if (slot < 0) throw new Error('qcow2 metadata cache: every entry is in use');
      if (this.#dirty[slot]) this.entryFlush(slot);
      if (this.#lent[slot] === 1) this.#unlend(slot);
      this.#bySlotOffset.delete(slot);
      this.#offsets[slot] = 0;
      const lent =
        readFromDisk && this.#lender !== null
          ? this.#lender.borrow(offset, this.tableBytes, this.kind)
          : null;
      if (lent !== null) {
        this.#tables[slot] = lent;
        this.#lent[slot] = 1;
        this.#clean(slot);
      } else if (readFromDisk) {
        const table = this.#tables[slot] as Uint8Array;
        if (this.#readsInto)
          (this.#device as BlockDevice & ReadsInto).readInto(offset, table, this.kind);
        else table.set(this.#device.read(offset, this.tableBytes, this.kind));
        this.#clean(slot);
        this.#nonZeroFrom[slot] = 0;
        this.#nonZeroTo[slot] = this.tableBytes;
      } else {
        // Until the caller fills it (zeroTable, or a copy it marks dirty), the device holds
        // nothing the slot can vouch for.
        this.#zeroBase[slot] = 1;
        this.#dirtyFrom[slot] = 0;
        this.#dirtyTo[slot] = this.tableBytes;
      }
      this.#offsets[slot] = offset;
      this.#bySlotOffset.set(offset, slot);
      // A fresh entry keeps its old LRU counter until released; QEMU never resets it here.
    }
    this.#refs[slot] = (this.#refs[slot] as number) + 1;
    return slot;
  }

  /**
   * QEMU's `(offset / table_size * 4) % size`, in int32 arithmetic while the product fits (a
   * double modulo is a libc call, paid on every miss and every new table).
   */
  #lookupIndex(offset: number): number {
    const table = offset * this.#perTableByte;
    if (table < 0x20000000) {
      const times4 = (table | 0) * 4;
      return this.#sizeMask >= 0 ? times4 & this.#sizeMask : times4 % this.size;
    }
    return (Math.floor(table) * 4) % this.size;
  }

  #victim(lookupIndex: number): number {
    if (this.#emptyCount > 0) {
      const empty = this.#firstEmptyFrom(lookupIndex);
      if (empty >= 0) return empty;
    }
    for (let slot = this.#head; slot >= 0; slot = this.#next[slot] as number) {
      if (this.#refs[slot] === 0) return slot;
    }
    return -1;
  }

  #firstEmptyFrom(start: number): number {
    const bits = this.#emptyBits;
    const words = bits.length;
    const firstWord = start >>> 5;
    let word = (bits[firstWord] as number) & (0xffffffff << (start & 31));
    let w = firstWord;
    for (let n = 0; n <= words; n++) {
      while (word !== 0) {
        const bit = 31 - Math.clz32(word & -word);
        const slot = w * 32 + bit;
        if (slot < this.size && this.#refs[slot] === 0) return slot;
        word &= word - 1;
      }
      w = w + 1 === words ? 0 : w + 1;
      word = bits[w] as number;
      if (w === firstWord) word &= ~(0xffffffff << (start & 31)) >>> 0;
    }
    return -1;
  }

  #setEmpty(slot: number, empty: boolean): void {
    const w = slot >>> 5;
    const mask = 1 << (slot & 31);
    const was = ((this.#emptyBits[w] as number) & mask) !== 0;
    if (was !== empty) this.#emptyCount += empty ? 1 : -1;
    this.#emptyBits[w] = empty
      ? (this.#emptyBits[w] as number) | mask
      : (this.#emptyBits[w] as number) & ~mask;
  }

  /** Release bumps the LRU counter: move to the tail of the list. */
  #touch(slot: number): void {
    this.#unlink(slot);
    this.#setEmpty(slot, false);
    this.#prev[slot] = this.#tail;
    this.#next[slot] = -1;
    if (this.#tail >= 0) this.#next[this.#tail] = slot;
    else this.#head = slot;
    this.#tail = slot;
  }

  #unlink(slot: number): void {
    const p = this.#prev[slot] as number;
    const n = this.#next[slot] as number;
    const linked = p >= 0 || n >= 0 || this.#head === slot;
    if (!linked) return;
    if (p >= 0) this.#next[p] = n;
    else this.#head = n;
    if (n >= 0) this.#prev[n] = p;
    else this.#tail = p;
    this.#prev[slot] = -1;
    this.#next[slot] = -1;
  }
}
