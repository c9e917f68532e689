import { zeroBytes } from '../../device/types.ts';
import { ClusterKind, type ClusterRun, findCluster, newClusterRun } from './cluster.ts';
import { QED_CLUSTER_ZERO_MARKER } from './constants.ts';
import type { NeedCheckTimer } from './need-check.ts';
import type { QedState } from './state.ts';
import { QedTable } from './table.ts';
import { TableWriter } from './table-writer.ts';

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
export class QedWritePath {
  readonly #state: QedState;
  readonly #timer: NeedCheckTimer;
  readonly #run: ClusterRun = newClusterRun();
  /** Allocating requests so far (for reports). */
  allocatingRequests = 0;
  readonly #tables: TableWriter;
  /** Zero-buffer views by length in sectors: COW fills take a few lengths over and over. */
  readonly #zeroViews: Array<Uint8Array | undefined> = [];

  constructor(state: QedState, timer: NeedCheckTimer) {
    this.#state = state;
    this.#timer = timer;
    this.#tables = new TableWriter(state);
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
      // A free list that hands out a table's cluster (a corrupt one) must not go unnoticed by
      // the shadow, which vouches that only table writes change tables.
      if (reused) state.tableShadow.noteDataWrite(cluster, nclusters * state.clusterSizeBytes);
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
    // Within a cluster a length is an int32: `&` tests whole sectors where `%` on a double (offsets
    // past 2^31 make every length one) is a library call.
    if (lengthBytes > this.#state.clusterSizeBytes || (lengthBytes & 511) !== 0) {
      return zeroBytes(lengthBytes);
    }
    // An int32 index: a double one (lengths come out of offset arithmetic as doubles) makes the
    // array access a generic keyed load.
    const index = lengthBytes >>> 9;
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
    if (run.kind === ClusterKind.L1Missing) {
      // A new table starts sparse (it costs memory by its entries, not its size).
      const l2Offset = state.allocClusters(state.tableSizeClusters);
      const table = QedTable.empty(state.tableEntries, state.tableShadow, l2Offset);
      this.#tables.writeNewTable(l2Offset, table, l2Index, nclusters, cluster);
      state.device.flush();
      const l1Index = Math.floor(pos * state.l2CoverageInverse);
      this.#tables.updateL1Entry(l1Index, l2Offset);
      const key = l2Offset * state.clusterSizeInverse;
      state.tableShadow.add(key, table);
      // Every entry is on the device now: where the shadow vouches for it, the table keeps none.
      const footprint = table.footprintBytes;
      if (table.moveToDevice()) state.tableShadow.resized(key, table, footprint);
      state.l2Cache.insert(key, table, l1Index);
      return;
    }
    const l2Offset = state.l1Table.get(Math.floor(pos * state.l2CoverageInverse));
    this.#tables.updateEntries(l2Offset, run.table as QedTable, l2Index, nclusters, cluster);
  }
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
