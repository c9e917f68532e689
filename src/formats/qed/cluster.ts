import type { IoKind } from '../../device/types.ts';
import { ImageIoError } from '../../util/errors.ts';
import { QED_CLUSTER_UNALLOCATED, QED_CLUSTER_ZERO_MARKER } from './constants.ts';
import type { QedState } from './state.ts';
import { QedTable, readTable } from './table.ts';
import type { ReadNoting } from './table-shadow.ts';

/** What qed_find_cluster reports for a run (QEMU's return codes, 0..3). */
export const ClusterKind = { Found: 0, Zero: 1, L2Missing: 2, L1Missing: 3 } as const;
export type ClusterKind = (typeof ClusterKind)[keyof typeof ClusterKind];

/** Reused result of `findCluster` (one per image), so lookups allocate nothing. */
export interface ClusterRun {
  kind: ClusterKind;
  /** Host offset of the run's first byte (Found), else 0 or 1 as in the L2 entry. */
  hostOffsetBytes: number;
  lengthBytes: number;
  /** The L2 table the run came from (undefined for L1Missing). */
  table: QedTable | undefined;
  l2Index: number;
}

export function newClusterRun(): ClusterRun {
  return {
    kind: ClusterKind.L1Missing,
    hostOffsetBytes: 0,
    lengthBytes: 0,
    table: undefined,
    l2Index: 0,
  };
}

/** A device that reads into the caller's buffer (MeteredDevice.readInto). */
interface ReadingInto {
  readInto(offsetBytes: number, out: Uint8Array, kind: IoKind): void;
}

/**
 * The L2 table at `offsetBytes`, through the cache (a miss reads the whole table). `keepCopy`
 * false (the check's one pass over every table) keeps no shadow copy of a table read from the file:
 * 512 MiB of copies nobody asks for again would cost the check more than its reads. `reuse`: a
 * table nobody holds any more, whose buffer a miss may read into instead of a fresh one.
 * `fill`: supplies a missed table's bytes from somewhere already read (the check's read-ahead
 * window); the read is then charged with `noteRead`, the same ops, bytes and time.
 */
export function loadL2Table(
  state: QedState,
  offsetBytes: number,
  l1Index = -1,
  keepCopy = true,
  reuse?: QedTable,
  fill?: (offsetBytes: number, out: Uint8Array) => boolean,
): QedTable {
  // Keyed by cluster index: small integers hash faster than offsets past 2^31.
  const key = offsetBytes * state.clusterSizeInverse;
  const cached = state.l2Cache.find(key, l1Index);
  if (cached) return cached;
  const shadowed = state.tableShadow.get(key);
  if (shadowed) return commitShadowedMiss(state, key, offsetBytes, shadowed, l1Index);
  return loadMissedL2Table(state, key, offsetBytes, l1Index, keepCopy, reuse, fill);
}

/**
 * A cache miss on a table the shadow keeps: QEMU re-reads the whole table, charged here with
 * `noteRead`; the table enters the cache.
 */
function commitShadowedMiss(
  state: QedState,
  key: number,
  offsetBytes: number,
  table: QedTable,
  l1Index: number,
): QedTable {
  (state.device as unknown as ReadNoting).noteRead(offsetBytes, state.tableBytes, 'l2');
  return state.l2Cache.insert(key, table, l1Index, true);
}

/** loadL2Table after a cache miss on a table the shadow does not keep: it is read. */
function loadMissedL2Table(
  state: QedState,
  key: number,
  offsetBytes: number,
  l1Index: number,
  keepCopy: boolean,
  reuse: QedTable | undefined,
  fill: ((offsetBytes: number, out: Uint8Array) => boolean) | undefined,
): QedTable {
  let table: QedTable;
  const target =
    fill === undefined
      ? undefined
      : reuse !== undefined && reuse.bytes.length === state.tableBytes
        ? reuse
        : new QedTable(new Uint8Array(state.tableBytes));
  if (target !== undefined && fill?.(offsetBytes, target.bytes)) {
    (state.device as unknown as ReadNoting).noteRead(offsetBytes, state.tableBytes, 'l2');
    table = target;
  } else if (
    reuse !== undefined &&
    reuse.bytes.length === state.tableBytes &&
    typeof (state.device as Partial<ReadingInto>).readInto === 'function'
  ) {
    (state.device as unknown as ReadingInto).readInto(offsetBytes, reuse.bytes, 'l2');
    table = reuse;
  } else {
    table = readTable(state.device, offsetBytes, state.tableEntries, 'l2');
  }
  if (keepCopy) state.tableShadow.add(key, table);
  else state.tableShadow.claim(key);
  return state.l2Cache.insert(key, table, l1Index, true);
}

/**
 * qed_find_cluster: classify the run starting at `posBytes`, limited to the L2 table's range
 * and to entries of one kind (0s, 1s, or offsets each one cluster past the previous).
 */
export function findCluster(
  state: QedState,
  posBytes: number,
  lengthBytes: number,
  out: ClusterRun,
): ClusterRun {
  const cs = state.clusterSizeBytes;
  const l1Index = Math.floor(posBytes * state.l2CoverageInverse);
  const l2End = (l1Index + 1) * state.l2CoverageBytes;
  let len = Math.min(lengthBytes, l2End - posBytes);
  const clusterIndex = Math.floor(posBytes * state.clusterSizeInverse);
  const index = clusterIndex - l1Index * state.tableEntries;
  const inCluster = posBytes - clusterIndex * cs;
  const l2Offset = state.l1Table.get(l1Index);
  if (l2Offset === QED_CLUSTER_UNALLOCATED) {
    out.kind = ClusterKind.L1Missing;
    out.hostOffsetBytes = 0;
    out.lengthBytes = len;
    out.table = undefined;
    out.l2Index = index;
    return out;
  }
  if (!state.isTableOffsetValid(l2Offset)) {
    throw new ImageIoError('EINVAL', `L1 entry ${l1Index} points to invalid L2 offset ${l2Offset}`);
  }
  // loadL2Table, with the bookkeeping of a miss on a shadowed table (the usual case of a random
  // workload over a big image on the simulation stack) after the entry's read: that read is
  // usually a cache miss into the device's memory, and the bookkeeping, which does not depend on
  // it, then runs while the line is on its way. Nothing it does reads or writes table entries.
  const key = l2Offset * state.clusterSizeInverse;
  let table = state.l2Cache.find(key, l1Index);
  let shadowedMiss: QedTable | undefined;
  if (table === undefined) {
    shadowedMiss = state.tableShadow.get(key);
    table =
      shadowedMiss ?? loadMissedL2Table(state, key, l2Offset, l1Index, true, undefined, undefined);
  }
  const first = table.get(index);
  if (shadowedMiss !== undefined) commitShadowedMiss(state, key, l2Offset, shadowedMiss, l1Index);
  const wanted = state.bytesToClustersQemu(inCluster + len);
  const end = Math.min(index + wanted, state.tableEntries);
  const step = first === QED_CLUSTER_UNALLOCATED || first === QED_CLUSTER_ZERO_MARKER ? 0 : cs;
  const i = index + 1 < end ? table.runEnd(index, end, first, step) : index + 1;
  len = Math.min(len, (i - index) * cs - inCluster);
  out.table = table;
  out.l2Index = index;
  out.lengthBytes = len;
  if (first === QED_CLUSTER_UNALLOCATED) {
    out.kind = ClusterKind.L2Missing;
    out.hostOffsetBytes = 0;
  } else if (first === QED_CLUSTER_ZERO_MARKER) {
    out.kind = ClusterKind.Zero;
    out.hostOffsetBytes = 1;
  } else if (state.isClusterOffsetValid(first)) {
    out.kind = ClusterKind.Found;
    out.hostOffsetBytes = first + inCluster;
  } else {
    throw new ImageIoError(
      'EINVAL',
      `L2 entry ${index} of table at ${l2Offset} points to invalid cluster offset ${first}`,
    );
  }
  return out;
}
