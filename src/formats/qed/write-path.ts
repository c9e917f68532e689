import { type PatchedWrite, type WritePatch, writePatched, zeroBytes } from '../../device/types.ts';
import { ClusterKind, type ClusterRun, findCluster, newClusterRun } from './cluster.ts';
import { QED_CLUSTER_ZERO_MARKER, SECTOR_BYTES } from './constants.ts';
import type { NeedCheckTimer } from './need-check.ts';
import type { QedState } from './state.ts';
import { QedTable, writeTableSectors } from './table.ts';

/**
 * QEMU 7.2's QED write path (qed_aio_write_data and what it calls), issuing the same host
 * writes and flushes in the same order:
 *
 * - a run of allocated clusters is written in place, no metadata;
 * - anything else is an allocating write: it takes the allocation slot (cancelling the
 *   need-check timer), sets NEED_CHECK with a header read-modify-write when there is no backing
 *   file, appends the data clusters, writes prefill, postfill and data (then flushes when there is
 *   a backing file), and updates the L2: only the touched 512-byte sectors of an existing table,
 *   or a whole new table + flush + the L1 sector;
 * - when the request completes, the slot is released and the timer armed if NEED_CHECK is set.
 *
 * Requests arrive one at a time, so the FIFO of waiting allocating writes is always empty when a
 * request completes and QEMU's "restart the lookup after waiting" changes nothing.
 */
const EMPTY_BYTES = new Uint8Array(0);
const TWO_POW_32 = 4294967296;
/** Set under the test suite, where MemoryDevice checks patched writes against their whole bytes. */
const VERIFY_PATCHED_WRITES = process.env.QEDLAB_VERIFY_PATCHED_WRITES === '1';

export class QedWritePath {
  readonly #state: QedState;
  readonly #timer: NeedCheckTimer;
  readonly #run: ClusterRun = newClusterRun();
  /** Allocating requests so far (for reports). */
  allocatingRequests = 0;
  /** One patch and two write descriptions, refilled for every table write (devices keep none). */
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
  /** Patched table writes carry their whole sectors (see #writeSectors). */
  readonly #wholeSectorsNeeded: boolean;
  /** Zero-buffer views by length in sectors: COW fills take a few lengths over and over. */
  readonly #zeroViews: Array<Uint8Array | undefined> = [];

  constructor(state: QedState, timer: NeedCheckTimer) {
    this.#state = state;
    this.#timer = timer;
    this.#wholeSectorsNeeded = VERIFY_PATCHED_WRITES || !state.tableShadow.readsInPlace;
  }

  /**
   * One guest write request. `data` null means a zero write (QED_AIOCB_ZERO: cluster-aligned,
   * sets entries to 1); otherwise `data` holds `lengthBytes` bytes.
   */
  write(posBytes: number, lengthBytes: number, data: Uint8Array | null): void {
    const state = this.#state;
    const run = this.#run;
    const endBytes = posBytes + lengthBytes;
    let holdsAllocationSlot = false;
    let pos = posBytes;
    try {
      while (pos < endBytes) {
        findCluster(state, pos, endBytes - pos, run);
        const n = run.lengthBytes;
        const dataOffset = pos - posBytes;
        if (run.kind === ClusterKind.Found) {
          const chunk =
            data === null
              ? zeroBytes(n)
              : dataOffset === 0 && n === data.length
                ? data
                : data.subarray(dataOffset, dataOffset + n);
          state.tableShadow.noteDataWrite(run.hostOffsetBytes, n);
          state.device.write(run.hostOffsetBytes, chunk, 'data');
        } else {
          if (!holdsAllocationSlot) {
            this.#timer.cancel();
            holdsAllocationSlot = true;
            this.allocatingRequests++;
          }
          this.#writeAllocating(pos, n, data, dataOffset);
        }
        pos += n;
      }
    } finally {
      if (holdsAllocationSlot && state.needCheck) this.#timer.arm();
    }
  }

  #writeAllocating(pos: number, n: number, data: Uint8Array | null, dataOffset: number): void {
    const state = this.#state;
    const run = this.#run;
    const cs = state.clusterSizeBytes;
    const inCluster = pos - Math.floor(pos * state.clusterSizeInverse) * cs;
    const l2Index = run.l2Index;
    // QEMU sizes the allocation with its ÷(cs−1) qed_bytes_to_clusters; it only differs for runs
    // of cs−1 or more clusters, where QEMU would also write past the table: clamp there.
    const nclusters = Math.min(
      state.bytesToClustersQemu(inCluster + n),
      state.tableEntries - l2Index,
    );
    let cluster: number;
    let reused = false;
    if (data === null) {
      if (run.kind === ClusterKind.Zero) return;
      cluster = QED_CLUSTER_ZERO_MARKER;
    } else {
      const endOfFile = state.fileSizeBytes;
      cluster = state.allocClusters(nclusters);
      // Below the end of file: a freed cluster handed out again (freelist/bitmap variants).
      reused = cluster < endOfFile;
    }
    if (state.backing === undefined && !state.needCheck && state.policy.needCheckFlag) {
      state.setNeedCheck(true);
      state.writeHeaderSector();
    }
    if (data !== null) {
      const clusterStart = pos - inCluster;
      this.#copyFromBacking(clusterStart, inCluster, cluster);
      const tailStart = pos + n;
      const tailLength = Math.ceil(tailStart * state.clusterSizeInverse) * cs - tailStart;
      this.#copyFromBacking(tailStart, tailLength, cluster + inCluster + n);
      const chunk =
        dataOffset === 0 && n === data.length ? data : data.subarray(dataOffset, dataOffset + n);
      state.device.write(cluster + inCluster, chunk, 'data');
      // With a backing file QEMU never sets NEED_CHECK; it orders data before L2 with a flush.
      // A reused cluster needs the same order: an L2 entry durable before its data would show the
      // cluster's previous owner's data.
      if (state.backing !== undefined || reused) state.device.flush();
    }
    this.#updateL2(pos, l2Index, nclusters, cluster);
  }

  #zeroFill(lengthBytes: number): Uint8Array {
    if (lengthBytes % 512 !== 0 || lengthBytes > this.#state.clusterSizeBytes) {
      return zeroBytes(lengthBytes);
    }
    const index = lengthBytes / 512;
    let view = this.#zeroViews[index];
    if (view === undefined) {
      view = zeroBytes(lengthBytes);
      this.#zeroViews[index] = view;
    }
    return view;
  }

  /** qed_copy_from_backing_file: the COW fill, zeros written explicitly when there is no backing. */
  #copyFromBacking(guestPos: number, lengthBytes: number, hostOffset: number): void {
    if (lengthBytes === 0) return;
    const state = this.#state;
    const backing = state.backing;
    if (backing === undefined) {
      state.device.write(hostOffset, this.#zeroFill(lengthBytes), 'zero-fill');
      return;
    }
    const buffer = readBackingClipped(backing, guestPos, lengthBytes);
    state.device.write(hostOffset, buffer, 'data');
  }

  #updateL2(pos: number, l2Index: number, nclusters: number, cluster: number): void {
    const state = this.#state;
    const run = this.#run;
    const cs = state.clusterSizeBytes;
    const entryBytes = this.#encodeEntries(nclusters, cluster, cs);
    if (run.kind === ClusterKind.L1Missing) {
      // A new table starts sparse; QEMU writes all of it, which is one write of the whole table
      // whose content is zeros plus the entries just set.
      const l2Offset = state.allocClusters(state.tableSizeClusters);
      const table = QedTable.empty(state.tableEntries, state.tableShadow, l2Offset);
      fillEntries(table, l2Index, nclusters, cluster, cs);
      this.#patch.atBytes = l2Index * 8;
      this.#patch.bytes = entryBytes;
      writePatched(state.device, l2Offset, state.tableBytes, this.#zeroBased, 'l2');
      state.device.flush();
      const l1Index = Math.floor(pos / state.l2CoverageBytes);
      const l1 = state.l1Table;
      l1.set(l1Index, l2Offset);
      this.#writeSectors(state.l1TableOffsetBytes, l1, l1Index, 1, 'l1', l1.encode(l1Index, 1));
      const key = l2Offset * state.clusterSizeInverse;
      state.tableShadow.add(key, table);
      // Every entry is on the device now: where the shadow vouches for it, the table keeps none.
      const footprint = table.footprintBytes;
      if (table.moveToDevice()) state.tableShadow.resized(key, table, footprint);
      state.l2Cache.insert(key, table, l1Index);
      return;
    }
    const table = run.table as QedTable;
    const footprint = table.footprintBytes;
    fillEntries(table, l2Index, nclusters, cluster, cs);
    const l2Offset = state.l1Table.get(Math.floor(pos / state.l2CoverageBytes));
    if (table.footprintBytes !== footprint) {
      state.tableShadow.resized(l2Offset * state.clusterSizeInverse, table, footprint);
    }
    this.#writeSectors(l2Offset, table, l2Index, nclusters, 'l2', entryBytes);
  }

  /**
   * qed_write_table: one write of the sectors holding entries [index, index + n), whose new
   * values are `entryBytes`. While the shadow vouches that the device holds every table as the
   * engine last wrote it, the write is described as those entries over unchanged sectors; the
   * whole sectors go along where they cost nothing (a dense table), where the device needs them
   * (one that is not a MemoryDevice), and under the test suite, which checks the claim.
   */
  #writeSectors(
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
    const firstByte = Math.floor((index * 8) / SECTOR_BYTES) * SECTOR_BYTES;
    const endByte = Math.ceil(((index + n) * 8) / SECTOR_BYTES) * SECTOR_BYTES;
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
    const write = whole === undefined ? this.#unchangedBased : this.#unchangedWithWhole;
    if (whole !== undefined) this.#unchangedWithWhole.whole = whole;
    writePatched(state.device, tableOffsetBytes + firstByte, endByte - firstByte, write, kind);
  }

  /** Entries `cluster`, `cluster` + cs, … (or n zero markers) in on-disk form, in a scratch buffer. */
  #encodeEntries(n: number, cluster: number, clusterSizeBytes: number): Uint8Array {
    if (this.#entryScratch.length < n * 8) {
      this.#entryScratch = new Uint8Array(Math.max(n * 8, this.#entryScratch.length * 2));
      this.#entryWords = new Uint32Array(this.#entryScratch.buffer);
    }
    const words = this.#entryWords;
    for (let i = 0; i < n; i++) {
      const value = cluster === QED_CLUSTER_ZERO_MARKER ? cluster : cluster + i * clusterSizeBytes;
      const hi = Math.floor(value / TWO_POW_32);
      words[2 * i] = value - hi * TWO_POW_32;
      words[2 * i + 1] = hi;
    }
    return this.#entryScratch.subarray(0, n * 8);
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

/** Backing-file bytes; past the backing file's end reads as zeros (as QEMU's block layer pads). */
export function readBackingClipped(
  backing: { readonly virtualSizeBytes: number; read(o: number, l: number): Uint8Array },
  posBytes: number,
  lengthBytes: number,
): Uint8Array {
  const available = Math.max(0, Math.min(lengthBytes, backing.virtualSizeBytes - posBytes));
  if (available === lengthBytes) return backing.read(posBytes, lengthBytes);
  const out = new Uint8Array(lengthBytes);
  if (available > 0) out.set(backing.read(posBytes, available));
  return out;
}
