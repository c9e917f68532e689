import { freeAnyCluster, getClusterTable, l2SliceIndexOf } from './cluster-map.ts';
import { DISCARD_REQUEST, type DiscardType } from './constants.ts';
import { ClusterType, clusterTypeOf, entryHi, entryLo, setEntryRaw } from './l2-entry.ts';
import type { Qcow2State } from './state.ts';

/**
 * qcow2_cluster_discard (full_discard = false): per cluster of each L2 slice, the entry becomes
 * ZERO (v3) where there is a backing file or the cluster was allocated, then the old cluster's
 * refcount drops; freed ranges are batched and hole-punched at the end.
 */
export function clusterDiscard(
  s: Qcow2State,
  offset: number,
  bytes: number,
  type: DiscardType,
): void {
  let nbClusters = Math.ceil(bytes / s.clusterSize);
  s.refcounts.cacheDiscards = true;
  try {
    while (nbClusters > 0) {
      const ref = { slot: getClusterTable(s, offset), index: l2SliceIndexOf(s, offset) };
      const n = Math.min(nbClusters, s.l2SliceSize - ref.index);
      const table = s.l2Cache.table(ref.slot);
      const v3 = s.headerCluster.header.version >= 3;
      for (let i = 0; i < n; i++) {
        const hi = entryHi(table, ref.index + i);
        const lo = entryLo(table, ref.index + i);
        const t = clusterTypeOf(hi, lo);
        const allocated =
          t === ClusterType.Normal || t === ClusterType.ZeroAlloc || t === ClusterType.Compressed;
        let newHi = hi;
        let newLo = lo;
        if (s.backing || allocated) {
          newHi = 0;
          newLo = v3 ? 1 : 0;
        }
        if (newHi === hi && newLo === lo) continue;
        s.l2Cache.markDirtyBytes(ref.slot, (ref.index + i) * 8, (ref.index + i + 1) * 8);
        setEntryRaw(table, ref.index + i, newHi, newLo);
        freeAnyCluster(s, hi, lo, type);
      }
      s.l2Cache.put(ref.slot);
      nbClusters -= n;
      offset += n * s.clusterSize;
    }
  } finally {
    s.refcounts.cacheDiscards = false;
    s.refcounts.processDiscards(0);
  }
}

/**
 * qcow2_subcluster_zeroize on whole clusters (v3): the ZERO flag is set; with MAY_UNMAP (and
 * always for compressed clusters) the cluster is freed as well.
 */
export function clusterZeroize(
  s: Qcow2State,
  offset: number,
  bytes: number,
  mayUnmap: boolean,
): void {
  let nbClusters = Math.ceil(bytes / s.clusterSize);
  s.refcounts.cacheDiscards = true;
  try {
    while (nbClusters > 0) {
      const ref = { slot: getClusterTable(s, offset), index: l2SliceIndexOf(s, offset) };
      const n = Math.min(nbClusters, s.l2SliceSize - ref.index);
      const table = s.l2Cache.table(ref.slot);
      for (let i = 0; i < n; i++) {
        const hi = entryHi(table, ref.index + i);
        const lo = entryLo(table, ref.index + i);
        const t = clusterTypeOf(hi, lo);
        const allocated =
          t === ClusterType.Normal || t === ClusterType.ZeroAlloc || t === ClusterType.Compressed;
        const unmap = t === ClusterType.Compressed || (mayUnmap && allocated);
        const newHi = unmap ? 0 : hi;
        const newLo = ((unmap ? 0 : lo) | 1) >>> 0;
        if (newHi === hi && newLo === lo) continue;
        s.l2Cache.markDirtyBytes(ref.slot, (ref.index + i) * 8, (ref.index + i + 1) * 8);
        setEntryRaw(table, ref.index + i, newHi, newLo);
        if (unmap) freeAnyCluster(s, hi, lo, DISCARD_REQUEST);
      }
      s.l2Cache.put(ref.slot);
      nbClusters -= n;
      offset += n * s.clusterSize;
    }
  } finally {
    s.refcounts.cacheDiscards = false;
    s.refcounts.processDiscards(0);
  }
}
