import type { IoKind } from '../../device/types.ts';
import { MISSING, NumberIndex } from '../../util/number-index.ts';
import type { QedTable, TableHome, TableSource } from './table.ts';

/** A device that can account a read without fetching it (MeteredDevice.noteRead). */
export interface ReadNoting {
  noteRead(offsetBytes: number, lengthBytes: number, kind: IoKind): void;
}

export function canNoteReads(device: unknown): device is ReadNoting {
  return typeof (device as Partial<ReadNoting>).noteRead === 'function';
}

/** Decoded tables kept beyond the 50-table cache, at most this many bytes of them. */
export const DEFAULT_SHADOW_BUDGET_BYTES = 512 * 1024 * 1024;

/** Clusters the ownership maps cover (32 MiB of bits); a table beyond turns the shadow off. */
const MAX_TRACKED_CLUSTERS = 2 ** 28;

/**
 * The L2 tables this engine has read or written, kept so an L2 cache miss (QEMU re-reads the
 * whole table) is charged to the device with `noteRead` instead of being fetched and decoded
 * again: a 1 TiB random-write workload misses on most requests, and without this the wall time
 * goes to copying 256 KiB tables. The cache itself and every I/O it causes are unchanged; only
 * where the bytes come from differs.
 *
 * Valid because while the image is open only the engine writes the file, and it updates a table's
 * bytes on disk as it updates the object kept here. The same guarantee lets the engine describe
 * table writes as patches over unchanged sectors (table-writer.ts) and, on a MemoryDevice, keep no
 * copy of a table at all and read its entries from the device (table.ts, device-backed form). The
 * one way the file can change under a table is a corrupt image whose entries make two tables, or a
 * table and a data cluster, share clusters; the moment that is seen (before the device changes),
 * device-backed tables take their own copies, the shadow is dropped for good, and misses read the
 * file again (and see what QEMU would see).
 */
export class TableShadow implements TableHome {
  readonly #clusterSizeBytes: number;
  /** The device's bytes, readable without I/O (a MemoryDevice under the metered device). */
  readonly #source: TableSource | undefined;
  readonly #tableClusters: number;
  readonly #budgetBytes: number;
  #keptBytes = 0;
  /**
   * Kept tables by first cluster: an index into `#list` (a typed-array hash, where a Map keyed by
   * a double boxes the key and hashes a heap number on every L2 cache miss).
   */
  #slots = new NumberIndex();
  #list: Array<QedTable | undefined> = [];
  #freeSlots: number[] = [];
  /** Bit per cluster: occupied by a claimed table (or the L1). */
  #owned: Uint8Array = new Uint8Array(0);
  /** Bit per cluster: the first cluster of a claimed table. */
  #firsts: Uint8Array = new Uint8Array(0);
  #enabled: boolean;

  constructor(options: {
    enabled: boolean;
    clusterSizeBytes: number;
    tableSizeClusters: number;
    l1OffsetBytes: number;
    budgetBytes?: number;
    source?: TableSource;
  }) {
    this.#enabled = options.enabled;
    this.#source = options.source;
    this.#clusterSizeBytes = options.clusterSizeBytes;
    this.#tableClusters = options.tableSizeClusters;
    this.#budgetBytes = options.budgetBytes ?? DEFAULT_SHADOW_BUDGET_BYTES;
    if (this.#enabled) this.#claim(options.l1OffsetBytes / options.clusterSizeBytes);
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** The device's bytes can be read in place (tables may be device-backed). */
  get readsInPlace(): boolean {
    return this.#source !== undefined;
  }

  /** The copy of the table starting at cluster `firstCluster`, if kept. */
  get(firstCluster: number): QedTable | undefined {
    return this.#enabled ? this.#kept(firstCluster) : undefined;
  }

  /**
   * A table just read from or written to the file, starting at cluster `firstCluster`. Kept while
   * the copies take at most the budget (a sparse table counts what its entries take).
   */
  add(firstCluster: number, table: QedTable): void {
    if (!this.#enabled || this.#kept(firstCluster) !== undefined) return;
    if (!this.#claim(firstCluster)) return;
    const bytes = table.footprintBytes;
    if (this.#keptBytes + bytes > this.#budgetBytes) return;
    this.#keptBytes += bytes;
    const slot = this.#freeSlots.pop() ?? this.#list.length;
    this.#list[slot] = table;
    this.#slots.set(firstCluster, slot);
  }

  /**
   * A kept table changed size (a sparse table took more entries or became dense): it stays
   * only while the budget allows.
   */
  resized(firstCluster: number, table: QedTable, previousFootprintBytes: number): void {
    if (this.#kept(firstCluster) !== table) return;
    this.#keptBytes += table.footprintBytes - previousFootprintBytes;
    if (this.#keptBytes <= this.#budgetBytes) return;
    this.#keptBytes -= table.footprintBytes;
    const slot = this.#slots.get(firstCluster);
    this.#list[slot] = undefined;
    this.#freeSlots.push(slot);
    this.#slots.delete(firstCluster);
  }

  /**
   * A kept table may read its entries from the device: the same guarantee that lets a miss skip
   * the re-read says the device holds exactly what the table would hold.
   */
  sourceFor(table: QedTable, offsetBytes: number): TableSource | undefined {
    if (!this.#enabled || this.#source === undefined) return undefined;
    return this.#kept(offsetBytes / this.#clusterSizeBytes) === table ? this.#source : undefined;
  }

  /** Records where a table lives (so overlaps are still caught) without keeping a copy. */
  claim(firstCluster: number): void {
    if (!this.#enabled || this.#kept(firstCluster) !== undefined) return;
    this.#claim(firstCluster);
  }

  #kept(firstCluster: number): QedTable | undefined {
    const slot = this.#slots.get(firstCluster);
    return slot === MISSING ? undefined : this.#list[slot];
  }

  /** An in-place data write: if it lands on a table, the file no longer matches the copies. */
  noteDataWrite(hostOffsetBytes: number, lengthBytes: number): void {
    if (!this.#enabled || lengthBytes === 0) return;
    const cs = this.#clusterSizeBytes;
    const last = Math.floor((hostOffsetBytes + lengthBytes - 1) / cs);
    for (let c = Math.floor(hostOffsetBytes / cs); c <= last; c++) {
      if (testBit(this.#owned, c)) {
        this.#disable();
        return;
      }
    }
  }

  /**
   * Claims the clusters of the table starting at `first`. A table is claimed whole or not at all,
   * so a claimed first cluster means its clusters all belong to it; any other owner of one of
   * them is an overlap.
   */
  #claim(first: number): boolean {
    if (testBit(this.#firsts, first)) return true;
    const end = first + this.#tableClusters;
    if (end > MAX_TRACKED_CLUSTERS) {
      // A table that far into a (sparse) file would need a huge map: give up the shadow instead.
      this.#disable();
      return false;
    }
    for (let c = first; c < end; c++) {
      if (testBit(this.#owned, c)) {
        this.#disable();
        return false;
      }
    }
    this.#owned = setBits(this.#owned, first, end);
    this.#firsts = setBits(this.#firsts, first, first + 1);
    return true;
  }

  /** Called before the device can change under the tables: backed ones take their own copy. */
  #disable(): void {
    for (const table of this.#list) table?.detach();
    this.#enabled = false;
    this.#slots = new NumberIndex();
    this.#list = [];
    this.#freeSlots = [];
    this.#keptBytes = 0;
    this.#owned = new Uint8Array(0);
    this.#firsts = new Uint8Array(0);
  }
}

function testBit(bits: Uint8Array, index: number): boolean {
  return index < bits.length * 8 && ((bits[index >>> 3] as number) & (1 << (index & 7))) !== 0;
}

/** Sets bits [from, to), growing the map (by doubling) when it is too short; returns the map. */
function setBits(bits: Uint8Array, from: number, to: number): Uint8Array {
  let out = bits;
  const needed = ((to - 1) >>> 3) + 1;
  if (needed > out.length) {
    out = new Uint8Array(Math.max(needed, out.length * 2, 64));
    out.set(bits);
  }
  for (let i = from; i < to; i++) out[i >>> 3] = (out[i >>> 3] as number) | (1 << (i & 7));
  return out;
}
