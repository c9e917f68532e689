/**
 * Free-cluster reuse for the QED `freelist` and `bitmap` design variants (issue 6). QEMU's QED
 * never reuses a cluster: it appends, and a discard changes nothing. These variants let a discard
 * free whole clusters (L2 entry cleared, then a flush: "the sync in the UNMAP path", so no L2
 * entry on disk can still point at a cluster the allocator hands out) and let allocation take
 * freed clusters before appending.
 *
 * On-disk extension (a lab extension, NOT part of the QED spec or QEMU):
 * - autoclear feature bits: 1 = freelist valid, 2 = bitmap valid. QEMU clears unknown autoclear
 *   bits on a writable open, which is exactly "this extension is stale now".
 * - header sector 0, bytes 448..479 (so backing file names must fit in 384 bytes):
 *   u64 freelist head (byte offset of the first chain cluster, 0 = empty list),
 *   u64 bitmap offset, u64 clusters the bitmap covers, u64 bitmap region bytes.
 * - freelist chain cluster: u64 next_cluster (byte offset, 0 = end), u64 num_entries,
 *   u64 entry[num_entries] (byte offsets of free clusters). The chain lives in free clusters
 *   that are themselves listed (the seed message: "a cluster that also happens to be a free'd
 *   entry").
 * - bitmap: one bit per cluster of the file (LSB first), 1 = in use; clusters past the covered
 *   count are in use.
 *
 * freelist: the bit is cleared on disk at the first change after a sync and set again at the sync
 * (chain written, flush, header); taking a listed cluster first makes the clear durable; changes
 * are written to the chain on demand (after every discard) while the bit is clear.
 * bitmap: non-authoritative. It is trusted only when NEED_CHECK is clear on open; otherwise the
 * open's scan of L1/L2 rebuilds it. It is written before each sync; reusing a freed cluster makes
 * NEED_CHECK durable first, so a crash after reuse always rescans.
 */

import type { CheckResult } from '../types.ts';
import { ClusterKind, findCluster, newClusterRun } from './cluster.ts';
import { QED_CLUSTER_UNALLOCATED, QED_CLUSTER_ZERO_MARKER, SECTOR_BYTES } from './constants.ts';
import { serializeQedHeaderInto } from './header.ts';
import type { QedState } from './state.ts';
import { writeTableSectors } from './table.ts';

export const QED_AF_FREELIST = 1n;
export const QED_AF_BITMAP = 2n;
export const QED_EXTENSION_OFFSET = 448;
/** Longest backing file name that leaves the extension fields alone. */
export const QED_EXTENSION_MAX_BACKING_NAME = QED_EXTENSION_OFFSET - 64;
const CHAIN_HEADER_BYTES = 16;

export type FreeSpaceKind = 'freelist' | 'bitmap';

export class QedFreeSpace {
  readonly kind: FreeSpaceKind;
  readonly #state: QedState;
  /** Free cluster indices (each a whole cluster, past the header, below the end of file). */
  readonly #free = new Set<number>();
  /** The free set differs from what the on-disk structure says. */
  #changedSinceSync = false;
  /** freelist: the header bit is clear on disk and that write was flushed. */
  #clearDurable = false;
  /** freelist: the chain on disk lists the current free set. */
  #chainCurrent = false;
  /** freelist: what each chain cluster last got (skip identical rewrites). */
  #chainWritten = new Map<number, Uint8Array>();
  /** bitmap: region on disk and its size. */
  #bitmapOffsetBytes = 0;
  #bitmapRegionBytes = 0;
  #bitmapLast: Uint8Array = new Uint8Array(0);
  /** Reuses of freed clusters and clusters freed by discard (for reports and tests). */
  reusedClusters = 0;
  freedClusters = 0;
  /** Opens that had to rebuild the free set by a scan. */
  rebuiltByScan = false;

  constructor(state: QedState, kind: FreeSpaceKind) {
    this.#state = state;
    this.kind = kind;
  }

  get bit(): bigint {
    return this.kind === 'freelist' ? QED_AF_FREELIST : QED_AF_BITMAP;
  }

  get freeClusters(): number {
    return this.#free.size;
  }

  /** True when the on-disk structure was loaded (the open needs no scan for free space). */
  load(): boolean {
    const state = this.#state;
    if ((state.header.autoclearFeatures & this.bit) === 0n || state.needCheck) return false;
    const ext = readExtension(state);
    const cs = state.clusterSizeBytes;
    const nclusters = Math.floor(state.fileSizeBytes / cs);
    const first = state.headerSizeClusters;
    const loaded: number[] = [];
    if (this.kind === 'freelist') {
      let next = ext.freelistHead;
      const seen = new Set<number>();
      while (next !== 0) {
        const c = next / cs;
        if (!Number.isInteger(c) || c < first || c >= nclusters || seen.has(c)) return false;
        seen.add(c);
        const bytes = state.device.read(next, cs, 'freelist');
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
        next = Number(view.getBigUint64(0, true));
        const count = Number(view.getBigUint64(8, true));
        if (count > (cs - CHAIN_HEADER_BYTES) / 8) return false;
        for (let i = 0; i < count; i++) {
          const o = Number(view.getBigUint64(CHAIN_HEADER_BYTES + i * 8, true));
          const e = o / cs;
          if (!Number.isInteger(e) || e < first || e >= nclusters) return false;
          loaded.push(e);
        }
      }
      this.#chainCurrent = true;
    } else {
      const covered = ext.bitmapClusters;
      const regionBytes = ext.bitmapRegionBytes;
      if (
        ext.bitmapOffset % cs !== 0 ||
        ext.bitmapOffset < first * cs ||
        ext.bitmapOffset + regionBytes > nclusters * cs ||
        Math.ceil(covered / 8) > regionBytes
      ) {
        return false;
      }
      const bits = state.device.read(ext.bitmapOffset, Math.ceil(covered / 8), 'bitmap');
      for (let c = first; c < Math.min(covered, nclusters); c++) {
        if (!((bits[c >>> 3] as number) & (1 << (c & 7)))) loaded.push(c);
      }
      this.#bitmapOffsetBytes = ext.bitmapOffset;
      this.#bitmapRegionBytes = regionBytes;
      this.#bitmapLast = new Uint8Array(bits);
    }
    for (const c of loaded) this.#free.add(c);
    return true;
  }

  /** Allocation: `n` contiguous free clusters (lowest first), or -1 to append. */
  take(n: number): number {
    if (this.#free.size < n || n <= 0) return -1;
    const sorted = [...this.#free].sort((a, b) => a - b);
    let start = -1;
    for (let i = 0; i + n <= sorted.length; i++) {
      if ((sorted[i + n - 1] as number) - (sorted[i] as number) === n - 1) {
        start = sorted[i] as number;
        break;
      }
    }
    if (start < 0) return -1;
    this.#beforeReuse();
    for (let c = start; c < start + n; c++) {
      this.#free.delete(c);
      this.#chainWritten.delete(c);
    }
    this.#changedSinceSync = true;
    this.#chainCurrent = false;
    this.reusedClusters += n;
    return start * this.#state.clusterSizeBytes;
  }

  /**
   * A guest discard: whole clusters mapped by the range lose their L2 entry (zero marker with a
   * backing file, so the backing data does not show through), the touched L2 sectors are written,
   * the UNMAP sync, then the clusters join the free set (and, for the freelist, the chain on disk).
   */
  discard(offsetBytes: number, lengthBytes: number): void {
    const state = this.#state;
    const cs = state.clusterSizeBytes;
    let pos = Math.ceil(offsetBytes / cs) * cs;
    const end = Math.floor((offsetBytes + lengthBytes) / cs) * cs;
    const run = newClusterRun();
    const freed: number[] = [];
    const marker = state.backing === undefined ? QED_CLUSTER_UNALLOCATED : QED_CLUSTER_ZERO_MARKER;
    while (pos < end) {
      findCluster(state, pos, end - pos, run);
      const n = run.lengthBytes / cs;
      if (run.kind === ClusterKind.Found && run.table !== undefined) {
        const table = run.table;
        const first = run.hostOffsetBytes / cs;
        const footprint = table.footprintBytes;
        for (let i = 0; i < n; i++) {
          table.set(run.l2Index + i, marker);
          freed.push(first + i);
        }
        const l2Offset = state.l1Table.get(Math.floor(pos / state.l2CoverageBytes));
        // A device-backed table took its own copy to change: the shadow accounts for it.
        if (table.footprintBytes !== footprint) {
          state.tableShadow.resized(l2Offset / cs, table, footprint);
        }
        writeTableSectors(state.device, l2Offset, table, run.l2Index, n, 'l2');
      }
      pos += run.lengthBytes;
    }
    if (freed.length === 0) return;
    // The UNMAP sync: the cleared entries are on disk before any of these clusters is handed out.
    state.device.flush();
    for (const c of freed) this.#free.add(c);
    this.freedClusters += freed.length;
    this.#changedSinceSync = true;
    if (this.kind === 'freelist') {
      this.#clearBitOnDisk();
      this.#writeChain();
    }
  }

  /** Right before a sync (guest flush, need-check timer, close): make the on-disk copy current. */
  beforeSync(): void {
    const state = this.#state;
    if (state.readOnly) return;
    const valid = (state.header.autoclearFeatures & this.bit) !== 0n;
    if (!this.#changedSinceSync && valid) return;
    if (this.kind === 'freelist') {
      if (!this.#chainCurrent) this.#writeChain();
      state.device.flush();
      this.#writeExtensionHeader(true);
      this.#clearDurable = false;
    } else {
      const regionChanged = this.#writeBitmap();
      if (regionChanged || !valid) {
        state.device.flush();
        this.#writeExtensionHeader(true);
      }
    }
    this.#changedSinceSync = false;
  }

  /** Marks the clusters the extension owns (the bitmap region) in a check's used-map. */
  markOwned(mark: (offsetBytes: number, n: number) => boolean): void {
    if (this.kind === 'bitmap' && this.#bitmapRegionBytes > 0) {
      mark(this.#bitmapOffsetBytes, this.#bitmapRegionBytes / this.#state.clusterSizeBytes);
    }
  }

  /**
   * After a complete scan: a free cluster a table still references is a corruption (dropped from
   * the free set when fixing); the rest count as used. With `fix`, the leaks become free clusters
   * (the rebuild by scan) and count as fixed.
   */
  reconcileScan(used: Uint8Array, nclusters: number, fix: boolean, result: CheckResult): void {
    for (const c of [...this.#free]) {
      const byte = c >>> 3;
      const mask = 1 << (c & 7);
      if (c >= nclusters) {
        this.#free.delete(c);
        continue;
      }
      if ((used[byte] as number) & mask) {
        result.messages.push(`Free cluster ${c * this.#state.clusterSizeBytes} is in use`);
        if (fix) {
          this.#free.delete(c);
          result.corruptionsFixed++;
          this.#changedSinceSync = true;
        } else {
          result.corruptions++;
        }
        continue;
      }
      used[byte] = (used[byte] as number) | mask;
    }
  }

  /** The leaks found by a fixing scan join the free set. */
  adoptLeaks(used: Uint8Array, nclusters: number, result: CheckResult): void {
    let adopted = 0;
    for (let c = this.#state.headerSizeClusters; c < nclusters; c++) {
      if ((used[c >>> 3] as number) & (1 << (c & 7))) continue;
      this.#free.add(c);
      adopted++;
    }
    if (adopted === 0) return;
    result.leaksFixed += adopted;
    this.rebuiltByScan = true;
    this.#changedSinceSync = true;
    this.#chainCurrent = false;
  }

  #beforeReuse(): void {
    const state = this.#state;
    if (this.kind === 'freelist') {
      this.#clearBitOnDisk();
      if (!this.#clearDurable) {
        state.device.flush();
        this.#clearDurable = true;
      }
      return;
    }
    // bitmap: the on-disk bitmap may list this cluster as free; a crash from here must rescan.
    if (!state.needCheck) {
      state.setNeedCheck(true);
      state.writeHeaderSector();
      state.device.flush();
    }
  }

  #clearBitOnDisk(): void {
    const state = this.#state;
    if ((state.header.autoclearFeatures & this.bit) === 0n) return;
    this.#writeExtensionHeader(false);
    this.#clearDurable = false;
  }

  /** Header sector 0 with the bit set or cleared and the extension fields (read-modify-write). */
  #writeExtensionHeader(valid: boolean): void {
    const state = this.#state;
    state.header.autoclearFeatures = valid
      ? state.header.autoclearFeatures | this.bit
      : state.header.autoclearFeatures & ~this.bit;
    const sector = new Uint8Array(state.device.read(0, SECTOR_BYTES, 'header'));
    serializeQedHeaderInto(state.header, sector);
    const view = new DataView(sector.buffer, sector.byteOffset, SECTOR_BYTES);
    if (this.kind === 'freelist') {
      view.setBigUint64(QED_EXTENSION_OFFSET, BigInt(valid ? this.#chainHead() : 0), true);
    } else {
      view.setBigUint64(QED_EXTENSION_OFFSET + 8, BigInt(this.#bitmapOffsetBytes), true);
      view.setBigUint64(QED_EXTENSION_OFFSET + 16, BigInt(this.#bitmapLast.length * 8), true);
      view.setBigUint64(QED_EXTENSION_OFFSET + 24, BigInt(this.#bitmapRegionBytes), true);
    }
    state.device.write(0, sector, this.kind);
  }

  #chainClusters(): number[] {
    const cs = this.#state.clusterSizeBytes;
    const perCluster = (cs - CHAIN_HEADER_BYTES) / 8;
    const sorted = [...this.#free].sort((a, b) => a - b);
    const k = Math.ceil(sorted.length / perCluster);
    return sorted.slice(0, k);
  }

  #chainHead(): number {
    const chain = this.#chainClusters();
    return chain.length === 0 ? 0 : (chain[0] as number) * this.#state.clusterSizeBytes;
  }

  /** The whole list as a chain in its own (lowest) free clusters; unchanged clusters skipped. */
  #writeChain(): void {
    const state = this.#state;
    const cs = state.clusterSizeBytes;
    const perCluster = (cs - CHAIN_HEADER_BYTES) / 8;
    const sorted = [...this.#free].sort((a, b) => a - b);
    const chain = sorted.slice(0, Math.ceil(sorted.length / perCluster));
    const written = new Map<number, Uint8Array>();
    chain.forEach((c, k) => {
      const entries = sorted.slice(k * perCluster, (k + 1) * perCluster);
      const bytes = new Uint8Array(CHAIN_HEADER_BYTES + entries.length * 8);
      const view = new DataView(bytes.buffer);
      const next = chain[k + 1];
      view.setBigUint64(0, BigInt(next === undefined ? 0 : next * cs), true);
      view.setBigUint64(8, BigInt(entries.length), true);
      entries.forEach((e, i) => {
        view.setBigUint64(CHAIN_HEADER_BYTES + i * 8, BigInt(e * cs), true);
      });
      const previous = this.#chainWritten.get(c);
      if (!previous || !sameBytes(previous, bytes)) {
        state.device.write(c * cs, padToSectors(bytes), 'freelist');
      }
      written.set(c, bytes);
    });
    this.#chainWritten = written;
    this.#chainCurrent = true;
  }

  /** Writes the changed sectors of the bitmap; true when the region moved (header must follow). */
  #writeBitmap(): boolean {
    const state = this.#state;
    const cs = state.clusterSizeBytes;
    let regionChanged = false;
    let nclusters = Math.floor(state.fileSizeBytes / cs);
    let bytesNeeded = Math.ceil(nclusters / 8);
    if (bytesNeeded > this.#bitmapRegionBytes) {
      // Grow by doubling into a new region at the end of the file; the old one becomes free.
      const old = this.#bitmapRegionBytes > 0 ? this.#bitmapOffsetBytes : -1;
      const oldBytes = this.#bitmapRegionBytes;
      const regionClusters = Math.max(1, Math.ceil((2 * bytesNeeded) / cs));
      this.#bitmapOffsetBytes = state.appendClusters(regionClusters);
      this.#bitmapRegionBytes = regionClusters * cs;
      this.#bitmapLast = new Uint8Array(0);
      if (old >= 0) for (let i = 0; i < oldBytes / cs; i++) this.#free.add(old / cs + i);
      regionChanged = true;
      nclusters = Math.floor(state.fileSizeBytes / cs);
      bytesNeeded = Math.ceil(nclusters / 8);
    }
    const bits = new Uint8Array(bytesNeeded);
    for (let c = 0; c < nclusters; c++) {
      if (!this.#free.has(c)) bits[c >>> 3] = (bits[c >>> 3] as number) | (1 << (c & 7));
    }
    if (regionChanged) {
      // A new region is written whole, so the file covers it (a short file would cut it off).
      const region = new Uint8Array(this.#bitmapRegionBytes);
      region.set(bits);
      state.device.write(this.#bitmapOffsetBytes, region, 'bitmap');
      this.#bitmapLast = bits;
      return true;
    }
    // Changed 512-byte sectors only, coalesced into runs.
    const sectors = Math.ceil(bytesNeeded / SECTOR_BYTES);
    let runStart = -1;
    const flushRun = (endSector: number): void => {
      if (runStart < 0) return;
      const from = runStart * SECTOR_BYTES;
      const to = Math.min(endSector * SECTOR_BYTES, bytesNeeded);
      state.device.write(
        this.#bitmapOffsetBytes + from,
        padToSectors(bits.subarray(from, to)),
        'bitmap',
      );
      runStart = -1;
    };
    for (let s = 0; s < sectors; s++) {
      const from = s * SECTOR_BYTES;
      const to = Math.min(from + SECTOR_BYTES, bytesNeeded);
      let same = to <= this.#bitmapLast.length;
      for (let i = from; same && i < to; i++) same = bits[i] === this.#bitmapLast[i];
      if (!same && runStart < 0) runStart = s;
      if (same) flushRun(s);
    }
    flushRun(sectors);
    if (bits.length !== this.#bitmapLast.length) regionChanged = true;
    this.#bitmapLast = bits;
    return regionChanged;
  }
}

function readExtension(state: QedState): {
  freelistHead: number;
  bitmapOffset: number;
  bitmapClusters: number;
  bitmapRegionBytes: number;
} {
  const sector = state.device.read(0, SECTOR_BYTES, 'header');
  const view = new DataView(sector.buffer, sector.byteOffset, SECTOR_BYTES);
  const at = (i: number) => Number(view.getBigUint64(QED_EXTENSION_OFFSET + 8 * i, true));
  return {
    freelistHead: at(0),
    bitmapOffset: at(1),
    bitmapClusters: at(2),
    bitmapRegionBytes: at(3),
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function padToSectors(bytes: Uint8Array): Uint8Array {
  const padded = Math.ceil(bytes.length / SECTOR_BYTES) * SECTOR_BYTES;
  if (padded === bytes.length) return bytes;
  const out = new Uint8Array(padded);
  out.set(bytes);
  return out;
}
