import type { BlockDevice } from '../../device/types.ts';
import type { ImageFormat } from '../types.ts';
import type { RefcountAllocator } from './allocator.ts';
import { INCOMPAT_DIRTY } from './constants.ts';
import type { FileNode } from './file-node.ts';
import { type Qcow2HeaderCluster, serializeHeaderCluster } from './header.ts';
import type { MetadataCache } from './metadata-cache.ts';
import type { SnapshotEntry } from './snapshot-table.ts';
import { writeU32, writeU64 } from './u64.ts';

const DIRTY = BigInt(INCOMPAT_DIRTY);

/**
 * The open image's state (QEMU's BDRVQcow2State): geometry, the active L1 in memory, the caches,
 * the allocator, snapshots. The engine's modules are functions over it.
 */
export class Qcow2State {
  /** The incompatible-feature bits `dirty` last looked at, and its answer for them. */
  #featuresSeen = -1n;
  #dirtySeen = false;
  /** The file node every engine I/O goes through (QEMU's flush elision). */
  readonly file: FileNode;
  readonly device: BlockDevice;
  readonly clusterBits: number;
  readonly clusterSize: number;
  /** L2 entries per table (cs/8) and per cache slice. */
  readonly l2Size: number;
  readonly l2SliceSize: number;
  readonly l2SliceBytes: number;
  readonly headerCluster: Qcow2HeaderCluster;
  sizeBytes: number;
  l1Size: number;
  l1TableOffset: number;
  /** The active L1, big-endian entries as on disk. */
  l1: Uint8Array;
  readonly l2Cache: MetadataCache;
  readonly refcounts: RefcountAllocator;
  snapshots: SnapshotEntry[];
  snapshotsOffset: number;
  /** qcow2 `use_lazy_refcounts`. */
  lazyRefcounts: boolean;
  readOnly: boolean;
  backing: ImageFormat | null;
  /** Set after a fatal corruption (QEMU's drv = NULL): every later request fails. */
  broken = false;
  /**
   * `qemu`: the snapshot table is written entry by entry, field by field, as qcow2_write_snapshots
   * does (4 writes per snapshot); `single`: the same bytes in one write, for thousands of snapshots.
   */
  snapshotTableWrites: 'qemu' | 'single' = 'qemu';

  constructor(init: {
    file: FileNode;
    headerCluster: Qcow2HeaderCluster;
    l1: Uint8Array;
    l2Cache: MetadataCache;
    refcounts: RefcountAllocator;
    snapshots: SnapshotEntry[];
    lazyRefcounts: boolean;
    readOnly: boolean;
    backing: ImageFormat | null;
  }) {
    const h = init.headerCluster.header;
    this.file = init.file;
    this.device = init.file;
    this.headerCluster = init.headerCluster;
    this.clusterBits = h.clusterBits;
    this.clusterSize = 2 ** h.clusterBits;
    this.l2Size = this.clusterSize / 8;
    this.l2SliceBytes = init.l2Cache.tableBytes;
    this.l2SliceSize = this.l2SliceBytes / 8;
    this.sizeBytes = h.sizeBytes;
    this.l1Size = h.l1Size;
    this.l1TableOffset = h.l1TableOffset;
    this.l1 = init.l1;
    this.l2Cache = init.l2Cache;
    this.refcounts = init.refcounts;
    this.snapshots = init.snapshots;
    this.snapshotsOffset = h.snapshotsOffset;
    this.lazyRefcounts = init.lazyRefcounts;
    this.readOnly = init.readOnly;
    this.backing = init.backing;
  }

  get dirty(): boolean {
    // Asked on every allocating write: a BigInt `&` allocates, so the answer is kept per value.
    const features = this.headerCluster.header.incompatibleFeatures;
    if (features !== this.#featuresSeen) {
      this.#featuresSeen = features;
      this.#dirtySeen = (features & DIRTY) !== 0n;
    }
    return this.#dirtySeen;
  }

  /** qcow2_need_accurate_refcounts: refcounts must reach disk unless the dirty bit covers them. */
  get needAccurateRefcounts(): boolean {
    return !this.dirty;
  }

  /** qcow2_update_header: the whole first cluster in one write (no flush of its own). */
  updateHeader(): void {
    const h = this.headerCluster.header;
    h.sizeBytes = this.sizeBytes;
    h.l1Size = this.l1Size;
    h.l1TableOffset = this.l1TableOffset;
    h.refcountTableOffset = this.refcounts.reftableOffset;
    h.refcountTableClusters = (this.refcounts.reftableSize * 8) / this.clusterSize;
    h.nbSnapshots = this.snapshots.length;
    h.snapshotsOffset = this.snapshotsOffset;
    this.device.write(0, serializeHeaderCluster(this.headerCluster), 'header');
  }

  /** qcow2_write_l1_entry: 8 bytes (buffered file: request_alignment 1) with write + flush. */
  writeL1Entry(l1Index: number): void {
    this.device.write(
      this.l1TableOffset + l1Index * 8,
      this.l1.slice(l1Index * 8, l1Index * 8 + 8),
      'l1',
    );
    this.device.flush();
  }

  /** 12 bytes at `pos` in the header: a u64 then a u32, or a u32 then a u64, with write + flush. */
  writeHeaderField(pos: number, bytes: Uint8Array): void {
    this.device.write(pos, bytes, 'header');
    this.device.flush();
  }

  headerU64U32(a: number, b: number): Uint8Array {
    const buf = new Uint8Array(12);
    writeU64(buf, 0, a);
    writeU32(buf, 8, b);
    return buf;
  }

  headerU32U64(a: number, b: number): Uint8Array {
    const buf = new Uint8Array(12);
    writeU32(buf, 0, a);
    writeU64(buf, 4, b);
    return buf;
  }
}
