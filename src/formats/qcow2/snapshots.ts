import { UsageError } from '../../util/errors.ts';
import type { InternalSnapshots, SnapshotInfo } from '../types.ts';
import { refcountError } from './allocator.ts';
import { corrupt, growL1Table } from './cluster-map.ts';
import { DISCARD_SNAPSHOT, MAX_L1_BYTES, MAX_SNAPSHOTS } from './constants.ts';
import {
  ClusterType,
  clusterTypeOf,
  entryHi,
  entryLo,
  HI_COPIED,
  offsetOf,
  setEntryRaw,
} from './l2-entry.ts';
import { flushCaches } from './lazy-refcounts.ts';
import type { Qcow2Image } from './qcow2-image.ts';
import {
  EXTRA_BYTES,
  entryBytes,
  type SnapshotEntry,
  serializeSnapshotTable,
  tableBytes,
} from './snapshot-table.ts';
import type { Qcow2State } from './state.ts';
import { cHex } from './u64.ts';

const MAX_SNAPSHOTS_TABLE_BYTES = 64 * 1024 * 1024;

/**
 * qcow2_update_snapshot_refcount: every L2 slice reachable from the L1 at `l1Offset` is walked
 * through the L2 cache; data clusters get ±addend and COPIED set iff their refcount is 1; then
 * each L2 cluster itself. Afterwards a full flush, then (addend ≥ 0) the L1 is rewritten with
 * write + flush if any COPIED bit changed. `table` is the L1 to walk (the active one is used in
 * memory, as QEMU does).
 */
export function updateSnapshotRefcount(
  s: Qcow2State,
  l1Offset: number,
  table: Uint8Array,
  l1Size: number,
  addend: number,
): void {
  const r = s.refcounts;
  const cs = s.clusterSize;
  const sliceBytes = s.l2SliceBytes;
  const nSlices = cs / sliceBytes;
  const decrease = addend < 0;
  const abs = Math.abs(addend);
  let l1Modified = false;
  r.cacheDiscards = true;
  let failed = true;
  try {
    for (let i = 0; i < l1Size; i++) {
      const l1Hi = entryHi(table, i);
      const l1Lo = entryLo(table, i);
      if (l1Hi === 0 && l1Lo === 0) continue;
      const l2Offset = offsetOf(l1Hi, l1Lo);
      if (l2Offset % cs !== 0)
        throw corrupt(s, `L2 table offset ${cHex(l2Offset)} unaligned (L1 index: ${cHex(i)})`);
      for (let slice = 0; slice < nSlices; slice++) {
        const slot = s.l2Cache.get(l2Offset + slice * sliceBytes);
        try {
          const l2 = s.l2Cache.table(slot);
          for (let j = 0; j < s.l2SliceSize; j++) {
            const oldHi = entryHi(l2, j);
            const lo = entryLo(l2, j);
            if (oldHi === 0 && lo === 0) continue;
            let hi = (oldHi & ~HI_COPIED) >>> 0;
            const type = clusterTypeOf(hi, lo);
            let refcount = 0;
            if (type === ClusterType.Compressed) {
              if (abs !== 0) {
                const x = 62 - (s.clusterBits - 8);
                const value = (BigInt(hi & 0x3fffffff) << 32n) | BigInt(lo >>> 0);
                const coffset = Number(value & ((1n << BigInt(x)) - 1n));
                const csize = (Number(value >> BigInt(x)) + 1) * 512 - (coffset & 511);
                const ret = r.updateRefcount(coffset, csize, abs, decrease, DISCARD_SNAPSHOT);
                if (ret < 0) throw refcountError(ret);
              }
              refcount = 2;
            } else if (type === ClusterType.Normal || type === ClusterType.ZeroAlloc) {
              const offset = offsetOf(hi, lo);
              if (offset % cs !== 0) {
                throw corrupt(
                  s,
                  `Cluster allocation offset ${cHex(offset)} unaligned (L2 offset: ${cHex(l2Offset)}, L2 index: ${cHex(slice * s.l2SliceSize + j)})`,
                );
              }
              if (abs !== 0) {
                const ret = r.updateRefcount(offset, 1, abs, decrease, DISCARD_SNAPSHOT);
                if (ret < 0) throw refcountError(ret);
              }
              refcount = r.getRefcount(offset / cs);
            }
            if (refcount === 1) hi = (hi | HI_COPIED) >>> 0;
            if (hi !== oldHi) {
              if (addend > 0) s.l2Cache.setDependency(r.refblockCache);
              // Marked first: a lent table keeps the entry's written bytes (lent-pages.ts).
              s.l2Cache.markDirtyBytes(slot, j * 8, j * 8 + 8);
              setEntryRaw(l2, j, hi, lo);
            }
          }
        } finally {
          s.l2Cache.put(slot);
        }
      }
      if (abs !== 0) {
        const ret = r.updateRefcount(l2Offset, 1, abs, decrease, DISCARD_SNAPSHOT);
        if (ret < 0) throw refcountError(ret);
      }
      const refcount = r.getRefcount(l2Offset / cs);
      const newHi = refcount === 1 ? (l1Hi & 0x00ffffff) | HI_COPIED : l1Hi & 0x00ffffff;
      const newLo = l1Lo & 0xfffffe00;
      if (newHi >>> 0 !== l1Hi || newLo >>> 0 !== l1Lo) {
        setEntryRaw(table, i, newHi >>> 0, newLo >>> 0);
        l1Modified = true;
      }
    }
    flushCaches(s);
    failed = false;
  } finally {
    r.cacheDiscards = false;
    r.processDiscards(failed ? -1 : 0);
  }
  if (addend >= 0 && l1Modified) {
    s.device.write(
      l1Offset,
      table.slice(0, l1Size * 8),
      l1Offset === s.l1TableOffset ? 'l1' : 'snapshot',
    );
    s.device.flush();
  }
}

/**
 * qcow2_write_snapshots: allocate the new table, full flush, write it, flush, switch the header
 * (nb_snapshots, snapshots_offset) with write + flush, free the old table. QEMU writes each entry
 * field by field; the lab writes the same bytes in one request.
 */
export function writeSnapshotTable(s: Qcow2State, entries: SnapshotEntry[]): void {
  const size = tableBytes(entries);
  if (size > MAX_SNAPSHOTS_TABLE_BYTES) throw new UsageError('Snapshot table too large (EFBIG)');
  const bytes = serializeSnapshotTable(entries);
  const offset = bytes.length > 0 ? s.refcounts.allocClusters(bytes.length) : 0;
  flushCaches(s);
  if (bytes.length > 0) {
    if (s.snapshotTableWrites === 'single') {
      s.device.write(offset, bytes, 'snapshot');
    } else {
      // QEMU's order: per entry its 40-byte header, the extra data, the id, the name.
      let pos = 0;
      for (const e of entries) {
        pos = (pos + 7) & ~7;
        const parts = [
          40,
          entryExtraBytes(e),
          idBytes(e),
          entryBytes(e) - 40 - entryExtraBytes(e) - idBytes(e),
        ];
        for (const n of parts) {
          if (n > 0) s.device.write(offset + pos, bytes.subarray(pos, pos + n), 'snapshot');
          pos += n;
        }
      }
    }
  }
  flushCaches(s);
  s.writeHeaderField(60, s.headerU32U64(entries.length, offset));
  const oldOffset = s.snapshotsOffset;
  const oldBytes = serializedLength(s.snapshots);
  s.snapshots = entries;
  s.snapshotsOffset = offset;
  s.headerCluster.header.nbSnapshots = entries.length;
  s.headerCluster.header.snapshotsOffset = offset;
  if (oldBytes > 0) s.refcounts.freeClusters(oldOffset, oldBytes, DISCARD_SNAPSHOT);
}

function entryExtraBytes(e: SnapshotEntry): number {
  return EXTRA_BYTES + e.unknownExtra.length;
}

function idBytes(e: SnapshotEntry): number {
  return new TextEncoder().encode(e.id).length;
}

function serializedLength(entries: readonly SnapshotEntry[]): number {
  return serializeSnapshotTable(entries).length;
}

function findSnapshot(s: Qcow2State, idOrName: string): number {
  const byId = s.snapshots.findIndex((e) => e.id === idOrName);
  if (byId >= 0) return byId;
  return s.snapshots.findIndex((e) => e.name === idOrName);
}

function toInfo(e: SnapshotEntry): SnapshotInfo {
  return {
    id: e.id,
    name: e.name,
    vmStateSizeBytes: e.vmStateSize,
    dateSec: e.dateSec,
    dateNsec: e.dateNsec,
    vmClockNs: e.vmClockNs,
    diskSizeBytes: e.diskSizeBytes,
  };
}

/** Internal snapshots per qcow2-snapshot.c. */
export class Qcow2Snapshots implements InternalSnapshots {
  readonly #image: Qcow2Image;
  /** Highest numeric id, so find_new_snapshot_id stays O(1) with thousands of snapshots. */
  #maxId = -1;

  constructor(image: Qcow2Image) {
    this.#image = image;
  }

  #state(): Qcow2State {
    const s = this.#image.s;
    if (s.readOnly) throw new UsageError('image is read-only');
    return s;
  }

  list(): SnapshotInfo[] {
    return this.#image.s.snapshots.map(toInfo);
  }

  /** qcow2_snapshot_create. */
  create(
    name: string,
    options: { dateSec: number; dateNsec: number; vmClockNs?: number },
  ): SnapshotInfo {
    const s = this.#state();
    if (s.snapshots.length >= MAX_SNAPSHOTS) throw new UsageError('Too many snapshots (EFBIG)');
    if (this.#maxId < 0 || this.#maxId < s.snapshots.length - 1) {
      this.#maxId = 0;
      for (const e of s.snapshots) {
        const n = /^\d+$/.test(e.id) ? Number(e.id) : 0;
        if (n > this.#maxId) this.#maxId = n;
      }
    }
    const id = String(this.#maxId + 1);
    const entry: SnapshotEntry = {
      l1TableOffset: 0,
      l1Size: s.l1Size,
      id,
      name,
      dateSec: options.dateSec,
      dateNsec: options.dateNsec,
      vmClockNs: options.vmClockNs ?? 0,
      vmStateSize: 0,
      diskSizeBytes: s.sizeBytes,
      icount: 0n,
      unknownExtra: new Uint8Array(0),
    };
    const l1Bytes = s.l1Size * 8;
    entry.l1TableOffset = l1Bytes > 0 ? s.refcounts.allocClusters(l1Bytes) : 0;
    if (l1Bytes > 0) s.device.write(entry.l1TableOffset, s.l1.slice(0, l1Bytes), 'snapshot');
    updateSnapshotRefcount(s, s.l1TableOffset, s.l1, s.l1Size, 1);
    writeSnapshotTable(s, [...s.snapshots, entry]);
    this.#maxId = Math.max(this.#maxId, Number(id));
    return toInfo(entry);
  }

  /** qcow2_snapshot_delete; qemu-img snapshot -d looks the snapshot up by name only. */
  delete(idOrName: string): void {
    const s = this.#state();
    const index = s.snapshots.findIndex((e) => e.name === idOrName);
    if (index < 0)
      throw new UsageError(`Could not delete snapshot '${idOrName}': snapshot not found`);
    const sn = s.snapshots[index] as SnapshotEntry;
    validateSnapshotL1(s, sn);
    const remaining = s.snapshots.filter((_, i) => i !== index);
    writeSnapshotTable(s, remaining);
    const l1 = readSnapshotL1(s, sn, sn.l1Size);
    updateSnapshotRefcount(s, sn.l1TableOffset, l1, sn.l1Size, -1);
    if (sn.l1Size > 0) s.refcounts.freeClusters(sn.l1TableOffset, sn.l1Size * 8, DISCARD_SNAPSHOT);
    updateSnapshotRefcount(s, s.l1TableOffset, s.l1, s.l1Size, 0);
    this.#maxId = -1;
  }

  /** qcow2_snapshot_goto. */
  revert(idOrName: string): void {
    const s = this.#state();
    const index = findSnapshot(s, idOrName);
    if (index < 0)
      throw new UsageError(
        `Could not apply snapshot '${idOrName}': Failed to load snapshot: No such file or directory`,
      );
    const sn = s.snapshots[index] as SnapshotEntry;
    validateSnapshotL1(s, sn);
    if (sn.diskSizeBytes !== s.sizeBytes) {
      if (sn.diskSizeBytes < s.sizeBytes)
        throw new UsageError(
          'Reverting to a smaller snapshot needs qcow2 shrinking, which the lab does not support',
        );
      this.#image.resize(sn.diskSizeBytes);
    }
    growL1Table(s, sn.l1Size, true);
    const curBytes = s.l1Size * 8;
    const snL1 = new Uint8Array(curBytes);
    snL1.set(readSnapshotL1(s, sn, sn.l1Size).subarray(0, Math.min(curBytes, sn.l1Size * 8)));
    const snTable = readSnapshotL1(s, sn, sn.l1Size);
    updateSnapshotRefcount(s, sn.l1TableOffset, snTable, sn.l1Size, 1);
    s.device.write(s.l1TableOffset, snL1, 'l1');
    s.device.flush();
    updateSnapshotRefcount(s, s.l1TableOffset, s.l1, s.l1Size, -1);
    s.l1 = snL1;
    updateSnapshotRefcount(s, s.l1TableOffset, s.l1, s.l1Size, 0);
  }
}

function validateSnapshotL1(s: Qcow2State, sn: SnapshotEntry): void {
  if (sn.l1Size > MAX_L1_BYTES / 8) throw new UsageError('Snapshot L1 table too large');
  if (sn.l1TableOffset % s.clusterSize !== 0)
    throw new UsageError('Snapshot L1 table offset invalid');
}

function readSnapshotL1(s: Qcow2State, sn: SnapshotEntry, entries: number): Uint8Array {
  if (entries === 0) return new Uint8Array(0);
  return s.device.read(sn.l1TableOffset, entries * 8, 'snapshot');
}
