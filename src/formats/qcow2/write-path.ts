import { corrupt, freeAnyCluster, getClusterTable, l2SliceIndexOf } from './cluster-map.ts';
import { DISCARD_NEVER } from './constants.ts';
import { pastGrowthLimit } from './file-node.ts';
import { setEntry } from './l2-entry.ts';
import { markDirty } from './lazy-refcounts.ts';
import type { Qcow2State } from './state.ts';
import { cHex } from './u64.ts';

/** QEMU's QCowL2Meta: one allocation (or in-place ZERO_ALLOC write) whose L2 entries need linking. */
export interface L2Meta {
  allocOffset: number;
  /** Guest offset of the first cluster. */
  offset: number;
  nbClusters: number;
  keepOld: boolean;
  cowStartOffset: number;
  cowStartBytes: number;
  cowEndOffset: number;
  cowEndBytes: number;
  skipCow: boolean;
  /** Guest data merged into the COW write (merge_cow). */
  data: Uint8Array | null;
}

/** What the engine needs from the image beyond its state: guest reads and zero detection. */
export interface GuestIo {
  /** qcow2's own read path (COW source reads go through it, so backing files are honoured). */
  readGuest(offset: number, bytes: number): Uint8Array;
  /** bdrv_co_is_zero_fast over the backing chain (want_zero = false). */
  isZero(offset: number, bytes: number): boolean;
}

/**
 * `x % m` for a non-negative x and a power-of-two m, without V8's fmod call (about 25 ns for an
 * offset past 2^31, several per request): x / m, its floor and the product are all exact.
 */
function modPow2(x: number, m: number): number {
  return x - Math.floor(x / m) * m;
}

const INV = -1;

// Local copies of the entry readers: the write path calls them per cluster, and imported
// bindings cost a getter call each under the TypeScript loader.
const T_UNALLOCATED = 0;
const T_ZERO_PLAIN = 1;
const T_ZERO_ALLOC = 2;
const T_NORMAL = 3;
const T_COMPRESSED = 4;
function hiAt(t: Uint8Array, i: number): number {
  const p = i * 8;
  return (
    (((t[p] as number) << 24) |
      ((t[p + 1] as number) << 16) |
      ((t[p + 2] as number) << 8) |
      (t[p + 3] as number)) >>>
    0
  );
}
function loAt(t: Uint8Array, i: number): number {
  const p = i * 8 + 4;
  return (
    (((t[p] as number) << 24) |
      ((t[p + 1] as number) << 16) |
      ((t[p + 2] as number) << 8) |
      (t[p + 3] as number)) >>>
    0
  );
}
function typeOf(hi: number, lo: number): number {
  if (hi & 0x40000000) return T_COMPRESSED;
  const hasOffset = (hi & 0x00ffffff) !== 0 || (lo & 0xfffffe00) !== 0;
  if (lo & 1) return hasOffset ? T_ZERO_ALLOC : 1;
  return hasOffset ? T_NORMAL : T_UNALLOCATED;
}
function offsetFrom(hi: number, lo: number): number {
  return (hi & 0x00ffffff) * 4294967296 + ((lo & 0xfffffe00) >>> 0);
}

function needsNewAlloc(hi: number, lo: number): boolean {
  const t = typeOf(hi, lo);
  if (t === T_NORMAL || t === T_ZERO_ALLOC) return (hi & 0x80000000) === 0;
  return true;
}

/** count_single_write_clusters. */
function countSingleWriteClusters(
  s: Qcow2State,
  n: number,
  table: Uint8Array,
  index: number,
  newAlloc: boolean,
): number {
  let expected = offsetFrom(hiAt(table, index), loAt(table, index));
  let i = 0;
  for (; i < n; i++) {
    const hi = hiAt(table, index + i);
    const lo = loAt(table, index + i);
    if (needsNewAlloc(hi, lo) !== newAlloc) break;
    if (!newAlloc) {
      if (expected !== offsetFrom(hi, lo)) break;
      expected += s.clusterSize;
    }
  }
  return i;
}

/** calculate_l2_meta without subclusters; returns null when nothing needs linking. */
function calculateL2Meta(
  s: Qcow2State,
  hostClusterOffset: number,
  guestOffset: number,
  bytes: number,
  table: Uint8Array,
  index: number,
  keepOld: boolean,
): L2Meta | null {
  const cs = s.clusterSize;
  const cowStartTo = modPow2(guestOffset, cs);
  const cowEndFrom = cowStartTo + bytes;
  const nbClusters = Math.ceil(cowEndFrom / cs);
  if (keepOld) {
    let allNormal = true;
    for (let i = 0; i < nbClusters; i++) {
      if (typeOf(hiAt(table, index + i), loAt(table, index + i)) !== T_NORMAL) {
        allNormal = false;
        break;
      }
    }
    if (allNormal) return null;
  }
  let cowStartFrom = 0;
  let cowEndTo = Math.ceil(cowEndFrom / cs) * cs;
  if (keepOld) {
    if (typeOf(hiAt(table, index), loAt(table, index)) === T_NORMAL) cowStartFrom = cowStartTo;
    const last = index + nbClusters - 1;
    if (typeOf(hiAt(table, last), loAt(table, last)) === T_NORMAL) cowEndTo = cowEndFrom;
  }
  return {
    allocOffset: hostClusterOffset,
    offset: guestOffset - cowStartTo,
    nbClusters,
    keepOld,
    cowStartOffset: cowStartFrom,
    cowStartBytes: cowStartTo - cowStartFrom,
    cowEndOffset: cowEndFrom,
    cowEndBytes: cowEndTo - cowEndFrom,
    skipCow: false,
    data: null,
  };
}

interface Cursor {
  hostOffset: number;
  bytes: number;
}

/** handle_copied: clusters writable in place (COPIED); returns 1 when it made progress. */
function handleCopied(s: Qcow2State, guestOffset: number, cur: Cursor, metas: L2Meta[]): number {
  const cs = s.clusterSize;
  let nb = Math.ceil((modPow2(guestOffset, cs) + cur.bytes) / cs);
  nb = Math.min(nb, s.l2SliceSize - l2SliceIndexOf(s, guestOffset));
  const slot = getClusterTable(s, guestOffset);
  const index = l2SliceIndexOf(s, guestOffset);
  const table = s.l2Cache.table(slot);
  const hi = hiAt(table, index);
  const lo = loAt(table, index);
  const clusterOffset = offsetFrom(hi, lo);
  let ret = 0;
  if (!needsNewAlloc(hi, lo)) {
    if (pastGrowthLimit(s.device.size(), clusterOffset + cs)) {
      s.l2Cache.put(slot);
      // QEMU would write the data in place, growing a sparse file to wherever the entry points.
      throw corrupt(
        s,
        `Data cluster offset ${cHex(clusterOffset)} lies far past the end of the file (L2 index: ${cHex(index)})`,
      );
    }
    if (cur.hostOffset !== INV && clusterOffset !== cur.hostOffset) {
      cur.bytes = 0;
    } else {
      const keep = countSingleWriteClusters(s, nb, table, index, false);
      cur.bytes = Math.min(cur.bytes, keep * cs - modPow2(guestOffset, cs));
      const m = calculateL2Meta(s, clusterOffset, guestOffset, cur.bytes, table, index, true);
      if (m) prependMeta(metas, m);
      ret = 1;
    }
  }
  s.l2Cache.put(slot);
  if (ret > 0) cur.hostOffset = clusterOffset + modPow2(guestOffset, cs);
  return ret;
}

/**
 * QEMU's QLIST_INSERT_HEAD on the request's L2Meta list. The list is nearly always empty here, and
 * V8's `unshift` is a call into its runtime even then: a push does the same at a tenth the cost.
 */
function prependMeta(metas: L2Meta[], m: L2Meta): void {
  if (metas.length === 0) metas.push(m);
  else metas.unshift(m);
}

/** handle_alloc: new clusters for unallocated or shared ones, contiguous with cur.hostOffset if set. */
function handleAlloc(s: Qcow2State, guestOffset: number, cur: Cursor, metas: L2Meta[]): number {
  const cs = s.clusterSize;
  let nb = Math.ceil((modPow2(guestOffset, cs) + cur.bytes) / cs);
  nb = Math.min(nb, s.l2SliceSize - l2SliceIndexOf(s, guestOffset));
  const slot = getClusterTable(s, guestOffset);
  const index = l2SliceIndexOf(s, guestOffset);
  try {
    const table = s.l2Cache.table(slot);
    nb = countSingleWriteClusters(s, nb, table, index, true);
    let allocOffset: number;
    if (cur.hostOffset === INV) {
      allocOffset = s.refcounts.allocClusters(nb * cs);
    } else {
      allocOffset = Math.floor(cur.hostOffset / cs) * cs;
      nb = s.refcounts.allocClustersAt(allocOffset, nb);
    }
    if (nb === 0) {
      cur.bytes = 0;
      return 0;
    }
    const requested = cur.bytes + modPow2(guestOffset, cs);
    const nbBytes = Math.min(requested, nb * cs);
    cur.hostOffset = allocOffset + modPow2(guestOffset, cs);
    cur.bytes = Math.min(cur.bytes, nbBytes - modPow2(guestOffset, cs));
    const m = calculateL2Meta(s, allocOffset, guestOffset, cur.bytes, table, index, false);
    if (m) prependMeta(metas, m);
    return 1;
  } finally {
    s.l2Cache.put(slot);
  }
}

/** A host-contiguous piece of a request: where it goes and how many bytes it covers. */
export interface HostPiece {
  hostOffset: number;
  bytes: number;
}

/**
 * The cursor handle_copied/handle_alloc advance: one for the module, reused by every request
 * (the write path never re-enters itself), so a request allocates no cursor object.
 */
const CURSOR: Cursor = { hostOffset: INV, bytes: 0 };

/**
 * qcow2_alloc_host_offset: the longest host-contiguous run for [offset, offset+bytes), mixing
 * in-place clusters and new allocations. Sets the host offset and the bytes covered in `out`.
 */
export function allocHostOffset(
  s: Qcow2State,
  offset: number,
  bytes: number,
  metas: L2Meta[],
  out: HostPiece,
): HostPiece {
  let start = offset;
  let remaining = bytes;
  let clusterOffset = INV;
  let hostOffset = INV;
  let curBytes = 0;
  const cur = CURSOR;
  cur.hostOffset = INV;
  cur.bytes = 0;
  for (;;) {
    if (hostOffset === INV && clusterOffset !== INV) hostOffset = clusterOffset;
    start += curBytes;
    remaining -= curBytes;
    if (clusterOffset !== INV) clusterOffset += curBytes;
    if (remaining === 0) break;
    curBytes = remaining;
    cur.hostOffset = clusterOffset;
    cur.bytes = curBytes;
    let ret = handleCopied(s, start, cur, metas);
    clusterOffset = cur.hostOffset;
    curBytes = cur.bytes;
    if (ret) continue;
    if (curBytes === 0) break;
    ret = handleAlloc(s, start, cur, metas);
    clusterOffset = cur.hostOffset;
    curBytes = cur.bytes;
    if (ret) continue;
    break;
  }
  out.hostOffset = hostOffset;
  out.bytes = bytes - remaining;
  return out;
}

/** handle_alloc_space: zero the whole new range instead of writing zero COW buffers. */
function handleAllocSpace(s: Qcow2State, io: GuestIo, metas: L2Meta[]): void {
  for (const m of metas) {
    if (m.cowStartBytes === 0 && m.cowEndBytes === 0) continue;
    if (!isZeroCow(s, io, m)) continue;
    const start = m.allocOffset + m.cowStartOffset;
    const nbBytes = m.cowEndOffset + m.cowEndBytes - m.cowStartOffset;
    s.device.zeroRange(start, nbBytes, 'zero-fill');
    m.skipCow = true;
  }
}

function isZeroCow(s: Qcow2State, io: GuestIo, m: L2Meta): boolean {
  return (
    isZeroInCluster(s, io, m.offset + m.cowStartOffset, m.cowStartBytes) &&
    isZeroInCluster(s, io, m.offset + m.cowEndOffset, m.cowEndBytes)
  );
}

/** Switches for the write path's shortcuts; tests turn one off to compare against the full path. */
export const writePathShortcuts = {
  zeroCowFromCachedSlice: true,
  /** How many COW regions the shortcut answered (tests check that it ran). */
  zeroCowAnswers: 0,
};

/**
 * `io.isZero(offset, bytes)` for a COW region. The region lies in one cluster being allocated,
 * whose L2 slice the request has just used: when that slice is still cached and the most recently
 * released one, and its entry is unallocated (no backing file) or a plain ZERO entry, the answer
 * is `true` and the full path (a cache get and put of that slice, then a one-cluster
 * `qcow2_get_host_offset`) would change nothing (a hit, and the slice stays last in LRU order).
 * Any other case, including an entry the full path would report as corrupt, takes the full path.
 */
function isZeroInCluster(s: Qcow2State, io: GuestIo, offset: number, bytes: number): boolean {
  if (bytes === 0) return true;
  if (!writePathShortcuts.zeroCowFromCachedSlice || s.backing !== null) {
    return io.isZero(offset, bytes);
  }
  const cs = s.clusterSize;
  const clusterIndex = Math.floor(offset / cs);
  if (Math.floor((offset + bytes - 1) / cs) !== clusterIndex) return io.isZero(offset, bytes);
  const l1Index = Math.floor(clusterIndex / s.l2Size);
  const l2Offset = l1Index < s.l1Size ? offsetFrom(hiAt(s.l1, l1Index), loAt(s.l1, l1Index)) : 0;
  if (l2Offset === 0 || modPow2(l2Offset, cs) !== 0) return io.isZero(offset, bytes);
  const l2Index = modPow2(clusterIndex, s.l2Size);
  const index = modPow2(clusterIndex, s.l2SliceSize);
  const slot = s.l2Cache.lookup(l2Offset + 8 * (l2Index - index));
  if (slot < 0 || !s.l2Cache.isLastReleased(slot)) return io.isZero(offset, bytes);
  const table = s.l2Cache.table(slot);
  const hi = hiAt(table, index);
  const lo = loAt(table, index);
  const type = typeOf(hi, lo);
  // Unallocated (no backing file) or ZERO without an offset: zeros. Compressed: not zero.
  if (type === T_UNALLOCATED || type === T_ZERO_PLAIN) {
    writePathShortcuts.zeroCowAnswers++;
    return true;
  }
  if (type === T_COMPRESSED) {
    writePathShortcuts.zeroCowAnswers++;
    return false;
  }
  return io.isZero(offset, bytes);
}

/** merge_cow: one metadata whose COW regions border the data exactly takes the data along. */
function mergeCow(offset: number, data: Uint8Array, metas: L2Meta[]): boolean {
  for (const m of metas) {
    if (m.cowStartBytes === 0 && m.cowEndBytes === 0) continue;
    if (m.skipCow) continue;
    if (m.offset + m.cowStartOffset + m.cowStartBytes !== offset) continue;
    if (m.offset + m.cowEndOffset !== offset + data.length) continue;
    m.data = data;
    return true;
  }
  return false;
}

/** perform_cow: read both COW regions (merged when close), write head+data+tail or each region. */
function performCow(s: Qcow2State, io: GuestIo, m: L2Meta): void {
  if ((m.cowStartBytes === 0 && m.cowEndBytes === 0) || m.skipCow) return;
  const dataBytes = m.cowEndOffset - (m.cowStartOffset + m.cowStartBytes);
  const mergeReads = m.cowStartBytes > 0 && m.cowEndBytes > 0 && dataBytes <= 16384;
  let head: Uint8Array;
  let tail: Uint8Array;
  if (mergeReads) {
    const all = io.readGuest(
      m.offset + m.cowStartOffset,
      m.cowEndOffset + m.cowEndBytes - m.cowStartOffset,
    );
    head = all.subarray(0, m.cowStartBytes);
    tail = all.subarray(all.length - m.cowEndBytes);
  } else {
    head = m.cowStartBytes
      ? io.readGuest(m.offset + m.cowStartOffset, m.cowStartBytes)
      : new Uint8Array(0);
    tail = m.cowEndBytes
      ? io.readGuest(m.offset + m.cowEndOffset, m.cowEndBytes)
      : new Uint8Array(0);
  }
  if (m.data) {
    const buf = new Uint8Array(head.length + m.data.length + tail.length);
    buf.set(head, 0);
    buf.set(m.data, head.length);
    buf.set(tail, head.length + m.data.length);
    s.device.write(m.allocOffset + m.cowStartOffset, buf, 'data');
  } else {
    if (head.length) s.device.write(m.allocOffset + m.cowStartOffset, head, 'data');
    if (tail.length) s.device.write(m.allocOffset + m.cowEndOffset, tail, 'data');
  }
  s.l2Cache.dependsOnFlush = true;
}

/** qcow2_alloc_cluster_link_l2: COW, dirty bit (lazy), dependency, L2 entries in the cache. */
export function linkL2(s: Qcow2State, io: GuestIo, m: L2Meta): void {
  performCow(s, io, m);
  if (s.lazyRefcounts) markDirty(s);
  if (s.needAccurateRefcounts) s.l2Cache.setDependency(s.refcounts.refblockCache);
  const slot = getClusterTable(s, m.offset);
  const index = l2SliceIndexOf(s, m.offset);
  const table = s.l2Cache.table(slot);
  s.l2Cache.markDirtyBytes(slot, index * 8, (index + m.nbClusters) * 8);
  // Old entries as hi, lo pairs; most links replace nothing, so the list is made on demand.
  let old: number[] | null = null;
  for (let i = 0; i < m.nbClusters; i++) {
    const hi = hiAt(table, index + i);
    const lo = loAt(table, index + i);
    if (hi !== 0 || lo !== 0) {
      if (old === null) old = [];
      old.push(hi, lo);
    }
    setEntry(table, index + i, m.allocOffset + i * s.clusterSize, true);
  }
  s.l2Cache.put(slot);
  if (!m.keepOld && old !== null) {
    for (let i = 0; i < old.length; i += 2) {
      freeAnyCluster(s, old[i] as number, old[i + 1] as number, DISCARD_NEVER);
    }
  }
}

/** The piece writeGuest is working on (reused: a request allocates no result object). */
const PIECE: HostPiece = { hostOffset: INV, bytes: 0 };

/**
 * qcow2_co_pwritev_part: host-contiguous pieces, each allocated, then written. QEMU runs each
 * piece as an AIO task: the next piece's allocation happens (under s->lock) while the previous
 * task's data write is in flight, and that task links its L2 entries only once it gets the lock
 * back. The lab models this as: piece k is linked after piece k+1 was allocated and its writes
 * issued; the last piece is linked when the request completes.
 */
export function writeGuest(s: Qcow2State, io: GuestIo, offset: number, data: Uint8Array): void {
  let done = 0;
  let pending: L2Meta[] | null = null;
  let pool = false;
  const piece = PIECE;
  while (done < data.length) {
    const metas: L2Meta[] = [];
    allocHostOffset(s, offset + done, data.length - done, metas, piece);
    if (done === 0 && piece.bytes < data.length) pool = true;
    const chunk = pool ? data.subarray(done, done + piece.bytes) : data;
    handleAllocSpace(s, io, metas);
    if (!mergeCow(offset + done, chunk, metas)) {
      if (pool) s.file.writeInFlight(piece.hostOffset, chunk, 'data');
      else s.device.write(piece.hostOffset, chunk, 'data');
    }
    if (pending) for (const m of pending) linkL2(s, io, m);
    pending = metas;
    done += piece.bytes;
  }
  s.file.settle();
  if (pending) for (const m of pending) linkL2(s, io, m);
}
