/**
 * The `flat-refcounts` variant: a cost model of the refcount layout the 2010 thread argued about,
 * one contiguous array of 8-byte refcounts (one per host cluster), kept beside the real two-level
 * refcounts (which stay authoritative, so the image remains a valid qcow2 file).
 *
 * - Every refcount change dirties the array's 512-byte sector holding the entry; dirty sectors are
 *   written before each flush of the file (a write-back cache like QEMU's refblock cache).
 * - When a cluster index falls past the array, a new region 1.5× as large is allocated at the end
 *   and the whole array is copied there (read old, write new), flushed, then the old region is
 *   freed: the copy the thread said a contiguous table forces on every growth.
 * - The region's clusters are allocated through the real refcounts and reported to the check as
 *   referenced. The lab does not persist the region's location (NOT a QEMU or qcow2 feature): each
 *   open rebuilds it on the first refcount change, a clean close frees it, and after a crash it is a
 *   leak that `check -r leaks` reclaims.
 *
 * At 64 KiB clusters a fully allocated 1 PiB disk needs 2^34 entries: a 128 GiB array.
 */
import { DISCARD_OTHER } from './constants.ts';
import type { Qcow2State } from './state.ts';

const ENTRY_BYTES = 8;
const SECTOR_BYTES = 512;

export class FlatRefcountModel {
  readonly #s: Qcow2State;
  #offset = -1;
  #capacityEntries = 0;
  #busy = false;
  /** The array's contents (what the region holds once the dirty sectors are written). */
  #values = new Float64Array(0);
  readonly #dirtySectors = new Set<number>();
  /** Growths (whole-array copies) and the bytes they copied. */
  growths = 0;
  copiedBytes = 0;
  /** Largest array size so far. */
  peakBytes = 0;

  constructor(s: Qcow2State) {
    this.#s = s;
  }

  /** The region, for the check's reference count (empty when none). */
  regions(): Array<{ offset: number; bytes: number }> {
    if (this.#offset < 0) return [];
    return [{ offset: this.#offset, bytes: this.#regionBytes(this.#capacityEntries) }];
  }

  onRefcountChange(clusterIndex: number, refcount: number): void {
    if (this.#s.readOnly) return;
    if (!this.#busy && clusterIndex >= this.#capacityEntries) this.#grow(clusterIndex + 1);
    if (clusterIndex >= this.#values.length) {
      // A change made while growing (the new region's own clusters) past the old array.
      const values = new Float64Array(Math.max(clusterIndex + 1, this.#values.length * 2));
      values.set(this.#values);
      this.#values = values;
    }
    this.#values[clusterIndex] = refcount;
    if (this.#busy) return;
    this.#dirtySectors.add(Math.floor((clusterIndex * ENTRY_BYTES) / SECTOR_BYTES));
  }

  /** Before a flush of the file: the dirty sectors of the array, in runs. */
  writeDirty(): void {
    if (this.#dirtySectors.size === 0 || this.#offset < 0) return;
    const sectors = [...this.#dirtySectors].sort((a, b) => a - b);
    this.#dirtySectors.clear();
    let start = sectors[0] as number;
    let prev = start;
    const emit = (from: number, to: number): void => {
      const bytes = new Uint8Array((to - from + 1) * SECTOR_BYTES);
      this.#fillEntries(bytes, from * (SECTOR_BYTES / ENTRY_BYTES));
      this.#s.device.write(this.#offset + from * SECTOR_BYTES, bytes, 'refblock');
    };
    for (const sector of sectors.slice(1)) {
      if (sector === prev + 1) {
        prev = sector;
        continue;
      }
      emit(start, prev);
      start = sector;
      prev = sector;
    }
    emit(start, prev);
  }

  /** Clean close: the region is freed (the lab keeps no pointer to it). */
  release(): void {
    if (this.#offset < 0 || this.#s.readOnly) return;
    this.#busy = true;
    try {
      this.#s.refcounts.freeClusters(
        this.#offset,
        this.#regionBytes(this.#capacityEntries),
        DISCARD_OTHER,
      );
    } finally {
      this.#busy = false;
    }
    this.#offset = -1;
    this.#capacityEntries = 0;
    this.#dirtySectors.clear();
  }

  #regionBytes(entries: number): number {
    const cs = this.#s.clusterSize;
    return Math.ceil((entries * ENTRY_BYTES) / cs) * cs;
  }

  #grow(neededEntries: number): void {
    const s = this.#s;
    this.#busy = true;
    try {
      const capacity = Math.max(neededEntries, Math.ceil(this.#capacityEntries * 1.5));
      // The region's own clusters must fit too: allocate, then re-check against the end.
      const bytes = this.#regionBytes(capacity + Math.ceil(capacity / 8));
      const offset = s.refcounts.allocClusters(bytes);
      const entries = Math.max(bytes / ENTRY_BYTES, Math.ceil((offset + bytes) / s.clusterSize));
      const oldOffset = this.#offset;
      const oldBytes = this.#regionBytes(this.#capacityEntries);
      if (oldOffset >= 0) {
        s.device.read(oldOffset, oldBytes, 'refblock');
        this.copiedBytes += oldBytes;
      }
      const image = new Uint8Array(bytes);
      this.#fillEntries(image, 0);
      // Written whole: the copied entries and the new ones.
      s.device.write(offset, image, 'refblock');
      s.device.flush();
      this.#offset = offset;
      this.#capacityEntries = Math.min(entries, bytes / ENTRY_BYTES);
      this.peakBytes = Math.max(this.peakBytes, bytes);
      this.growths++;
      if (oldOffset >= 0) s.refcounts.freeClusters(oldOffset, oldBytes, DISCARD_OTHER);
    } finally {
      this.#busy = false;
    }
  }

  /** Big-endian entries from `firstEntry` into `out`. */
  #fillEntries(out: Uint8Array, firstEntry: number): void {
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const n = Math.min(out.byteLength / ENTRY_BYTES, this.#values.length - firstEntry);
    for (let i = 0; i < n; i++) {
      const refcount = this.#values[firstEntry + i] as number;
      if (refcount !== 0) view.setBigUint64(i * ENTRY_BYTES, BigInt(refcount), false);
    }
  }
}
