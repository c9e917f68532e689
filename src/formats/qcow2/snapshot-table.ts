import { FormatError } from '../../util/errors.ts';
import {
  readU16,
  readU32,
  readU64,
  readU64Big,
  writeU16,
  writeU32,
  writeU64,
  writeU64Big,
} from './u64.ts';

/** One snapshot table entry (qcow2.txt "Snapshot table entry"). */
export interface SnapshotEntry {
  l1TableOffset: number;
  l1Size: number;
  id: string;
  name: string;
  dateSec: number;
  dateNsec: number;
  vmClockNs: number;
  vmStateSize: number;
  diskSizeBytes: number;
  /** -1 = icount disabled (QEMU writes it as all ones; 7.2 images show 0 from qemu-img). */
  icount: bigint;
  /** Extra data past the 24 bytes QEMU knows, preserved. */
  unknownExtra: Uint8Array;
}

const FIXED_BYTES = 40;
/** QEMU 7.2 writes 24 bytes of extra data: vm_state_size_large, disk_size, icount. */
export const EXTRA_BYTES = 24;

/** Entries never change once made, so each one's bytes are encoded once (thousands of snapshots). */
const encoded = new WeakMap<SnapshotEntry, Uint8Array>();

function encodeEntry(e: SnapshotEntry): Uint8Array {
  let bytes = encoded.get(e);
  if (bytes) return bytes;
  const id = new TextEncoder().encode(e.id);
  const name = new TextEncoder().encode(e.name);
  const extraLength = EXTRA_BYTES + e.unknownExtra.length;
  bytes = new Uint8Array(FIXED_BYTES + extraLength + id.length + name.length);
  writeU64(bytes, 0, e.l1TableOffset);
  writeU32(bytes, 8, e.l1Size);
  writeU16(bytes, 12, id.length);
  writeU16(bytes, 14, name.length);
  writeU32(bytes, 16, e.dateSec);
  writeU32(bytes, 20, e.dateNsec);
  writeU64(bytes, 24, e.vmClockNs);
  writeU32(bytes, 32, e.vmStateSize > 0xffffffff ? 0 : e.vmStateSize);
  writeU32(bytes, 36, extraLength);
  writeU64(bytes, 40, e.vmStateSize);
  writeU64(bytes, 48, e.diskSizeBytes);
  writeU64Big(bytes, 56, e.icount < 0n ? 0xffffffffffffffffn : e.icount);
  bytes.set(e.unknownExtra, 64);
  bytes.set(id, FIXED_BYTES + extraLength);
  bytes.set(name, FIXED_BYTES + extraLength + id.length);
  encoded.set(e, bytes);
  return bytes;
}

export function entryBytes(entry: SnapshotEntry): number {
  return encodeEntry(entry).length;
}

/** Table size with every entry padded to 8 bytes (what QEMU allocates). */
export function tableBytes(entries: readonly SnapshotEntry[]): number {
  let size = 0;
  for (const e of entries) size += (entryBytes(e) + 7) & ~7;
  return size;
}

export function parseSnapshotTable(
  bytes: Uint8Array,
  count: number,
  version: number,
  imageSize: number,
): SnapshotEntry[] {
  const entries: SnapshotEntry[] = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    pos = (pos + 7) & ~7;
    if (pos + FIXED_BYTES > bytes.length)
      throw new FormatError('QCOW2_SNAPSHOT', 'Snapshot table is truncated');
    const idLength = readU16(bytes, pos + 12);
    const nameLength = readU16(bytes, pos + 14);
    const extraLength = readU32(bytes, pos + 36);
    const extraPos = pos + FIXED_BYTES;
    if (version >= 3 && extraLength < 16) {
      throw new FormatError('QCOW2_SNAPSHOT', `Snapshot #${i + 1} has too little extra data`);
    }
    const entry: SnapshotEntry = {
      l1TableOffset: readU64(bytes, pos),
      l1Size: readU32(bytes, pos + 8),
      dateSec: readU32(bytes, pos + 16),
      dateNsec: readU32(bytes, pos + 20),
      vmClockNs: readU64(bytes, pos + 24),
      vmStateSize: readU32(bytes, pos + 32),
      diskSizeBytes: imageSize,
      icount: -1n,
      id: '',
      name: '',
      unknownExtra: new Uint8Array(0),
    };
    if (extraLength >= 8) entry.vmStateSize = readU64(bytes, extraPos);
    if (extraLength >= 16) entry.diskSizeBytes = readU64(bytes, extraPos + 8);
    if (extraLength >= 24) {
      const icount = readU64Big(bytes, extraPos + 16);
      entry.icount = icount === 0xffffffffffffffffn ? -1n : icount;
    }
    if (extraLength > EXTRA_BYTES)
      entry.unknownExtra = bytes.slice(extraPos + EXTRA_BYTES, extraPos + extraLength);
    let p = extraPos + extraLength;
    entry.id = new TextDecoder().decode(bytes.subarray(p, p + idLength));
    p += idLength;
    entry.name = new TextDecoder().decode(bytes.subarray(p, p + nameLength));
    pos = p + nameLength;
    entries.push(entry);
  }
  return entries;
}

/**
 * The table as qcow2_write_snapshots writes it: entries padded to 8 bytes except that the write
 * ends right after the last entry's name (its padding is not written).
 */
export function serializeSnapshotTable(entries: readonly SnapshotEntry[]): Uint8Array {
  const total = tableBytes(entries);
  const buf = new Uint8Array(total);
  let pos = 0;
  let end = 0;
  for (const e of entries) {
    pos = (pos + 7) & ~7;
    const bytes = encodeEntry(e);
    buf.set(bytes, pos);
    pos += bytes.length;
    end = pos;
  }
  return buf.subarray(0, end);
}
