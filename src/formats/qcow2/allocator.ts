import type { BlockDevice } from '../../device/types.ts';
import { ImageIoError } from '../../util/errors.ts';
import {
  DISCARD_NEVER,
  DISCARD_OTHER,
  type DiscardType,
  EAGAIN,
  EFBIG,
  EINVAL,
  EIO,
  MAX_REFTABLE_BYTES,
} from './constants.ts';
import { pastGrowthLimit } from './file-node.ts';
import type { MetadataCache } from './metadata-cache.ts';
import { getRefcount, refcountMax, setRefcount } from './refcount-block.ts';
import { lastNonZeroIndex, refcountMetadataSize } from './refcount-table.ts';
import { cHex, writeU32, writeU64 } from './u64.ts';

/**
 * `x % m` for a non-negative x and a power-of-two m, without V8's fmod call (about 25 ns for an
 * offset past 2^31, several per request): x / m, its floor and the product are all exact.
 */
function modPow2(x: number, m: number): number {
  return x - Math.floor(x / m) * m;
}

/** Where freed host ranges go when discard pass-through is on (file-posix punches a hole). */
export interface DiscardRegion {
  offset: number;
  bytes: number;
}

/**
 * The refcount side of qcow2-refcount.c: the in-memory reftable, refcount reads and updates
 * through the refblock cache, QEMU's first-fit allocator over `freeClusterIndex`, self-describing
 * refblock allocation and refcount-table growth, with QEMU's write/flush order and EAGAIN retry.
 */
export class RefcountAllocator {
  readonly clusterSize: number;
  readonly clusterBits: number;
  readonly refcountOrder: number;
  readonly refcountMax: number;
  /** log2(entries per refblock). */
  readonly refblockBits: number;
  readonly refblockEntries: number;
  reftable: Float64Array;
  reftableOffset: number;
  /** Entries (reftable clusters × cs/8). */
  reftableSize: number;
  maxReftableIndex = 0;
  /** In memory only: reset to 0 at open, lowered when a refcount drops to 0. */
  freeClusterIndex = 0;
  readonly refblockCache: MetadataCache;
  l2Cache: MetadataCache;
  /** discard pass-through per DiscardType. */
  readonly passthrough: boolean[] = [false, true, true, true, false];
  cacheDiscards = false;
  /** The file node was opened with discard=unmap (qemu-io does; qemu-img does not). */
  unmap = true;
  readonly discards: DiscardRegion[] = [];
  /** Refcount-table growth factor when a refblock index falls past it (QEMU: 1.5). */
  reftableGrowth: 1.5 | 2 = 1.5;
  /** Variant hooks (variants.ts): every refcount change, and every completed allocation. */
  onRefcountChange: ((clusterIndex: number, refcount: number) => void) | undefined;
  afterAlloc: ((offsetBytes: number, lengthBytes: number) => void) | undefined;
  /** Before an allocation from `firstClusterIndex` (first fit starts there) of `clusters`. */
  beforeAlloc: ((firstClusterIndex: number, clusters: number) => void) | undefined;
  /** Host ranges a variant owns outside QEMU's structures, counted as referenced by check. */
  extraRegions: (() => Array<{ offset: number; bytes: number }>) | undefined;
  readonly #device: BlockDevice;
  /** The refblock cache slot getRefcount used last. */
  #lastRefblockSlot = 0;

  constructor(options: {
    device: BlockDevice;
    clusterBits: number;
    refcountOrder: number;
    reftable: Float64Array;
    reftableOffset: number;
    refblockCache: MetadataCache;
    l2Cache: MetadataCache;
  }) {
    this.#device = options.device;
    this.clusterBits = options.clusterBits;
    this.clusterSize = 2 ** options.clusterBits;
    this.refcountOrder = options.refcountOrder;
    this.refcountMax = refcountMax(options.refcountOrder);
    this.refblockBits = options.clusterBits + 3 - options.refcountOrder;
    this.refblockEntries = 2 ** this.refblockBits;
    this.reftable = options.reftable;
    this.reftableOffset = options.reftableOffset;
    this.reftableSize = options.reftable.length;
    this.refblockCache = options.refblockCache;
    this.l2Cache = options.l2Cache;
    this.#updateMaxIndex();
  }

  #updateMaxIndex(): void {
    this.maxReftableIndex = Math.max(lastNonZeroIndex(this.reftable, this.reftableSize), 0);
  }

  #checkRefblockOffset(offset: number, index: number): void {
    if (modPow2(offset, this.clusterSize) !== 0) {
      throw new ImageIoError(
        'QCOW2_CORRUPT',
        `Refblock offset ${cHex(offset)} unaligned (reftable index: ${cHex(index)})`,
      );
    }
  }

  /**
   * A refblock about to be updated must lie inside the file: QEMU writes a new refblock before
   * the reftable entry that points at it, so an entry past EOF is corrupt. QEMU reads it as
   * zeros and finds out only when its overlap check stops the allocation of cluster 0 over the
   * header, or when the write-back fails (EFBIG); the lab stops at the first update, before it
   * could hand out a used cluster or write the refblock at an absurd offset.
   */
  #refblockInFile(offset: number): boolean {
    return offset < this.#device.size();
  }

  /** qcow2_get_refcount: 0 past the table or for a missing refblock. */
  getRefcount(clusterIndex: number): number {
    const tableIndex = Math.floor(clusterIndex / this.refblockEntries);
    if (tableIndex >= this.reftableSize) return 0;
    const blockOffset = this.reftable[tableIndex] as number;
    if (blockOffset === 0) return 0;
    this.#checkRefblockOffset(blockOffset, tableIndex);
    const cache = this.refblockCache;
    const index = clusterIndex - tableIndex * this.refblockEntries;
    const last = this.#lastRefblockSlot;
    // The refblock of the previous call, still the last one the cache released: a get and put
    // of it would leave the cache exactly as it is (a check asks for thousands of refcounts in
    // a row from one refblock, most of them before its code is optimised).
    if (cache.offsetOf(last) === blockOffset && cache.isLastReleased(last)) {
      return getRefcount(cache.table(last), index, this.refcountOrder);
    }
    const slot = cache.get(blockOffset);
    const value = getRefcount(cache.table(slot), index, this.refcountOrder);
    cache.put(slot);
    this.#lastRefblockSlot = slot;
    return value;
  }

  /**
   * getRefcount of clusters [firstClusterIndex, firstClusterIndex + out.length) into `out`, each
   * refblock got and put once instead of once per cluster: the same cache misses, the same LRU
   * order and the same error as that many getRefcount calls, provided nothing else uses the
   * refblock cache in between (check's comparison of thousands to millions of refcounts).
   */
  getRefcounts(firstClusterIndex: number, out: Float64Array): void {
    const entries = this.refblockEntries;
    let done = 0;
    while (done < out.length) {
      const index = firstClusterIndex + done;
      const tableIndex = Math.floor(index / entries);
      const blockStart = tableIndex * entries;
      const take = Math.min(out.length - done, blockStart + entries - index);
      const blockOffset =
        tableIndex < this.reftableSize ? (this.reftable[tableIndex] as number) : 0;
      if (blockOffset === 0) {
        out.fill(0, done, done + take);
      } else {
        this.#checkRefblockOffset(blockOffset, tableIndex);
        const slot = this.refblockCache.get(blockOffset);
        const block = this.refblockCache.table(slot);
        for (let k = 0; k < take; k++) {
          out[done + k] = getRefcount(block, index - blockStart + k, this.refcountOrder);
        }
        this.refblockCache.put(slot);
      }
      done += take;
    }
  }

  /**
   * alloc_clusters_noref: first fit from freeClusterIndex; the count restarts at a used cluster.
   * QEMU reads each refcount through the cache (get/put per cluster); scanning a loaded refblock
   * directly leaves the same cache state (same misses, same LRU order), only faster.
   */
  allocClustersNoref(sizeBytes: number): number {
    const n = Math.ceil(sizeBytes / this.clusterSize);
    const entries = this.refblockEntries;
    let i = 0;
    while (i < n) {
      const index = this.freeClusterIndex;
      const tableIndex = Math.floor(index / entries);
      const blockOffset =
        tableIndex < this.reftableSize ? (this.reftable[tableIndex] as number) : 0;
      const blockStart = tableIndex * entries;
      if (blockOffset === 0) {
        // No refblock: every cluster it would cover reads as free.
        const take = Math.min(n - i, blockStart + entries - index);
        i += take;
        this.freeClusterIndex += take;
        continue;
      }
      this.#checkRefblockOffset(blockOffset, tableIndex);
      const slot = this.refblockCache.get(blockOffset);
      const block = this.refblockCache.table(slot);
      let j = index - blockStart;
      while (i < n && j < entries) {
        const used = getRefcount(block, j, this.refcountOrder) !== 0;
        this.freeClusterIndex++;
        j++;
        i = used ? 0 : i + 1;
      }
      this.refblockCache.put(slot);
    }
    return (this.freeClusterIndex - n) * this.clusterSize;
  }

  /** qcow2_alloc_clusters: retried while a new refblock or reftable may overlap the range. */
  allocClusters(sizeBytes: number): number {
    this.beforeAlloc?.(this.freeClusterIndex, Math.ceil(sizeBytes / this.clusterSize));
    for (;;) {
      const offset = this.allocClustersNoref(sizeBytes);
      const ret = this.updateRefcount(offset, sizeBytes, 1, false, DISCARD_NEVER);
      if (ret === EAGAIN) continue;
      if (ret < 0) throw refcountError(ret);
      this.afterAlloc?.(offset, sizeBytes);
      return offset;
    }
  }

  /** qcow2_alloc_clusters_at: as many free clusters as there are from `offset`, up to n. */
  allocClustersAt(offset: number, n: number): number {
    if (n === 0) return 0;
    this.beforeAlloc?.(offset / this.clusterSize, n);
    for (;;) {
      let index = offset / this.clusterSize;
      let i = 0;
      for (; i < n; i++) {
        if (this.getRefcount(index++) !== 0) break;
      }
      const ret = this.updateRefcount(offset, i * this.clusterSize, 1, false, DISCARD_NEVER);
      if (ret === EAGAIN) continue;
      if (ret < 0) throw refcountError(ret);
      if (i > 0) this.afterAlloc?.(offset, i * this.clusterSize);
      return i;
    }
  }

  freeClusters(offset: number, sizeBytes: number, type: DiscardType): void {
    const ret = this.updateRefcount(offset, sizeBytes, 1, true, type);
    if (ret < 0) throw refcountError(ret);
  }

  /**
   * update_refcount: per cluster, load (or allocate) its refblock and apply ±addend. Returns 0,
   * or a negative errno (EAGAIN when a refblock/reftable was created) after rolling back the
   * clusters already changed, as QEMU does.
   */
  updateRefcount(
    offset: number,
    length: number,
    addend: number,
    decrease: boolean,
    type: DiscardType,
  ): number {
    if (length <= 0) return 0;
    if (decrease) this.refblockCache.setDependency(this.l2Cache);
    const cs = this.clusterSize;
    const start = Math.floor(offset / cs) * cs;
    const last = Math.floor((offset + length - 1) / cs) * cs;
    let slot = -1;
    let oldTableIndex = -1;
    let ret = 0;
    let clusterOffset = start;
    for (; clusterOffset <= last; clusterOffset += cs) {
      const clusterIndex = clusterOffset / cs;
      const tableIndex = Math.floor(clusterIndex / this.refblockEntries);
      if (tableIndex !== oldTableIndex) {
        if (slot >= 0) {
          this.refblockCache.put(slot);
          slot = -1;
        }
        if (decrease && !(this.reftable[tableIndex] ?? 0)) {
          // No refblock: the refcount is 0 and cannot drop. QEMU allocates the refblock first
          // (growing the refcount structures up to a corrupt offset, gigabytes away) and then
          // fails the same way; the lab fails before allocating.
          ret = EINVAL;
          break;
        }
        slot = this.#allocRefcountBlock(clusterIndex);
        if (this.#allocRet < 0) {
          ret = this.#allocRet;
          break;
        }
      }
      oldTableIndex = tableIndex;
      this.refblockCache.markDirtyBytes(slot, 0, 0);
      const block = this.refblockCache.table(slot);
      const blockIndex = clusterIndex - tableIndex * this.refblockEntries;
      let refcount = getRefcount(block, blockIndex, this.refcountOrder);
      if (decrease ? refcount < addend : refcount + addend > this.refcountMax) {
        ret = EINVAL;
        break;
      }
      refcount = decrease ? refcount - addend : refcount + addend;
      if (refcount === 0 && clusterIndex < this.freeClusterIndex)
        this.freeClusterIndex = clusterIndex;
      setRefcount(block, blockIndex, this.refcountOrder, refcount);
      this.#markRefcountsDirty(slot, blockIndex, blockIndex + 1);
      this.onRefcountChange?.(clusterIndex, refcount);
      if (refcount === 0) {
        // QEMU looks up the range's first offset here, not the current cluster's.
        const refblockSlot = this.refblockCache.lookup(offset);
        if (refblockSlot >= 0) {
          this.refblockCache.put(slot);
          slot = -1;
          oldTableIndex = -1;
          this.refblockCache.discard(refblockSlot);
        }
        const l2Slot = this.l2Cache.lookup(offset);
        if (l2Slot >= 0) this.l2Cache.discard(l2Slot);
        if (this.passthrough[type]) this.#queueDiscard(clusterOffset, cs);
      }
    }
    if (!this.cacheDiscards) this.processDiscards(ret);
    if (slot >= 0) this.refblockCache.put(slot);
    if (ret < 0) {
      this.updateRefcount(offset, clusterOffset - offset, addend, !decrease, DISCARD_NEVER);
    }
    // The new refblock/reftable may have landed inside the range: search it again from its start.
    if (ret === EAGAIN && start / cs < this.freeClusterIndex) this.freeClusterIndex = start / cs;
    return ret;
  }

  #queueDiscard(offset: number, bytes: number): void {
    const list = this.discards;
    let d: DiscardRegion | undefined;
    for (const region of list) {
      const newStart = Math.min(offset, region.offset);
      const newEnd = Math.max(offset + bytes, region.offset + region.bytes);
      if (newEnd - newStart <= bytes + region.bytes) {
        region.offset = newStart;
        region.bytes = newEnd - newStart;
        d = region;
        break;
      }
    }
    if (!d) {
      d = { offset, bytes };
      list.push(d);
    }
    for (let i = 0; i < list.length; i++) {
      const p = list[i] as DiscardRegion;
      if (p === d || p.offset > d.offset + d.bytes || d.offset > p.offset + p.bytes) continue;
      list.splice(i, 1);
      i--;
      d.offset = Math.min(d.offset, p.offset);
      d.bytes += p.bytes;
    }
  }

  /** qcow2_process_discards: hole-punch the freed ranges (file-posix with discard=unmap). */
  processDiscards(ret: number): void {
    if (this.discards.length === 0) return;
    const list = this.discards.splice(0);
    if (ret < 0 || !this.unmap) return;
    for (const d of list) this.#device.zeroRange(d.offset, d.bytes, 'data');
  }

  /** What the last #allocRefcountBlock returned besides the slot: 0, EAGAIN or an error. */
  #allocRet = 0;

  /**
   * alloc_refcount_block; returns the refblock's cache slot (or -1) and sets #allocRet to 0 /
   * EAGAIN / error (two results without an object: this runs for every allocation).
   */
  #allocRefcountBlock(clusterIndex: number): number {
    const found = this.#existingRefcountBlock(clusterIndex);
    if (found !== NO_REFBLOCK) {
      this.#allocRet = found < 0 ? EIO : 0;
      return found < 0 ? -1 : found;
    }
    const result = this.#newRefcountBlock(clusterIndex);
    this.#allocRet = result.ret;
    return result.slot;
  }

  /** The slot of the cluster's refblock if the reftable has one (-1: past EOF), else NO_REFBLOCK. */
  #existingRefcountBlock(clusterIndex: number): number {
    const tableIndex = Math.floor(clusterIndex / this.refblockEntries);
    if (tableIndex < this.reftableSize) {
      const blockOffset = this.reftable[tableIndex] as number;
      if (blockOffset !== 0) {
        this.#checkRefblockOffset(blockOffset, tableIndex);
        if (!this.#refblockInFile(blockOffset)) return -1;
        return this.refblockCache.get(blockOffset);
      }
    }
    return NO_REFBLOCK;
  }

  /** alloc_refcount_block when the reftable has no refblock for the cluster yet. */
  #newRefcountBlock(clusterIndex: number): { slot: number; ret: number } {
    const cs = this.clusterSize;
    const tableIndex = Math.floor(clusterIndex / this.refblockEntries);
    if (
      tableIndex < this.reftableSize &&
      pastGrowthLimit(this.#device.size(), this.reftableOffset + (tableIndex + 1) * 8)
    ) {
      // The new entry would be written into a reftable far past EOF (QEMU would, sparsely).
      return { slot: -1, ret: EIO };
    }
    this.l2Cache.flush();
    const newBlock = this.allocClustersNoref(cs);
    let slot: number;
    const newBlockIndex = newBlock / cs;
    if (Math.floor(newBlockIndex / this.refblockEntries) === tableIndex) {
      slot = this.refblockCache.getEmpty(newBlock);
      this.refblockCache.zeroTable(slot);
      const index = newBlockIndex - tableIndex * this.refblockEntries;
      setRefcount(this.refblockCache.table(slot), index, this.refcountOrder, 1);
      this.#markRefcountsDirty(slot, index, index + 1);
    } else {
      const ret = this.updateRefcount(newBlock, cs, 1, false, DISCARD_NEVER);
      if (ret < 0) return { slot: -1, ret };
      this.refblockCache.flush();
      slot = this.refblockCache.getEmpty(newBlock);
      this.refblockCache.zeroTable(slot);
    }
    this.refblockCache.flush();
    if (tableIndex < this.reftableSize) {
      const entry = new Uint8Array(8);
      writeU64(entry, 0, newBlock);
      this.#device.write(this.reftableOffset + tableIndex * 8, entry, 'reftable');
      this.#device.flush();
      this.reftable[tableIndex] = newBlock;
      this.maxReftableIndex = Math.max(this.maxReftableIndex, tableIndex);
      return { slot, ret: EAGAIN };
    }
    this.refblockCache.put(slot);
    const blocksUsed = Math.ceil(
      Math.max(clusterIndex + 1, newBlockIndex + 1) / this.refblockEntries,
    );
    const metaOffset = blocksUsed * this.refblockEntries * cs;
    const area = this.refcountArea(metaOffset, 0, false, tableIndex, newBlock);
    if (area < 0) return { slot: -1, ret: area };
    return { slot: this.refblockCache.get(newBlock), ret: EAGAIN };
  }

  /**
   * qcow2_refcount_area: new self-covering refblocks at `startOffset` and a new reftable after
   * them (1.5× unless exact), refblocks flushed, table written+flushed, header switched, old table
   * freed. Returns the end offset or a negative errno.
   */
  refcountArea(
    startOffset: number,
    additionalClusters: number,
    exactSize: boolean,
    newRefblockIndex: number,
    newRefblockOffset: number,
  ): number {
    const cs = this.clusterSize;
    const totalRefblocks = refcountMetadataSize(
      startOffset / cs + additionalClusters,
      cs,
      this.refcountOrder,
      !exactSize,
    ).refblocks;
    if (totalRefblocks > MAX_REFTABLE_BYTES) return EFBIG;
    const areaReftableIndex = Math.floor(startOffset / cs / this.refblockEntries);
    let tableSize = exactSize
      ? totalRefblocks
      : this.reftableGrowth === 2
        ? 2 * totalRefblocks
        : totalRefblocks + Math.ceil(totalRefblocks / 2);
    const perCluster = cs / 8;
    tableSize = Math.ceil(tableSize / perCluster) * perCluster;
    const tableClusters = (tableSize * 8) / cs;
    if (tableSize > MAX_REFTABLE_BYTES) return EFBIG;
    const newTable = new Float64Array(tableSize);
    if (tableSize > this.maxReftableIndex) {
      newTable.set(
        this.reftable.subarray(0, Math.min(this.maxReftableIndex + 1, this.reftableSize)),
      );
    } else {
      newTable.set(this.reftable.subarray(0, tableSize));
    }
    if (newRefblockOffset) newTable[newRefblockIndex] = newRefblockOffset;
    let additional = 0;
    for (let i = areaReftableIndex; i < totalRefblocks; i++) if (!newTable[i]) additional++;
    const tableOffset = startOffset + additional * cs;
    const endOffset = tableOffset + tableClusters * cs;
    let blockOffset = startOffset;
    for (let i = areaReftableIndex; i < totalRefblocks; i++) {
      let slot: number;
      if (newTable[i]) {
        slot = this.refblockCache.get(newTable[i] as number);
      } else {
        slot = this.refblockCache.getEmpty(blockOffset);
        this.refblockCache.zeroTable(slot);
        newTable[i] = blockOffset;
        blockOffset += cs;
      }
      const firstCovered = i * this.refblockEntries * cs;
      if (firstCovered < endOffset) {
        const firstIndex = firstCovered < startOffset ? (startOffset - firstCovered) / cs : 0;
        const endIndex = Math.min((endOffset - firstCovered) / cs, this.refblockEntries);
        const block = this.refblockCache.table(slot);
        for (let j = firstIndex; j < endIndex; j++) setRefcount(block, j, this.refcountOrder, 1);
        this.refblockCache.markDirtyBytes(slot, 0, 0);
        this.#markRefcountsDirty(slot, firstIndex, endIndex);
      }
      this.refblockCache.put(slot);
    }
    this.refblockCache.flush();
    const tableBytes = new Uint8Array(tableSize * 8);
    for (let i = 0; i < totalRefblocks; i++) writeU64(tableBytes, i * 8, newTable[i] as number);
    this.#device.write(tableOffset, tableBytes, 'reftable');
    this.#device.flush();
    const headerBytes = new Uint8Array(12);
    writeU64(headerBytes, 0, tableOffset);
    writeU32(headerBytes, 8, tableClusters);
    this.#device.write(48, headerBytes, 'header');
    this.#device.flush();
    const oldOffset = this.reftableOffset;
    const oldSize = this.reftableSize;
    this.reftable = newTable;
    this.reftableSize = tableSize;
    this.reftableOffset = tableOffset;
    this.#updateMaxIndex();
    this.onReftableMoved?.(tableOffset, tableClusters);
    this.freeClusters(oldOffset, oldSize * 8, DISCARD_OTHER);
    return endOffset;
  }

  /** Refcounts [fromIndex, toIndex) of the refblock in `slot` changed. */
  #markRefcountsDirty(slot: number, fromIndex: number, toIndex: number): void {
    const bits = 1 << this.refcountOrder;
    this.refblockCache.markDirtyBytes(
      slot,
      Math.floor((fromIndex * bits) / 8),
      Math.ceil((toIndex * bits) / 8),
    );
  }

  /** Lets the owner keep its header copy in step when the table moves. */
  onReftableMoved: ((offset: number, clusters: number) => void) | undefined;
}

/** #existingRefcountBlock: the reftable has no refblock for the cluster. */
const NO_REFBLOCK = -2;

export function refcountError(ret: number): ImageIoError {
  if (ret === EINVAL)
    return new ImageIoError('QCOW2_REFCOUNT', 'refcount overflow or underflow (EINVAL)');
  if (ret === EIO)
    return new ImageIoError(
      'QCOW2_CORRUPT',
      'refcount block or table lies past the end of the file (EIO)',
    );
  if (ret === EFBIG)
    return new ImageIoError('QCOW2_EFBIG', 'refcount table would exceed 8 MiB (EFBIG)');
  return new ImageIoError('QCOW2_IO', `refcount update failed (${ret})`);
}
