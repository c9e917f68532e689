import { FormatError } from '../../util/errors.ts';
import type { OpenContext } from '../types.ts';
import {
  QED_AUTOCLEAR_FEATURE_MASK,
  QED_F_BACKING_FILE,
  QED_F_BACKING_FORMAT_NO_PROBE,
  QED_FEATURE_MASK,
  QED_HEADER_BYTES,
  QED_MAGIC,
} from './constants.ts';
import {
  isClusterSizeValid,
  isImageSizeValid,
  isTableSizeValid,
  parseQedHeader,
} from './header.ts';
import { QedState } from './state.ts';
import { QedTable, readTable } from './table.ts';
import { parseQedVariant } from './variants.ts';

const UINT32_MAX = 0xffffffff;

/**
 * bdrv_qed_do_open up to (not including) the dirty-image check: read and validate the header in
 * QEMU 7.2's order with its messages, read the backing file name, clear unknown autoclear bits on
 * a writable open, and read the L1 table.
 */
export function openQedState(context: OpenContext): QedState {
  const { device } = context;
  const header = parseQedHeader(device.read(0, QED_HEADER_BYTES, 'header'));
  if (header.magic !== QED_MAGIC) throw new FormatError('QED_MAGIC', 'Image not in QED format');
  const unknown = header.features & ~QED_FEATURE_MASK;
  if (unknown !== 0n) {
    throw new FormatError('QED_FEATURES', `Unsupported QED features: ${unknown.toString(16)}`);
  }
  if (!isClusterSizeValid(header.clusterSizeBytes)) {
    throw new FormatError('QED_CLUSTER_SIZE', 'QED cluster size is invalid');
  }
  const cs = header.clusterSizeBytes;
  // A partial trailing cluster is ignored: allocation starts at the last whole cluster.
  const fileSizeBytes = Math.floor(device.size() / cs) * cs;
  if (!isTableSizeValid(header.tableSizeClusters)) {
    throw new FormatError('QED_TABLE_SIZE', 'QED table size is invalid');
  }
  if (!isImageSizeValid(header.imageSizeBytes, cs, header.tableSizeClusters)) {
    throw new FormatError('QED_IMAGE_SIZE', 'QED image size is invalid');
  }
  if (header.imageSizeBytes > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new FormatError(
      'QED_IMAGE_SIZE',
      'QED image size beyond 8 PiB is not supported by the lab',
    );
  }
  const l1Offset = header.l1TableOffsetBytes;
  const headerBytes = BigInt(header.headerSizeClusters) * BigInt(cs);
  const l1End = l1Offset + BigInt((header.tableSizeClusters - 1) * cs);
  const clusterOk = (o: bigint) =>
    o % BigInt(cs) === 0n && o >= headerBytes && o < BigInt(fileSizeBytes);
  if (!clusterOk(l1Offset) || !clusterOk(l1End)) {
    throw new FormatError('QED_TABLE_OFFSET', 'QED table offset is invalid');
  }
  if (header.headerSizeClusters > Math.floor(UINT32_MAX / cs)) {
    throw new FormatError('QED_HEADER_SIZE', 'QED header size is too large');
  }
  const nelems = (cs * header.tableSizeClusters) / 8;
  const readOnly = context.readOnly;
  let backingFilename: string | undefined;
  let backingFormat: string | undefined;
  if (Number(header.features) & QED_F_BACKING_FILE) {
    if (
      header.backingFilenameOffsetBytes + header.backingFilenameSizeBytes >
      cs * header.headerSizeClusters
    ) {
      throw new FormatError('QED_BACKING_OFFSET', 'QED backing filename offset is invalid');
    }
    const nameBytes = device.read(
      header.backingFilenameOffsetBytes,
      header.backingFilenameSizeBytes,
      'header',
    );
    backingFilename = new TextDecoder().decode(nameBytes);
    if (Number(header.features) & QED_F_BACKING_FORMAT_NO_PROBE) backingFormat = 'raw';
  }
  // A variant that understands an extension keeps its autoclear bit (free-space.ts).
  const policy = parseQedVariant(context.variant);
  const autoclearMask = QED_AUTOCLEAR_FEATURE_MASK | policy.autoclearBits;
  const clearAutoclear = (header.autoclearFeatures & ~autoclearMask) !== 0n && !readOnly;
  if (clearAutoclear) header.autoclearFeatures &= autoclearMask;
  const state = new QedState({
    device,
    clock: context.clock,
    readOnly,
    header,
    fileSizeBytes,
    l1Table: QedTable.zeroed(0),
  });
  state.policy = policy;
  if (clearAutoclear) {
    state.writeHeaderSync();
    device.flush();
  }
  state.l1Table = readTable(device, Number(l1Offset), nelems, 'l1');
  state.backingFilename = backingFilename;
  state.backingFormat = backingFormat;
  return state;
}
