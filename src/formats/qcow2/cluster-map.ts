import { ImageIoError } from '../../util/errors.ts';
import {
  DISCARD_ALWAYS,
  DISCARD_OTHER,
  EFBIG,
  INCOMPAT_CORRUPT,
  MAX_L1_BYTES,
} from './constants.ts';
import { pastGrowthLimit } from './file-node.ts';
import {
  ClusterType,
  clusterTypeOf,
  entryCopied,
  entryHi,
  entryLo,
  entryOffset,
  offsetOf,
  setEntry,
} from './l2-entry.ts';
import type { Qcow2State } from './state.ts';
import { cHex } from './u64.ts';

/**
 * `x % m` for a non-negative x and a power-of-two m, without V8's fmod call (about 25 ns for an
 * offset past 2^31, several per request): x / m, its floor and the product are all exact.
 */
function modPow2(x: number, m: number): number {
  return x - Math.floor(x / m) * m;
}

export function l1IndexOf(s: Qcow2State, guestOffset: number): number {
  return Math.floor(guestOffset / s.clusterSize / s.l2Size);
}

export function l2SliceIndexOf(s: Qcow2State, guestOffset: number): number {
  return modPow2(Math.floor(guestOffset / s.clusterSize), s.l2SliceSize);
}

function l2IndexOf(s: Qcow2State, guestOffset: number): number {
  return modPow2(Math.floor(guestOffset / s.clusterSize), s.l2Size);
}

/**
 * qcow2_signal_corruption(fatal): on a writable image the corrupt bit is set with a header
 * rewrite and the node stops serving requests; read-only images only report it.
 */
export function corrupt(s: Qcow2State, message: string): ImageIoError {
  if (s.readOnly) {
    return new ImageIoError(
      'QCOW2_CORRUPT',
      `qcow2: Image is corrupt: ${message}; further non-fatal corruption events will be suppressed`,
    );
  }
  if (!s.broken) {
    s.headerCluster.header.incompatibleFeatures |= BigInt(INCOMPAT_CORRUPT);
    s.updateHeader();
    s.broken = true;
  }
  return new ImageIoError(
    'QCOW2_CORRUPT',
    `qcow2: Marking image as corrupt: ${message}; further corruption events will be suppressed`,
  );
}

/** l2_load: the slice of the L2 at `l2Offset` that holds `guestOffset`'s entry. */
export function loadL2Slice(s: Qcow2State, guestOffset: number, l2Offset: number): number {
  const startOfSlice = 8 * (l2IndexOf(s, guestOffset) - l2SliceIndexOf(s, guestOffset));
  return s.l2Cache.get(l2Offset + startOfSlice);
}

/**
 * get_cluster_table: the cache slot of the writable L2 slice for `guestOffset` (release with
 * `s.l2Cache.put(slot)`; the entry's index in it is `l2SliceIndexOf`), growing the L1 and
 * allocating (or COW-copying) the L2 when its L1 entry lacks COPIED. A slot number, not an
 * object: the write path calls this three times per request.
 */
export function getClusterTable(s: Qcow2State, guestOffset: number): number {
  const l1Index = l1IndexOf(s, guestOffset);
  if (l1Index >= s.l1Size) growL1Table(s, l1Index + 1, false);
  let l2Offset = entryOffset(s.l1, l1Index);
  if (modPow2(l2Offset, s.clusterSize) !== 0) {
    throw corrupt(s, `L2 table offset ${cHex(l2Offset)} unaligned (L1 index: ${cHex(l1Index)})`);
  }
  if (entryCopied(s.l1, l1Index) && pastGrowthLimit(s.device.size(), l2Offset + s.clusterSize)) {
    // QEMU would update it in place, growing a sparse file to wherever the entry points.
    throw corrupt(
      s,
      `L2 table offset ${cHex(l2Offset)} lies far past the end of the file (L1 index: ${cHex(l1Index)})`,
    );
  }
  if (!entryCopied(s.l1, l1Index)) {
    if (pastGrowthLimit(s.device.size(), s.l1TableOffset + (l1Index + 1) * 8)) {
      // The L1 entry would be written there (QEMU would, growing a sparse file that far).
      throw corrupt(
        s,
        `Active L1 table offset ${cHex(s.l1TableOffset)} lies far past the end of the file`,
      );
    }
    l2Allocate(s, l1Index);
    if (l2Offset) s.refcounts.freeClusters(l2Offset, s.clusterSize, DISCARD_OTHER);
    l2Offset = entryOffset(s.l1, l1Index);
  }
  return loadL2Slice(s, guestOffset, l2Offset);
}

/**
 * l2_allocate: refcount +1 (cached) → refblocks flushed → every slice created (zeroed or copied
 * from the old L2) and the whole L2 cache flushed → L1 entry written and flushed.
 */
export function l2Allocate(s: Qcow2State, l1Index: number): void {
  const oldL2Offset = entryOffset(s.l1, l1Index);
  const l2Offset = s.refcounts.allocClusters(s.clusterSize);
  if (l2Offset === 0) throw corrupt(s, 'Preventing invalid allocation of L2 table at offset 0');
  s.refcounts.refblockCache.flush();
  const sliceBytes = s.l2SliceBytes;
  const nSlices = s.clusterSize / sliceBytes;
  for (let slice = 0; slice < nSlices; slice++) {
    const slot = s.l2Cache.getEmpty(l2Offset + slice * sliceBytes);
    if (oldL2Offset === 0) {
      s.l2Cache.zeroTable(slot);
    } else {
      const oldSlot = s.l2Cache.get(oldL2Offset + slice * sliceBytes);
      s.l2Cache.table(slot).set(s.l2Cache.table(oldSlot));
      s.l2Cache.put(oldSlot);
      s.l2Cache.markDirty(slot);
    }
    s.l2Cache.put(slot);
  }
  s.l2Cache.flush();
  setEntry(s.l1, l1Index, l2Offset, true);
  s.writeL1Entry(l1Index);
}

/**
 * qcow2_grow_l1_table: 1.5× steps unless exact; new table allocated, refblocks flushed, table
 * written+flushed, header (l1_size, l1_table_offset) written+flushed, old table freed.
 */
export function growL1Table(s: Qcow2State, minSize: number, exact: boolean): void {
  if (minSize <= s.l1Size) return;
  let newSize: number;
  if (exact) {
    newSize = minSize;
  } else {
    newSize = Math.max(s.l1Size, 1);
    while (minSize > newSize) newSize = Math.ceil((newSize * 3) / 2);
  }
  if (newSize > MAX_L1_BYTES / 8)
    throw new ImageIoError('QCOW2_EFBIG', `L1 table would exceed 32 MiB (${EFBIG})`);
  const newTable = new Uint8Array(newSize * 8);
  newTable.set(s.l1.subarray(0, s.l1Size * 8));
  const newOffset = s.refcounts.allocClusters(newSize * 8);
  s.refcounts.refblockCache.flush();
  s.device.write(newOffset, newTable, 'l1');
  s.device.flush();
  s.writeHeaderField(36, s.headerU32U64(newSize, newOffset));
  const oldOffset = s.l1TableOffset;
  const oldSize = s.l1Size;
  s.l1TableOffset = newOffset;
  s.l1 = newTable;
  s.l1Size = newSize;
  s.headerCluster.header.l1Size = newSize;
  s.headerCluster.header.l1TableOffset = newOffset;
  s.refcounts.freeClusters(oldOffset, oldSize * 8, DISCARD_OTHER);
}

/** Result of qcow2_get_host_offset. */
export interface HostMapping {
  type: ClusterType;
  /** Host byte offset for Normal/ZeroAlloc (offset into the cluster included), 0 otherwise. */
  hostOffset: number;
  /** Bytes from the guest offset that share this type (and host contiguity). */
  bytes: number;
  /** Raw entry halves (for compressed clusters). */
  hi: number;
  lo: number;
}

/** qcow2_get_host_offset: the run of same-type, host-contiguous clusters at `guestOffset`. */
export function getHostOffset(
  s: Qcow2State,
  guestOffset: number,
  bytes: number,
  out: HostMapping,
): HostMapping {
  const cs = s.clusterSize;
  const offsetInCluster = modPow2(guestOffset, cs);
  let bytesNeeded = bytes + offsetInCluster;
  const sliceIndex = l2SliceIndexOf(s, guestOffset);
  let bytesAvailable = (s.l2SliceSize - sliceIndex) * cs;
  if (bytesNeeded > bytesAvailable) bytesNeeded = bytesAvailable;
  out.hostOffset = 0;
  out.type = ClusterType.Unallocated;
  out.hi = 0;
  out.lo = 0;
  const l1Index = l1IndexOf(s, guestOffset);
  const l2Offset = l1Index < s.l1Size ? entryOffset(s.l1, l1Index) : 0;
  if (l2Offset !== 0) {
    if (modPow2(l2Offset, cs) !== 0) {
      throw corrupt(s, `L2 table offset ${cHex(l2Offset)} unaligned (L1 index: ${cHex(l1Index)})`);
    }
    const slot = loadL2Slice(s, guestOffset, l2Offset);
    const table = s.l2Cache.table(slot);
    const hi = entryHi(table, sliceIndex);
    const lo = entryLo(table, sliceIndex);
    const type = clusterTypeOf(hi, lo);
    out.type = type;
    out.hi = hi;
    out.lo = lo;
    const nbClusters = Math.ceil(bytesNeeded / cs);
    let count = 1;
    if (type === ClusterType.Normal || type === ClusterType.ZeroAlloc) {
      const hostCluster = offsetOf(hi, lo);
      if (modPow2(hostCluster, cs) !== 0) {
        s.l2Cache.put(slot);
        throw corrupt(
          s,
          `Cluster allocation offset ${cHex(hostCluster)} unaligned (L2 offset: ${cHex(l2Offset)}, L2 index: ${cHex(sliceIndex)})`,
        );
      }
      out.hostOffset = hostCluster + offsetInCluster;
      let expected = hostCluster;
      for (; count < nbClusters; count++) {
        const h = entryHi(table, sliceIndex + count);
        const l = entryLo(table, sliceIndex + count);
        expected += cs;
        if (clusterTypeOf(h, l) !== type || offsetOf(h, l) !== expected) break;
      }
    } else if (type !== ClusterType.Compressed) {
      for (; count < nbClusters; count++) {
        if (
          clusterTypeOf(entryHi(table, sliceIndex + count), entryLo(table, sliceIndex + count)) !==
          type
        )
          break;
      }
    }
    s.l2Cache.put(slot);
    bytesAvailable = count * cs;
  }
  if (bytesAvailable > bytesNeeded) bytesAvailable = bytesNeeded;
  out.bytes = bytesAvailable - offsetInCluster;
  return out;
}

/** qcow2_free_any_cluster for a standard L2 entry. */
export function freeAnyCluster(
  s: Qcow2State,
  hi: number,
  lo: number,
  type: 0 | 1 | 2 | 3 | 4,
): void {
  const ctype = clusterTypeOf(hi, lo);
  if (ctype === ClusterType.Normal || ctype === ClusterType.ZeroAlloc) {
    s.refcounts.freeClusters(offsetOf(hi, lo), s.clusterSize, type);
  } else if (ctype === ClusterType.Compressed) {
    freeCompressed(s, hi, lo, type);
  }
}

function freeCompressed(s: Qcow2State, hi: number, lo: number, type: 0 | 1 | 2 | 3 | 4): void {
  const x = 62 - (s.clusterBits - 8);
  const value = (BigInt(hi & 0x3fffffff) << 32n) | BigInt(lo >>> 0);
  const offset = Number(value & ((1n << BigInt(x)) - 1n));
  const sectors = Number(value >> BigInt(x));
  // qcow2_free_any_cluster frees whole 512-byte sectors of a compressed run.
  const start = offset - (offset % 512);
  s.refcounts.freeClusters(start, (sectors + 1) * 512, type);
}

export { DISCARD_ALWAYS };
