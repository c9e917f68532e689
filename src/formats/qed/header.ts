import {
  QED_HEADER_BYTES,
  QED_MAX_CLUSTER_BYTES,
  QED_MAX_TABLE_CLUSTERS,
  QED_MIN_CLUSTER_BYTES,
  QED_MIN_TABLE_CLUSTERS,
} from './constants.ts';

/**
 * The 64-byte little-endian QED header. Feature words and the image size are u64 on disk; they
 * are kept as bigint so a hostile header is reported exactly (QEMU prints unknown feature bits
 * in hex), and narrowed to numbers once validated.
 */
export interface QedHeader {
  magic: number;
  clusterSizeBytes: number;
  tableSizeClusters: number;
  headerSizeClusters: number;
  features: bigint;
  compatFeatures: bigint;
  autoclearFeatures: bigint;
  l1TableOffsetBytes: bigint;
  imageSizeBytes: bigint;
  backingFilenameOffsetBytes: number;
  backingFilenameSizeBytes: number;
}

export function parseQedHeader(bytes: Uint8Array): QedHeader {
  const padded = new Uint8Array(QED_HEADER_BYTES);
  // A short file reads as zeros past its end, as QEMU's pread does.
  padded.set(bytes.subarray(0, Math.min(bytes.length, QED_HEADER_BYTES)));
  const view = new DataView(padded.buffer);
  return {
    magic: view.getUint32(0, true),
    clusterSizeBytes: view.getUint32(4, true),
    tableSizeClusters: view.getUint32(8, true),
    headerSizeClusters: view.getUint32(12, true),
    features: view.getBigUint64(16, true),
    compatFeatures: view.getBigUint64(24, true),
    autoclearFeatures: view.getBigUint64(32, true),
    l1TableOffsetBytes: view.getBigUint64(40, true),
    imageSizeBytes: view.getBigUint64(48, true),
    backingFilenameOffsetBytes: view.getUint32(56, true),
    backingFilenameSizeBytes: view.getUint32(60, true),
  };
}

/** Writes the header into the first 64 bytes of `out` (which may be a larger sector buffer). */
export function serializeQedHeaderInto(header: QedHeader, out: Uint8Array): void {
  const view = new DataView(out.buffer, out.byteOffset, QED_HEADER_BYTES);
  view.setUint32(0, header.magic, true);
  view.setUint32(4, header.clusterSizeBytes, true);
  view.setUint32(8, header.tableSizeClusters, true);
  view.setUint32(12, header.headerSizeClusters, true);
  view.setBigUint64(16, header.features, true);
  view.setBigUint64(24, header.compatFeatures, true);
  view.setBigUint64(32, header.autoclearFeatures, true);
  view.setBigUint64(40, header.l1TableOffsetBytes, true);
  view.setBigUint64(48, header.imageSizeBytes, true);
  view.setUint32(56, header.backingFilenameOffsetBytes, true);
  view.setUint32(60, header.backingFilenameSizeBytes, true);
}

export function serializeQedHeader(header: QedHeader): Uint8Array {
  const out = new Uint8Array(QED_HEADER_BYTES);
  serializeQedHeaderInto(header, out);
  return out;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && Number.isInteger(n) && (n & (n - 1)) === 0;
}

export function isClusterSizeValid(clusterSizeBytes: number): boolean {
  return (
    isPowerOfTwo(clusterSizeBytes) &&
    clusterSizeBytes >= QED_MIN_CLUSTER_BYTES &&
    clusterSizeBytes <= QED_MAX_CLUSTER_BYTES
  );
}

export function isTableSizeValid(tableSizeClusters: number): boolean {
  return (
    isPowerOfTwo(tableSizeClusters) &&
    tableSizeClusters >= QED_MIN_TABLE_CLUSTERS &&
    tableSizeClusters <= QED_MAX_TABLE_CLUSTERS
  );
}

/**
 * nelems² · cs computed in u64 the way QEMU does: it wraps, so cs = 2 MiB with ts = 16 (or 64 MiB
 * with ts = 1) gives 0 and no image size is valid. Reproduced because it decides which images
 * QEMU can create and open.
 */
export function maxImageSizeBytes(clusterSizeBytes: number, tableSizeClusters: number): bigint {
  const cs = BigInt(clusterSizeBytes);
  const entries = (BigInt(tableSizeClusters) * cs) / 8n;
  return BigInt.asUintN(64, BigInt.asUintN(64, entries * cs) * entries);
}

export function isImageSizeValid(
  imageSizeBytes: bigint,
  clusterSizeBytes: number,
  tableSizeClusters: number,
): boolean {
  return (
    imageSizeBytes <= maxImageSizeBytes(clusterSizeBytes, tableSizeClusters) &&
    imageSizeBytes % 512n === 0n
  );
}
