import { UsageError } from '../../util/errors.ts';
import { parseSizeBytes } from '../../util/size.ts';
import type { CreateContext } from '../types.ts';
import {
  QED_DEFAULT_CLUSTER_BYTES,
  QED_DEFAULT_TABLE_CLUSTERS,
  QED_F_BACKING_FILE,
  QED_F_BACKING_FORMAT_NO_PROBE,
  QED_HEADER_BYTES,
  QED_MAGIC,
  QED_MAX_CLUSTER_BYTES,
  QED_MAX_TABLE_CLUSTERS,
  QED_MIN_CLUSTER_BYTES,
  QED_MIN_TABLE_CLUSTERS,
} from './constants.ts';
import {
  isClusterSizeValid,
  isImageSizeValid,
  isTableSizeValid,
  maxImageSizeBytes,
  type QedHeader,
  serializeQedHeader,
} from './header.ts';

export const QED_CREATE_OPTIONS: Readonly<Record<string, string>> = {
  cluster_size: 'Cluster size (in bytes), power of 2 in [4k, 64M] (default 64k)',
  table_size: 'L1/L2 table size (in clusters), power of 2 in [1, 16] (default 4)',
  backing_file: 'File name of a base image',
  backing_fmt: 'Image format of the base image (raw sets the no-probe feature bit)',
};

/**
 * bdrv_qed_co_create: truncate to 0, the 64-byte header, the backing file name right after it,
 * then a zeroed L1 table at offset cs. The file is cs·(1 + ts) bytes long.
 */
export function createQed(context: CreateContext): void {
  const { options, device } = context;
  for (const key of Object.keys(options)) {
    if (!(key in QED_CREATE_OPTIONS)) throw new UsageError(`Invalid parameter '${key}'`);
  }
  const clusterSizeBytes =
    options.cluster_size === undefined
      ? QED_DEFAULT_CLUSTER_BYTES
      : parseSizeBytes(options.cluster_size);
  const tableSizeClusters =
    options.table_size === undefined ? QED_DEFAULT_TABLE_CLUSTERS : Number(options.table_size);
  const backingFile = options.backing_file;
  const backingFormat = options.backing_fmt;
  let sizeBytes = context.sizeBytes;
  if (sizeBytes < 0) {
    if (backingFile === undefined) throw new UsageError('Image creation needs a size parameter');
    if (!context.openBacking) throw new UsageError('Could not open backing image');
    sizeBytes = context.openBacking(backingFile, backingFormat).virtualSizeBytes;
  } else if (backingFile !== undefined && context.openBacking) {
    // qemu-img opens the backing file at create time too: a missing one is an error.
    context.openBacking(backingFile, backingFormat);
  }
  const imageSizeBytes = Math.ceil(sizeBytes / 512) * 512;
  if (!isClusterSizeValid(clusterSizeBytes)) {
    throw new UsageError(
      `QED cluster size must be within range [${QED_MIN_CLUSTER_BYTES}, ${QED_MAX_CLUSTER_BYTES}] and power of 2`,
    );
  }
  if (!Number.isInteger(tableSizeClusters) || !isTableSizeValid(tableSizeClusters)) {
    throw new UsageError(
      `QED table size must be within range [${QED_MIN_TABLE_CLUSTERS}, ${QED_MAX_TABLE_CLUSTERS}] and power of 2`,
    );
  }
  if (!isImageSizeValid(BigInt(imageSizeBytes), clusterSizeBytes, tableSizeClusters)) {
    throw new UsageError(
      `QED image size must be a non-zero multiple of cluster size and less than ${maxImageSizeBytes(clusterSizeBytes, tableSizeClusters)} bytes`,
    );
  }
  const nameBytes = new TextEncoder().encode(backingFile ?? '');
  let features = 0;
  if (backingFile !== undefined) {
    features |= QED_F_BACKING_FILE;
    if (backingFormat === 'raw') features |= QED_F_BACKING_FORMAT_NO_PROBE;
  }
  if (nameBytes.length > clusterSizeBytes - QED_HEADER_BYTES) {
    throw new UsageError('Backing file name too long for the QED header cluster');
  }
  const header: QedHeader = {
    magic: QED_MAGIC,
    clusterSizeBytes,
    tableSizeClusters,
    headerSizeClusters: 1,
    features: BigInt(features),
    compatFeatures: 0n,
    autoclearFeatures: 0n,
    l1TableOffsetBytes: BigInt(clusterSizeBytes),
    imageSizeBytes: BigInt(imageSizeBytes),
    backingFilenameOffsetBytes: backingFile === undefined ? 0 : QED_HEADER_BYTES,
    backingFilenameSizeBytes: nameBytes.length,
  };
  device.truncate(0);
  device.write(0, serializeQedHeader(header), 'header');
  if (nameBytes.length > 0) device.write(QED_HEADER_BYTES, nameBytes, 'header');
  device.write(clusterSizeBytes, new Uint8Array(clusterSizeBytes * tableSizeClusters), 'l1');
}
