import type { IoKind } from '../../device/types.ts';
import type { QedTable } from './table.ts';

/** A device that can account a read without fetching it (MeteredDevice.noteRead). */
export interface ReadNoting {
  noteRead(offsetBytes: number, lengthBytes: number, kind: IoKind): void;
}

export function canNoteReads(device: unknown): device is ReadNoting {
  return typeof (device as Partial<ReadNoting>).noteRead === 'function';
}

/** Decoded tables kept beyond the 50-table cache, at most this many bytes of them. */
export const DEFAULT_SHADOW_BUDGET_BYTES = 512 * 1024 * 1024;

/**
 * Decoded copies of the L2 tables this engine has read or written, so an L2 cache miss (QEMU
 * re-reads the whole table) is charged to the device with `noteRead` instead of being fetched and
 * decoded again: a 1 TiB random-write workload misses on most requests, and without this the
 * wall time goes to copying 256 KiB tables. The cache itself and every I/O it causes are
 * unchanged; only where the bytes come from differs.
 *
 * Valid because while the image is open only the engine writes the file, and it updates a table's
 * bytes on disk from the very object kept here. The one way the file can change under a table is
 * a corrupt image whose entries make two tables, or a table and a data cluster, share clusters;
 * the moment that is seen the shadow is dropped for good and misses read the file again (and see
 * what QEMU would see).
 */
export class TableShadow {
  readonly #clusterSizeBytes: number;
  readonly #tableClusters: number;
  readonly #tableBytes: number;
  readonly #maxTables: number;
  readonly #tables = new Map<number, QedTable>();
  /** Cluster index → first cluster of the table (or L1) occupying it. */
  readonly #owners = new Map<number, number>();
  #enabled: boolean;

  constructor(options: {
    enabled: boolean;
    clusterSizeBytes: number;
    tableSizeClusters: number;
    l1OffsetBytes: number;
    budgetBytes?: number;
  }) {
    this.#enabled = options.enabled;
    this.#clusterSizeBytes = options.clusterSizeBytes;
    this.#tableClusters = options.tableSizeClusters;
    this.#tableBytes = options.clusterSizeBytes * options.tableSizeClusters;
    this.#maxTables = Math.floor(
      (options.budgetBytes ?? DEFAULT_SHADOW_BUDGET_BYTES) / this.#tableBytes,
    );
    if (this.#enabled) this.#claim(options.l1OffsetBytes / options.clusterSizeBytes);
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** The copy of the table starting at cluster `firstCluster`, if kept. */
  get(firstCluster: number): QedTable | undefined {
    return this.#enabled ? this.#tables.get(firstCluster) : undefined;
  }

  /** A table just read from or written to the file, starting at cluster `firstCluster`. */
  add(firstCluster: number, table: QedTable): void {
    if (!this.#enabled || this.#tables.has(firstCluster)) return;
    if (!this.#claim(firstCluster)) return;
    if (this.#tables.size < this.#maxTables) this.#tables.set(firstCluster, table);
  }

  /** Records where a table lives (so overlaps are still caught) without keeping a copy. */
  claim(firstCluster: number): void {
    if (!this.#enabled || this.#tables.has(firstCluster)) return;
    this.#claim(firstCluster);
  }

  /** An in-place data write: if it lands on a table, the file no longer matches the copies. */
  noteDataWrite(hostOffsetBytes: number, lengthBytes: number): void {
    if (!this.#enabled || lengthBytes === 0) return;
    const cs = this.#clusterSizeBytes;
    const last = Math.floor((hostOffsetBytes + lengthBytes - 1) / cs);
    for (let c = Math.floor(hostOffsetBytes / cs); c <= last; c++) {
      if (this.#owners.has(c)) {
        this.#disable();
        return;
      }
    }
  }

  #claim(first: number): boolean {
    for (let c = first; c < first + this.#tableClusters; c++) {
      const owner = this.#owners.get(c);
      if (owner !== undefined && owner !== first) {
        this.#disable();
        return false;
      }
    }
    for (let c = first; c < first + this.#tableClusters; c++) this.#owners.set(c, first);
    return true;
  }

  #disable(): void {
    this.#enabled = false;
    this.#tables.clear();
    this.#owners.clear();
  }
}
