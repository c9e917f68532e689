import {
  type PatchedWrite,
  type PatchWritableDevice,
  type WritePatch,
  writePatched,
} from '../../device/types.ts';
import { QED_CLUSTER_ZERO_MARKER, SECTOR_BYTES } from './constants.ts';
import type { QedState } from './state.ts';
import { type QedTable, writeTableSectors } from './table.ts';

const EMPTY_BYTES = new Uint8Array(0);
const SECTOR_SHIFT = 31 - Math.clz32(SECTOR_BYTES);
const TWO_POW_32 = 4294967296;
const MAX_CACHED_VIEW_ENTRIES = 64;
/** Set under the test suite, where MemoryDevice checks patched writes against their whole bytes. */
const VERIFY_PATCHED_WRITES = process.env.QEDLAB_VERIFY_PATCHED_WRITES === '1';

/**
 * The write path's table updates, as QEMU issues them (qed_write_table): a new table is one write
 * of the whole table, an existing one gets one write of the 512-byte sectors holding the changed
 * entries. The writes are described to the device by what changed (`writePatched`): a MemoryDevice
 * then copies 8 bytes per entry instead of a sector, or a 1 MiB table. The op, its offset, length
 * and kind are QEMU's either way.
 *
 * "Unchanged" sectors are only claimed while the shadow vouches that the device holds every table
 * as the engine last wrote it; otherwise the sectors are written in full from the table. The whole
 * sectors go along where they cost nothing (a dense table), where the device needs them (one that
 * is not a MemoryDevice) and under the test suite, where MemoryDevice checks the claim.
 */
export class TableWriter {
  readonly #state: QedState;
  /** One patch and the write descriptions, refilled for every table write (devices keep none). */
  readonly #patch: { atBytes: number; bytes: Uint8Array } = { atBytes: 0, bytes: EMPTY_BYTES };
  readonly #zeroBased: PatchedWrite = { base: 'zero', patches: [this.#patch] };
  readonly #unchangedBased: PatchedWrite = { base: 'unchanged', patches: [this.#patch] };
  readonly #unchangedWithWhole: { base: 'unchanged'; patches: WritePatch[]; whole: Uint8Array } = {
    base: 'unchanged',
    patches: [this.#patch],
    whole: EMPTY_BYTES,
  };
  #entryScratch = new Uint8Array(64);
  #entryWords = new Uint32Array(this.#entryScratch.buffer);
  /** Views of the scratch by entry count (a subarray costs more than encoding one entry). */
  #entryViews: Array<Uint8Array | undefined> = [];
  readonly #wholeSectorsNeeded: boolean;
  /** The engine's device when it takes patched writes itself (looked up once, not per write). */
  readonly #patchDevice: PatchWritableDevice | undefined;

  constructor(state: QedState) {
    this.#state = state;
    this.#wholeSectorsNeeded = VERIFY_PATCHED_WRITES || !state.tableShadow.readsInPlace;
    const device = state.device as Partial<PatchWritableDevice>;
    this.#patchDevice =
      typeof device.writePatched === 'function' ? (device as PatchWritableDevice) : undefined;
  }

  /**
   * Points entries [index, index + n) of the table at `tableOffsetBytes` to `cluster`,
   * `cluster` + cs, … (or to the zero marker when `cluster` is 1) and writes their sectors.
   */
  updateEntries(
    tableOffsetBytes: number,
    table: QedTable,
    index: number,
    n: number,
    cluster: number,
  ): void {
    const state = this.#state;
    const footprint = table.footprintBytes;
    fillEntries(table, index, n, cluster, state.clusterSizeBytes);
    if (table.footprintBytes !== footprint) {
      state.tableShadow.resized(tableOffsetBytes * state.clusterSizeInverse, table, footprint);
    }
    const entryBytes = this.#encodeEntries(n, cluster);
    this.writeSectors(tableOffsetBytes, table, index, n, 'l2', entryBytes);
  }

  /**
   * A new table at `tableOffsetBytes` holding only entries [index, index + n) (set as in
   * `updateEntries`): QEMU writes all of it, one write of zeros plus those entries.
   */
  writeNewTable(
    tableOffsetBytes: number,
    table: QedTable,
    index: number,
    n: number,
    cluster: number,
  ): void {
    const state = this.#state;
    fillEntries(table, index, n, cluster, state.clusterSizeBytes);
    this.#patch.atBytes = index * 8;
    this.#patch.bytes = this.#encodeEntries(n, cluster);
    writePatched(state.device, tableOffsetBytes, state.tableBytes, this.#zeroBased, 'l2');
  }

  /** Sets L1 entry `l1Index` and writes its sector. */
  updateL1Entry(l1Index: number, l2OffsetBytes: number): void {
    const state = this.#state;
    const l1 = state.l1Table;
    l1.set(l1Index, l2OffsetBytes);
    this.writeSectors(state.l1TableOffsetBytes, l1, l1Index, 1, 'l1', l1.encode(l1Index, 1));
  }

  /** One write of the sectors holding entries [index, index + n), whose values are `entryBytes`. */
  writeSectors(
    tableOffsetBytes: number,
    table: QedTable,
    index: number,
    n: number,
    kind: 'l1' | 'l2',
    entryBytes: Uint8Array,
  ): void {
    const state = this.#state;
    if (!state.tableShadow.enabled) {
      writeTableSectors(state.device, tableOffsetBytes, table, index, n, kind);
      return;
    }
    // Sector bounds with shifts (entries are 8 bytes, indexes below 2^27: exact int32 arithmetic).
    const firstByte = ((index * 8) >>> SECTOR_SHIFT) << SECTOR_SHIFT;
    const endByte = (((index + n) * 8 + SECTOR_BYTES - 1) >>> SECTOR_SHIFT) << SECTOR_SHIFT;
    const patch = this.#patch;
    patch.atBytes = index * 8 - firstByte;
    patch.bytes = entryBytes;
    let whole: Uint8Array | undefined;
    if (!table.sparse && !table.backed) whole = table.bytes.subarray(firstByte, endByte);
    else if (this.#wholeSectorsNeeded) {
      whole = table.backed
        ? table.mirrorBytes(firstByte, endByte)
        : table.encode(firstByte / 8, (endByte - firstByte) / 8);
    }
    let write = this.#unchangedBased;
    if (whole !== undefined) {
      this.#unchangedWithWhole.whole = whole;
      write = this.#unchangedWithWhole;
    }
    const device = this.#patchDevice;
    if (device !== undefined) {
      device.writePatched(tableOffsetBytes + firstByte, endByte - firstByte, write, kind);
    } else {
      writePatched(state.device, tableOffsetBytes + firstByte, endByte - firstByte, write, kind);
    }
  }

  /** Entries `cluster`, `cluster` + cs, … (or n zero markers) in on-disk form, in a scratch buffer. */
  #encodeEntries(n: number, cluster: number): Uint8Array {
    if (this.#entryScratch.length < n * 8) {
      this.#entryScratch = new Uint8Array(Math.max(n * 8, this.#entryScratch.length * 2));
      this.#entryWords = new Uint32Array(this.#entryScratch.buffer);
      this.#entryViews = [];
    }
    const words = this.#entryWords;
    const cs = this.#state.clusterSizeBytes;
    for (let i = 0; i < n; i++) {
      const value = cluster === QED_CLUSTER_ZERO_MARKER ? cluster : cluster + i * cs;
      const hi = Math.floor(value / TWO_POW_32);
      words[2 * i] = value - hi * TWO_POW_32;
      words[2 * i + 1] = hi;
    }
    let view = this.#entryViews[n];
    if (view === undefined) {
      view = this.#entryScratch.subarray(0, n * 8);
      if (n <= MAX_CACHED_VIEW_ENTRIES) this.#entryViews[n] = view;
    }
    return view;
  }
}

/** Sets the entries a request allocated; the caller writes them to the device right after. */
function fillEntries(
  table: QedTable,
  index: number,
  n: number,
  cluster: number,
  clusterSizeBytes: number,
): void {
  if (cluster === QED_CLUSTER_ZERO_MARKER) {
    for (let i = 0; i < n; i++) table.setThrough(index + i, QED_CLUSTER_ZERO_MARKER);
    return;
  }
  for (let i = 0; i < n; i++) table.setThrough(index + i, cluster + i * clusterSizeBytes);
}
