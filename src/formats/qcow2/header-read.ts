import type { BlockDevice } from '../../device/types.ts';
import {
  EXT_END,
  EXT_FEATURE_TABLE,
  INCOMPAT_MASK,
  MAX_BACKING_NAME_BYTES,
  QCOW2_V3_HEADER_BYTES,
} from './constants.ts';
import { parseHeader, type Qcow2Header } from './header.ts';
import { readU32 } from './u64.ts';

/**
 * Cluster 0 as qcow2_do_open reads it, one small read per item (strace of QEMU 7.2): the
 * 112-byte header struct, the header bytes past it, then (after the L1 and refcount table) each
 * extension's 8-byte head and the data QEMU keeps, and the backing file name. Reading the whole
 * cluster instead would charge an HDD model for up to 2 MiB QEMU never reads.
 *
 * The reads land at their offsets in a cluster-sized buffer, which `parseHeaderCluster` then
 * parses; bytes QEMU skips (the feature name table, unless an unknown incompatible feature makes
 * it wanted for the error message) stay zero there.
 */
export interface HeaderReader {
  header: Qcow2Header;
  /** Cluster 0, holding what has been read so far. */
  cluster: Uint8Array;
}

/** The header struct and any header bytes past it (QEMU's unknown_header_fields). */
export function readHeaderFields(device: BlockDevice): HeaderReader {
  const fixed = device.read(0, QCOW2_V3_HEADER_BYTES, 'header');
  const header = parseHeader(fixed);
  const cluster = new Uint8Array(2 ** header.clusterBits);
  cluster.set(fixed.subarray(0, Math.min(fixed.length, cluster.length)));
  if (header.headerLength > QCOW2_V3_HEADER_BYTES) {
    const extra = device.read(
      QCOW2_V3_HEADER_BYTES,
      header.headerLength - QCOW2_V3_HEADER_BYTES,
      'header',
    );
    cluster.set(extra, QCOW2_V3_HEADER_BYTES);
  }
  return { header, cluster };
}

/** True when the image sets incompatible features QEMU 7.2 does not know. */
export function hasUnknownIncompatibleFeatures(header: Qcow2Header): boolean {
  return (header.incompatibleFeatures & ~BigInt(INCOMPAT_MASK)) !== 0n;
}

/**
 * qcow2_read_extensions: walks the extension heads from header_length to the backing file name
 * (or the cluster end), reading each kept extension's data; the feature name table only when
 * `withFeatureTable` (QEMU reads it only to name unsupported features). Stops where QEMU stops:
 * at the end marker or at a head that does not fit, which the parse then reports.
 */
export function readHeaderExtensions(
  device: BlockDevice,
  reader: HeaderReader,
  withFeatureTable: boolean,
): void {
  const { header, cluster } = reader;
  const extEnd = header.backingFileOffset !== 0 ? header.backingFileOffset : cluster.length;
  let pos = header.headerLength;
  while (pos < extEnd) {
    // A head straddling the end of cluster 0 cannot be parsed from it; QEMU reads past it and
    // fails the length check, as the parse does when it finds the head missing.
    if (pos + 8 > cluster.length) return;
    cluster.set(device.read(pos, 8, 'header'), pos);
    const type = readU32(cluster, pos);
    const length = readU32(cluster, pos + 4);
    pos += 8;
    if (type === EXT_END || pos > extEnd || length > extEnd - pos) return;
    if (length > 0 && (type !== EXT_FEATURE_TABLE || withFeatureTable)) {
      cluster.set(device.read(pos, length, 'header'), pos);
    }
    pos += (length + 7) & ~7;
  }
}

/** The backing file name (read after the extensions, when its bounds are valid). */
export function readBackingFileName(device: BlockDevice, reader: HeaderReader): void {
  const { header, cluster } = reader;
  if (header.backingFileOffset === 0 || header.backingFileSize === 0) return;
  if (
    header.backingFileSize > MAX_BACKING_NAME_BYTES ||
    header.backingFileOffset + header.backingFileSize > cluster.length
  ) {
    return;
  }
  cluster.set(
    device.read(header.backingFileOffset, header.backingFileSize, 'header'),
    header.backingFileOffset,
  );
}
