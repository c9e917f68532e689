import type { SimClock } from '../../device/clock.ts';
import { MemoryDevice } from '../../device/memory-device.ts';
import { MeteredDevice } from '../../device/metered-device.ts';
import type { BlockDevice } from '../../device/types.ts';
import type { ImageFormat } from '../types.ts';
import { QED_F_NEED_CHECK, QED_HEADER_BYTES, SECTOR_BYTES } from './constants.ts';
import type { QedFreeSpace } from './free-space.ts';
import { type QedHeader, serializeQedHeaderInto } from './header.ts';
import { L2Cache } from './l2-cache.ts';
import type { QedTable } from './table.ts';
import { canNoteReads, TableShadow } from './table-shadow.ts';
import { QED_BASELINE, type QedPolicy } from './variants.ts';

/**
 * Everything an open QED image holds in memory (QEMU's BDRVQEDState): the header, the derived
 * geometry, the in-memory end of file that allocation appends to, the L1 table and the L2 cache.
 * The engine's modules (cluster lookup, write path, check, timer) all work on this one object.
 */
export class QedState {
  readonly device: BlockDevice;
  readonly clock: SimClock;
  readonly readOnly: boolean;
  header: QedHeader;
  readonly clusterSizeBytes: number;
  readonly tableSizeClusters: number;
  readonly headerSizeClusters: number;
  /** Entries per table: cs·ts/8. */
  readonly tableEntries: number;
  readonly tableBytes: number;
  /** Guest bytes one L2 table maps (2^l1_shift). */
  readonly l2CoverageBytes: number;
  /** 1/cs and 1/coverage: exact (powers of two), and a multiply is cheaper than a divide. */
  readonly clusterSizeInverse: number;
  readonly l2CoverageInverse: number;
  readonly l1TableOffsetBytes: number;
  imageSizeBytes: number;
  /** QEMU's s->file_size: where the next cluster is appended. Only ever grows. */
  fileSizeBytes: number;
  l1Table: QedTable;
  readonly l2Cache: L2Cache;
  readonly tableShadow: TableShadow;
  backing: ImageFormat | undefined;
  backingFilename: string | undefined;
  backingFormat: string | undefined;
  /** Design variant (variants.ts); QEMU's behaviour unless a variant is selected. */
  policy: QedPolicy = QED_BASELINE;
  /** Free-cluster reuse of the freelist/bitmap variants (free-space.ts); QEMU has none. */
  freeSpace: QedFreeSpace | undefined;
  readonly #headerSector = new Uint8Array(SECTOR_BYTES);
  #needCheck: boolean;

  constructor(init: {
    device: BlockDevice;
    clock: SimClock;
    readOnly: boolean;
    header: QedHeader;
    fileSizeBytes: number;
    l1Table: QedTable;
  }) {
    this.device = init.device;
    this.clock = init.clock;
    this.readOnly = init.readOnly;
    this.header = init.header;
    this.#needCheck = (init.header.features & BigInt(QED_F_NEED_CHECK)) !== 0n;
    this.clusterSizeBytes = init.header.clusterSizeBytes;
    this.tableSizeClusters = init.header.tableSizeClusters;
    this.headerSizeClusters = init.header.headerSizeClusters;
    this.tableEntries = (this.clusterSizeBytes * this.tableSizeClusters) / 8;
    this.tableBytes = this.clusterSizeBytes * this.tableSizeClusters;
    this.l2CoverageBytes = this.tableEntries * this.clusterSizeBytes;
    this.clusterSizeInverse = 1 / this.clusterSizeBytes;
    this.l2Cache = new L2Cache(undefined, this.tableEntries);
    this.l2CoverageInverse = 1 / this.l2CoverageBytes;
    this.l1TableOffsetBytes = Number(init.header.l1TableOffsetBytes);
    this.imageSizeBytes = Number(init.header.imageSizeBytes);
    this.fileSizeBytes = init.fileSizeBytes;
    this.l1Table = init.l1Table;
    this.tableShadow = new TableShadow({
      enabled: canNoteReads(init.device),
      clusterSizeBytes: this.clusterSizeBytes,
      tableSizeClusters: this.tableSizeClusters,
      l1OffsetBytes: this.l1TableOffsetBytes,
      ...tableSource(init.device),
    });
  }

  /** Mirrors the header's NEED_CHECK bit; read on every allocating write, so kept as a boolean. */
  get needCheck(): boolean {
    return this.#needCheck;
  }

  setNeedCheck(on: boolean): void {
    const bit = BigInt(QED_F_NEED_CHECK);
    this.header.features = on ? this.header.features | bit : this.header.features & ~bit;
    this.#needCheck = on;
  }

  /** Allocation: freed clusters first when a variant keeps them, else append. */
  allocClusters(n: number): number {
    if (this.freeSpace !== undefined) {
      const reused = this.freeSpace.take(n);
      if (reused >= 0) return reused;
    }
    return this.appendClusters(n);
  }

  /** QEMU's append-only allocation: returns the old end of file and moves it by n clusters. */
  appendClusters(n: number): number {
    const offset = this.fileSizeBytes;
    this.fileSizeBytes += n * this.clusterSizeBytes;
    return offset;
  }

  /** A data cluster offset is usable: aligned, past the header, below the end of file. */
  isClusterOffsetValid(offsetBytes: number): boolean {
    return (
      Math.floor(offsetBytes * this.clusterSizeInverse) * this.clusterSizeBytes === offsetBytes &&
      offsetBytes >= this.headerSizeClusters * this.clusterSizeBytes &&
      offsetBytes < this.fileSizeBytes
    );
  }

  /**
   * A table's first and last clusters are both valid cluster offsets. QEMU 7.2 also rejects a
   * table whose last cluster equals its first (its overflow test uses <=), which makes every
   * table_size=1 image unopenable; the lab follows the spec there (documented in the README).
   */
  isTableOffsetValid(offsetBytes: number): boolean {
    const endOffset = offsetBytes + (this.tableSizeClusters - 1) * this.clusterSizeBytes;
    return this.isClusterOffsetValid(offsetBytes) && this.isClusterOffsetValid(endOffset);
  }

  /** QEMU's qed_bytes_to_clusters, including its ÷(cs−1): used where it shapes host writes. */
  bytesToClustersQemu(bytes: number): number {
    const cs = this.clusterSizeBytes;
    const clusters = Math.ceil(bytes * this.clusterSizeInverse);
    // ⌊k·cs/(cs−1)⌋ = k + ⌊k/(cs−1)⌋ = k for k < cs−1, and the double quotient (error below
    // 2^-27 for cs up to QED's 2^26) stays under k + 1 (k/(cs−1) ≤ 1 − 2^-26): one division less
    // on every request, the same result.
    if (clusters < cs - 1) return clusters;
    return Math.floor((clusters * cs) / (cs - 1));
  }

  /** qed_write_header: read-modify-write of the first 512 bytes, no flush. */
  writeHeaderSector(): void {
    const sector = this.device.read(0, SECTOR_BYTES, 'header');
    this.#headerSector.set(sector);
    serializeQedHeaderInto(this.header, this.#headerSector);
    this.device.write(0, this.#headerSector, 'header');
  }

  /** qed_write_header_sync: the 64-byte header alone, no flush. */
  writeHeaderSync(): void {
    const bytes = new Uint8Array(QED_HEADER_BYTES);
    serializeQedHeaderInto(this.header, bytes);
    this.device.write(0, bytes, 'header');
  }
}

/**
 * A metered MemoryDevice's bytes can be read in place, without I/O accounting: tables the shadow
 * vouches for then need no copy of their own (table.ts, device-backed form).
 */
function tableSource(device: BlockDevice): { source?: MemoryDevice } {
  return device instanceof MeteredDevice && device.inner instanceof MemoryDevice
    ? { source: device.inner }
    : {};
}
