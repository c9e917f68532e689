import type { BlockDevice } from '../../device/types.ts';
import { EXTRA_BYTES } from './snapshot-table.ts';
import { readU16, readU32 } from './u64.ts';

const ENTRY_HEADER_BYTES = 40;
/** QEMU's QCOW_MAX_SNAPSHOT_EXTRA_DATA: more fails the open. */
const MAX_EXTRA_BYTES = 1024;
/** QEMU's QCOW_MAX_SNAPSHOTS_SIZE: a table past this fails the open. */
const MAX_TABLE_BYTES = 64 * 1024 * 1024;

/**
 * The snapshot table read as qcow2_do_read_snapshots reads it (strace of QEMU 7.2): per entry,
 * its 40-byte header, the extra data QEMU knows (up to 24 bytes), any extra data past that, the
 * ID string and the name, each a read of its own, entries 8-byte aligned. With 10,000 snapshots
 * that is 40,000 small reads, which a device model must be charged for; one read of the whole
 * table would make the open look 1,000 times cheaper than QEMU's.
 *
 * Returns the table's bytes (from its start to the end of the last name) for
 * `parseSnapshotTable`, or undefined where QEMU would fail or read past the end of the file (an
 * entry with too much extra data, a table too big or cut short): the caller then parses it the
 * bounded way that reports those errors.
 */
export function readSnapshotTableLikeQemu(
  device: BlockDevice,
  tableOffset: number,
  count: number,
): Uint8Array | undefined {
  const available = device.size() - tableOffset;
  let table = new Uint8Array(Math.min(Math.max(count * 64, 64), MAX_TABLE_BYTES));
  let pos = 0;
  const readAt = (at: number, length: number): boolean => {
    if (length === 0) return true;
    if (at + length > available || at + length > MAX_TABLE_BYTES) return false;
    if (at + length > table.length) {
      const grown = new Uint8Array(
        Math.min(Math.max(table.length * 2, at + length), MAX_TABLE_BYTES),
      );
      grown.set(table);
      table = grown;
    }
    table.set(device.read(tableOffset + at, length, 'snapshot'), at);
    return true;
  };
  for (let i = 0; i < count; i++) {
    pos = (pos + 7) & ~7;
    if (!readAt(pos, ENTRY_HEADER_BYTES)) return undefined;
    const idBytes = readU16(table, pos + 12);
    const nameBytes = readU16(table, pos + 14);
    const extraBytes = readU32(table, pos + 36);
    pos += ENTRY_HEADER_BYTES;
    if (extraBytes > MAX_EXTRA_BYTES) return undefined;
    const knownExtra = Math.min(EXTRA_BYTES, extraBytes);
    if (!readAt(pos, knownExtra)) return undefined;
    pos += knownExtra;
    if (!readAt(pos, extraBytes - knownExtra)) return undefined;
    pos += extraBytes - knownExtra;
    if (!readAt(pos, idBytes)) return undefined;
    pos += idBytes;
    if (!readAt(pos, nameBytes)) return undefined;
    pos += nameBytes;
  }
  return table.subarray(0, pos);
}
