import { createRequire } from 'node:module';
import type { BlockDevice } from '../../device/types.ts';
import { FormatError, ImageIoError, UsageError } from '../../util/errors.ts';
import { checkGuestRange } from '../guest-range.ts';
import type {
  CheckResult,
  ImageFormat,
  ImageInfo,
  InternalSnapshots,
  MapEntry,
  RepairMode,
} from '../types.ts';
import { checkImage } from './check.ts';
import { getHostOffset, growL1Table, type HostMapping } from './cluster-map.ts';
import {
  COMPAT_LAZY_REFCOUNTS,
  DISCARD_REQUEST,
  INCOMPAT_CORRUPT,
  MAX_L2_CACHE_BYTES,
  MIN_L2_CACHE_ENTRIES,
  MIN_REFCOUNT_CACHE_CLUSTERS,
} from './constants.ts';
import { clusterDiscard, clusterZeroize } from './discard.ts';
import { ClusterType, decodeCompressed } from './l2-entry.ts';
import { flushCaches, markClean, writeCaches } from './lazy-refcounts.ts';
import { MetadataCache } from './metadata-cache.ts';
import { Qcow2Snapshots } from './snapshots.ts';
import type { Qcow2State } from './state.ts';
import { writeU64 } from './u64.ts';
import type { Qcow2VariantState } from './variant-policy.ts';
import { type GuestIo, writeGuest } from './write-path.ts';

type Zlib = typeof import('node:zlib');
let zlib: Zlib | undefined;

/**
 * node:zlib, loaded at the first compressed cluster read: loaded with this module, it cost every
 * CLI command that opens an image (`qedlab check` too) about 4 ms of start-up, and most images
 * hold no compressed cluster.
 */
function zlibModule(): Zlib {
  zlib ??= createRequire(import.meta.url)('node:zlib') as Zlib;
  return zlib;
}

/** QEMU's read_cache_sizes defaults: L2 cache min(32 MiB, coverage), 4 KiB slices when partial. */
export function cacheGeometry(
  virtualSizeBytes: number,
  clusterSize: number,
): { l2Entries: number; l2EntryBytes: number; refblockEntries: number } {
  const sizeRounded = Math.ceil(virtualSizeBytes / 512) * 512;
  const maxL2Entries = Math.ceil(sizeRounded / clusterSize);
  const maxL2Cache = Math.ceil((maxL2Entries * 8) / clusterSize) * clusterSize;
  const l2CacheBytes = Math.min(MAX_L2_CACHE_BYTES, maxL2Cache);
  const l2EntryBytes = l2CacheBytes < maxL2Cache ? Math.min(clusterSize, 4096) : clusterSize;
  return {
    l2Entries: Math.max(MIN_L2_CACHE_ENTRIES, Math.floor(l2CacheBytes / l2EntryBytes)),
    l2EntryBytes,
    refblockEntries: MIN_REFCOUNT_CACHE_CLUSTERS,
  };
}

/** An open qcow2 image: the guest-facing requests of QEMU's qcow2 driver over a Qcow2State. */
export class Qcow2Image implements ImageFormat, GuestIo {
  readonly formatName = 'qcow2';
  readonly s: Qcow2State;
  readonly snapshots: InternalSnapshots;
  /** A design variant's policy objects (variant-policy.ts); undefined for QEMU's behaviour. */
  variant: Qcow2VariantState | undefined;
  #closed = false;
  readonly #mapping: HostMapping = {
    type: ClusterType.Unallocated,
    hostOffset: 0,
    bytes: 0,
    hi: 0,
    lo: 0,
  };

  /** isZero's lookup result (isZero never nests on one image; a backing image has its own). */
  readonly #zeroMapping: HostMapping = {
    type: ClusterType.Unallocated,
    hostOffset: 0,
    bytes: 0,
    hi: 0,
    lo: 0,
  };

  constructor(state: Qcow2State) {
    this.s = state;
    this.snapshots = new Qcow2Snapshots(this);
  }

  get virtualSizeBytes(): number {
    return this.s.sizeBytes;
  }

  get device(): BlockDevice {
    return this.s.device;
  }

  #checkRange(offset: number, length: number): void {
    checkGuestRange(offset, length, this.s.sizeBytes);
    if (this.s.broken)
      throw new ImageIoError('QCOW2_CORRUPT', 'Image is corrupt: I/O refused (EIO)');
  }

  #checkWritable(): void {
    if (this.s.readOnly) throw new UsageError('image is read-only');
    if (this.#closed) throw new UsageError('image is closed');
  }

  read(offset: number, length: number): Uint8Array {
    this.#checkRange(offset, length);
    return this.readGuest(offset, length);
  }

  /** qcow2_co_preadv_part. */
  readGuest(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let done = 0;
    const s = this.s;
    while (done < length) {
      const m = getHostOffset(s, offset + done, length - done, this.#mapping);
      const n = m.bytes;
      switch (m.type) {
        case ClusterType.Unallocated:
          if (s.backing) out.set(this.#readBacking(offset + done, n), done);
          break;
        case ClusterType.ZeroPlain:
        case ClusterType.ZeroAlloc:
          break;
        case ClusterType.Compressed: {
          const cluster = this.#decompress(m.hi, m.lo);
          const inCluster = (offset + done) % s.clusterSize;
          out.set(cluster.subarray(inCluster, inCluster + n), done);
          break;
        }
        default:
          out.set(s.device.read(m.hostOffset, n, 'data'), done);
      }
      done += n;
    }
    return out;
  }

  #readBacking(offset: number, length: number): Uint8Array {
    const backing = this.s.backing as ImageFormat;
    const size = backing.virtualSizeBytes;
    if (offset >= size) return new Uint8Array(length);
    if (offset + length <= size) return backing.read(offset, length);
    const out = new Uint8Array(length);
    out.set(backing.read(offset, size - offset), 0);
    return out;
  }

  #decompress(hi: number, lo: number): Uint8Array {
    const d = decodeCompressed(hi, lo, this.s.clusterBits);
    const stored = this.s.device.read(d.hostOffsetBytes, d.storedBytes, 'data');
    try {
      const { inflateRawSync, constants } = zlibModule();
      const out = inflateRawSync(stored, { finishFlush: constants.Z_SYNC_FLUSH });
      const cluster = new Uint8Array(this.s.clusterSize);
      cluster.set(out.subarray(0, this.s.clusterSize));
      return cluster;
    } catch (error) {
      throw new ImageIoError(
        'QCOW2_COMPRESSED',
        'Could not decompress a compressed cluster (EIO)',
        { cause: error },
      );
    }
  }

  /** bdrv_co_is_zero_fast (want_zero = false) over the chain. */
  isZero(offset: number, bytes: number): boolean {
    if (bytes === 0) return true;
    const m = getHostOffset(this.s, offset, bytes, this.#zeroMapping);
    if (m.bytes < bytes) return false;
    if (m.type === ClusterType.ZeroPlain || m.type === ClusterType.ZeroAlloc) return true;
    if (m.type !== ClusterType.Unallocated) return false;
    const backing = this.s.backing;
    if (!backing) return true;
    if (offset >= backing.virtualSizeBytes) return true;
    if (backing instanceof Qcow2Image) {
      if (offset + bytes > backing.virtualSizeBytes) return false;
      return backing.isZero(offset, bytes);
    }
    return false;
  }

  write(offset: number, data: Uint8Array): void {
    this.#checkWritable();
    this.#checkRange(offset, data.length);
    if (data.length === 0) return;
    writeGuest(this.s, this, offset, data);
  }

  /** bdrv_co_do_pwrite_zeroes + qcow2_co_pwrite_zeroes: cluster-aligned pieces set the ZERO flag; unaligned ones only when the rest already reads as zero, else explicit zeros. */
  writeZeroes(offset: number, length: number, options?: { mayUnmap?: boolean }): void {
    this.#checkWritable();
    this.#checkRange(offset, length);
    const s = this.s;
    const cs = s.clusterSize;
    const mayUnmap = options?.mayUnmap ?? false;
    let head = offset % cs;
    const tail = (offset + length) % cs;
    let bytes = length;
    let pos = offset;
    while (bytes > 0) {
      let num = bytes;
      if (head) {
        num = Math.min(bytes, cs - head);
        head = (head + num) % cs;
      } else if (tail && num > cs) {
        num -= tail;
      }
      if (!this.#zeroesPiece(pos, num, mayUnmap)) {
        // The block layer's bounce-buffer fallback: an ordinary write of zeros.
        for (let p = 0; p < num; p += 16 * 1024 * 1024) {
          const n = Math.min(16 * 1024 * 1024, num - p);
          writeGuest(s, this, pos + p, new Uint8Array(n));
        }
      }
      pos += num;
      bytes -= num;
    }
  }

  #zeroesPiece(offset: number, bytes: number, mayUnmap: boolean): boolean {
    const s = this.s;
    const cs = s.clusterSize;
    // v2 has no ZERO flag: without a backing file a discard reads as zeros; with one, fall back.
    const v2 = s.headerCluster.header.version < 3;
    if (v2 && s.backing) return false;
    const zeroize = (start: number, bytes: number) => {
      if (v2) clusterDiscard(s, start, bytes, DISCARD_REQUEST);
      else clusterZeroize(s, start, bytes, mayUnmap);
    };
    const head = offset % cs;
    let tail = Math.ceil((offset + bytes) / cs) * cs - (offset + bytes);
    if (offset + bytes === s.sizeBytes) tail = 0;
    if (head || tail) {
      if (!(this.isZero(offset - head, head) && this.isZero(offset + bytes, tail))) return false;
      const start = offset - head;
      const m = getHostOffset(s, start, Math.min(cs, s.sizeBytes - start), {
        type: ClusterType.Unallocated,
        hostOffset: 0,
        bytes: 0,
        hi: 0,
        lo: 0,
      });
      if (
        m.type !== ClusterType.Unallocated &&
        m.type !== ClusterType.ZeroPlain &&
        m.type !== ClusterType.ZeroAlloc
      )
        return false;
      zeroize(start, Math.min(cs, s.sizeBytes - start));
      return true;
    }
    zeroize(offset, bytes);
    return true;
  }

  /** bdrv_co_pdiscard + qcow2_co_pdiscard: whole clusters only (and a partial last cluster). */
  discard(offset: number, length: number): void {
    this.#checkWritable();
    this.#checkRange(offset, length);
    const cs = this.s.clusterSize;
    const start = Math.ceil(offset / cs) * cs;
    let end = Math.floor((offset + length) / cs) * cs;
    if (offset + length === this.s.sizeBytes && this.s.sizeBytes % cs !== 0) end = offset + length;
    if (end <= start) return;
    clusterDiscard(this.s, start, end - start, DISCARD_REQUEST);
  }

  flush(): void {
    if (this.s.readOnly || this.#closed) return;
    writeCaches(this.s);
    this.s.device.flush();
  }

  /** bdrv_close: flush, qcow2_inactivate (both caches flushed, mark clean), file flush. */
  close(): void {
    if (this.#closed) return;
    if (!this.s.readOnly && !this.s.broken) {
      this.flush();
      this.variant?.flat?.release();
      this.s.l2Cache.flush();
      this.s.refcounts.refblockCache.flush();
      markClean(this.s);
      this.s.device.flush();
    }
    // The device gets back what a broken image's cache holds unwritten, and its pages are its own.
    this.s.file.lent?.stop();
    this.#closed = true;
  }

  /** qcow2_co_truncate (grow): exact L1 growth, size field written+flushed, caches resized. */
  resize(newSizeBytes: number): void {
    this.#checkWritable();
    const s = this.s;
    if (!Number.isInteger(newSizeBytes) || newSizeBytes < 0)
      throw new UsageError(`Invalid image size ${newSizeBytes}`);
    if (newSizeBytes % 512 !== 0) throw new UsageError('The new size must be a multiple of 512');
    if (newSizeBytes < s.sizeBytes)
      throw new UsageError('qcow2 shrinking is not supported by the lab');
    if (s.headerCluster.header.version < 3 && s.snapshots.length > 0) {
      throw new UsageError("Can't resize a v2 image which has snapshots");
    }
    const newL1Size = Math.ceil(newSizeBytes / (s.clusterSize * s.l2Size));
    growL1Table(s, newL1Size, true);
    const sizeField = new Uint8Array(8);
    writeU64(sizeField, 0, newSizeBytes);
    s.device.write(24, sizeField, 'header');
    s.device.flush();
    s.sizeBytes = newSizeBytes;
    s.headerCluster.header.sizeBytes = newSizeBytes;
    this.#resizeCaches();
  }

  #resizeCaches(): void {
    const s = this.s;
    const geometry = cacheGeometry(s.sizeBytes, s.clusterSize);
    if (geometry.l2Entries === s.l2Cache.size && geometry.l2EntryBytes === s.l2Cache.tableBytes)
      return;
    s.l2Cache.flush();
    s.refcounts.refblockCache.flush();
    // The new cache copies: lending is for the cache it was set up with (lent-pages.ts).
    s.file.lent?.stop();
    const l2Cache = new MetadataCache(s.device, geometry.l2Entries, geometry.l2EntryBytes, 'l2');
    (s as { l2Cache: MetadataCache }).l2Cache = l2Cache;
    s.refcounts.l2Cache = l2Cache;
    const mutable = s as { l2SliceBytes: number; l2SliceSize: number };
    mutable.l2SliceBytes = geometry.l2EntryBytes;
    mutable.l2SliceSize = geometry.l2EntryBytes / 8;
    s.refcounts.refblockCache.depends = null;
  }

  check(repair: RepairMode): CheckResult {
    if (repair !== 'none') this.#checkWritable();
    const result = checkImage(this.s, repair);
    return result;
  }

  /** Guest extents like `qemu-img map --output=json` (format level: host holes are not probed). */
  map(): MapEntry[] {
    const s = this.s;
    const out: MapEntry[] = [];
    const m: HostMapping = { type: ClusterType.Unallocated, hostOffset: 0, bytes: 0, hi: 0, lo: 0 };
    let pos = 0;
    const l2Coverage = s.clusterSize * s.l2Size;
    while (pos < s.sizeBytes) {
      const l1Index = Math.floor(pos / l2Coverage);
      let entry: MapEntry;
      let n: number;
      if (l1Index >= s.l1Size || (s.l1[l1Index * 8] === 0 && isZeroEntry(s.l1, l1Index))) {
        n = Math.min((l1Index + 1) * l2Coverage, s.sizeBytes) - pos;
        entry = this.#unallocatedExtent(pos, n);
      } else {
        getHostOffset(s, pos, Math.min(s.sizeBytes - pos, 2 ** 31), m);
        n = m.bytes;
        switch (m.type) {
          case ClusterType.Unallocated:
            entry = this.#unallocatedExtent(pos, n);
            break;
          case ClusterType.ZeroPlain:
            entry = { start: pos, length: n, depth: 0, present: true, zero: true, data: false };
            break;
          case ClusterType.ZeroAlloc:
            entry = {
              start: pos,
              length: n,
              depth: 0,
              present: true,
              zero: true,
              data: false,
              offset: m.hostOffset,
            };
            break;
          case ClusterType.Compressed:
            entry = { start: pos, length: n, depth: 0, present: true, zero: false, data: true };
            break;
          default:
            entry = {
              start: pos,
              length: n,
              depth: 0,
              present: true,
              zero: false,
              data: true,
              offset: m.hostOffset,
            };
        }
      }
      if (entry.length > 0) pushMerged(out, entry);
      pos += n;
    }
    return out;
  }

  #unallocatedExtent(start: number, length: number): MapEntry {
    const backing = this.s.backing;
    if (!backing) return { start, length, depth: 0, present: false, zero: true, data: false };
    // Without a per-range status API on every format, take the backing file's own map.
    const extents = backing
      .map()
      .filter((e) => e.start < start + length && e.start + e.length > start);
    if (extents.length === 1) {
      const e = extents[0] as MapEntry;
      const entry: MapEntry = {
        start,
        length,
        depth: e.depth + 1,
        present: e.present,
        zero: e.zero,
        data: e.data,
      };
      if (e.offset !== undefined) entry.offset = e.offset + (start - e.start);
      return entry;
    }
    return { start, length, depth: 1, present: true, zero: false, data: true };
  }

  info(): ImageInfo {
    const s = this.s;
    const h = s.headerCluster.header;
    const info: ImageInfo = {
      format: 'qcow2',
      virtualSizeBytes: s.sizeBytes,
      fileSizeBytes: s.device.size(),
      clusterSizeBytes: s.clusterSize,
      dirty: s.dirty,
      formatSpecific: {
        type: 'qcow2',
        data: {
          compat: h.version >= 3 ? '1.1' : '0.10',
          'compression-type': h.compressionType === 1 ? 'zstd' : 'zlib',
          'lazy-refcounts': (h.compatibleFeatures & BigInt(COMPAT_LAZY_REFCOUNTS)) !== 0n,
          'refcount-bits': 2 ** h.refcountOrder,
          corrupt: (h.incompatibleFeatures & BigInt(INCOMPAT_CORRUPT)) !== 0n,
          'extended-l2': false,
        },
      },
    };
    if (s.headerCluster.backingFile !== undefined) info.backingFile = s.headerCluster.backingFile;
    if (s.headerCluster.backingFormat !== undefined)
      info.backingFormat = s.headerCluster.backingFormat;
    const v = this.variant;
    if (v?.background) {
      info.formatSpecific = {
        ...info.formatSpecific,
        'reftable-background-growths': v.background.growths,
        'reftable-growth-waits': v.background.waits,
        'reftable-growth-wait-ns': v.background.waitNs,
      };
    }
    if (v?.flat) {
      info.formatSpecific = {
        ...info.formatSpecific,
        'flat-refcount-growths': v.flat.growths,
        'flat-refcount-copied-bytes': v.flat.copiedBytes,
        'flat-refcount-peak-bytes': v.flat.peakBytes,
      };
    }
    return info;
  }

  /** Writes back everything (used by the snapshot module and check). */
  flushCaches(): void {
    flushCaches(this.s);
  }

  markClean(): void {
    markClean(this.s);
  }

  get closed(): boolean {
    return this.#closed;
  }
}

function isZeroEntry(l1: Uint8Array, index: number): boolean {
  for (let i = 0; i < 8; i++) if (l1[index * 8 + i] !== 0) return false;
  return true;
}

function pushMerged(out: MapEntry[], e: MapEntry): void {
  const last = out[out.length - 1];
  if (
    last &&
    last.depth === e.depth &&
    last.present === e.present &&
    last.zero === e.zero &&
    last.data === e.data &&
    last.start + last.length === e.start &&
    (last.offset === undefined) === (e.offset === undefined) &&
    (last.offset === undefined || last.offset + last.length === e.offset)
  ) {
    last.length += e.length;
    return;
  }
  out.push(e);
}

export { FormatError };

/** qemu-img opens images without discard=unmap: freed clusters are not hole-punched. */
export function setDiscardUnmap(image: ImageFormat, unmap: boolean): void {
  if (image instanceof Qcow2Image) image.s.refcounts.unmap = unmap;
}

/**
 * How the snapshot table is written: `qemu` (default) issues QEMU's four writes per entry;
 * `single` writes the same bytes at once, for runs with thousands of snapshots.
 */
export function setSnapshotTableWrites(image: ImageFormat, mode: 'qemu' | 'single'): void {
  if (image instanceof Qcow2Image) image.s.snapshotTableWrites = mode;
}
