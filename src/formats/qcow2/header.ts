import { FormatError } from '../../util/errors.ts';
import {
  EXT_BACKING_FORMAT,
  EXT_DATA_FILE,
  EXT_END,
  EXT_FEATURE_TABLE,
  INCOMPAT_MASK,
  MAX_BACKING_NAME_BYTES,
  MAX_CLUSTER_BITS,
  MIN_CLUSTER_BITS,
  QCOW2_MAGIC,
  QCOW2_V2_HEADER_BYTES,
  QCOW2_V3_HEADER_BYTES,
} from './constants.ts';
import { readU32, readU64, readU64Big, writeU32, writeU64, writeU64Big } from './u64.ts';

/** The fixed qcow2 header fields (big-endian on disk). */
export interface Qcow2Header {
  version: number;
  backingFileOffset: number;
  backingFileSize: number;
  clusterBits: number;
  sizeBytes: number;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  incompatibleFeatures: bigint;
  compatibleFeatures: bigint;
  autoclearFeatures: bigint;
  refcountOrder: number;
  headerLength: number;
  compressionType: number;
}

export interface HeaderExtension {
  type: number;
  data: Uint8Array;
}

/** Everything QEMU keeps from cluster 0 and writes back in `qcow2_update_header`. */
export interface Qcow2HeaderCluster {
  header: Qcow2Header;
  backingFormat?: string;
  backingFile?: string;
  /** Header bytes between the known fields and header_length, preserved verbatim. */
  unknownHeaderFields: Uint8Array;
  /** Extensions the lab does not interpret (bitmaps, unknown), preserved in order. */
  unknownExtensions: HeaderExtension[];
  /** Feature names from the image's table, for the unsupported-feature message. */
  featureNames: Array<{ type: number; bit: number; name: string }>;
}

/** The 8 entries QEMU 7.2 writes into the feature name table. */
export const QEMU_FEATURE_TABLE: ReadonlyArray<{ type: number; bit: number; name: string }> = [
  { type: 0, bit: 0, name: 'dirty bit' },
  { type: 0, bit: 1, name: 'corrupt bit' },
  { type: 0, bit: 2, name: 'external data file' },
  { type: 0, bit: 3, name: 'compression type' },
  { type: 0, bit: 4, name: 'extended L2 entries' },
  { type: 1, bit: 0, name: 'lazy refcounts' },
  { type: 2, bit: 0, name: 'bitmaps' },
  { type: 2, bit: 1, name: 'raw external data' },
];

function bad(message: string): FormatError {
  return new FormatError('QCOW2_HEADER', message);
}

export function probeQcow2(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && readU32(bytes, 0) === QCOW2_MAGIC && readU32(bytes, 4) >= 2;
}

/** Parses the fixed header, applying QEMU's open-time checks and messages (qcow2_do_open). */
export function parseHeader(bytes: Uint8Array): Qcow2Header {
  if (bytes.length < QCOW2_V2_HEADER_BYTES || readU32(bytes, 0) !== QCOW2_MAGIC) {
    throw bad('Image is not in qcow2 format');
  }
  const version = readU32(bytes, 4);
  if (version < 2 || version > 3) throw bad(`Unsupported qcow2 version ${version}`);
  const clusterBits = readU32(bytes, 20);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw bad(`Unsupported cluster size: 2^${clusterBits}`);
  }
  const clusterSize = 2 ** clusterBits;
  const v3 = version >= 3;
  const header: Qcow2Header = {
    version,
    backingFileOffset: readU64(bytes, 8),
    backingFileSize: readU32(bytes, 16),
    clusterBits,
    sizeBytes: readU64(bytes, 24),
    cryptMethod: readU32(bytes, 32),
    l1Size: readU32(bytes, 36),
    l1TableOffset: readU64(bytes, 40),
    refcountTableOffset: readU64(bytes, 48),
    refcountTableClusters: readU32(bytes, 56),
    nbSnapshots: readU32(bytes, 60),
    snapshotsOffset: readU64(bytes, 64),
    incompatibleFeatures: v3 ? readU64Big(bytes, 72) : 0n,
    compatibleFeatures: v3 ? readU64Big(bytes, 80) : 0n,
    autoclearFeatures: v3 ? readU64Big(bytes, 88) : 0n,
    refcountOrder: v3 ? readU32(bytes, 96) : 4,
    headerLength: v3 ? readU32(bytes, 100) : QCOW2_V2_HEADER_BYTES,
    compressionType: 0,
  };
  if (v3) {
    if (header.headerLength < 104) throw bad('qcow2 header too short');
    if (header.headerLength > clusterSize) throw bad('qcow2 header exceeds cluster size');
    if (header.headerLength >= 105) header.compressionType = bytes[104] as number;
  }
  if (header.backingFileOffset > clusterSize) throw bad('Invalid backing file offset');
  if (header.refcountOrder > 6) {
    throw bad('Reference count entry width too large; may not exceed 64 bits');
  }
  return header;
}

/** Reads the extensions after header_length and the backing file name (all inside cluster 0). */
export function parseHeaderCluster(bytes: Uint8Array): Qcow2HeaderCluster {
  const header = parseHeader(bytes);
  const clusterSize = 2 ** header.clusterBits;
  const knownLength =
    header.version >= 3 ? Math.min(header.headerLength, QCOW2_V3_HEADER_BYTES) : 72;
  const result: Qcow2HeaderCluster = {
    header,
    unknownHeaderFields: bytes.slice(knownLength, header.headerLength),
    unknownExtensions: [],
    featureNames: [],
  };
  const extEnd = header.backingFileOffset !== 0 ? header.backingFileOffset : clusterSize;
  let pos = header.headerLength;
  while (pos + 8 <= extEnd) {
    const type = readU32(bytes, pos);
    const length = readU32(bytes, pos + 4);
    pos += 8;
    if (type === EXT_END) break;
    if (length > extEnd - pos) throw bad('ext_magic: ext_len too large');
    const data = bytes.slice(pos, pos + length);
    if (type === EXT_BACKING_FORMAT) {
      result.backingFormat = new TextDecoder().decode(data);
    } else if (type === EXT_FEATURE_TABLE) {
      for (let p = 0; p + 48 <= data.length; p += 48) {
        const raw = data.subarray(p + 2, p + 48);
        const nul = raw.indexOf(0);
        result.featureNames.push({
          type: data[p] as number,
          bit: data[p + 1] as number,
          name: new TextDecoder().decode(nul < 0 ? raw : raw.subarray(0, nul)),
        });
      }
    } else if (type === EXT_DATA_FILE) {
      throw bad('External data files are not supported by the lab');
    } else {
      result.unknownExtensions.push({ type, data });
    }
    pos += (length + 7) & ~7;
  }
  if (header.backingFileOffset !== 0) {
    if (
      header.backingFileSize > MAX_BACKING_NAME_BYTES ||
      header.backingFileOffset + header.backingFileSize > clusterSize
    ) {
      throw bad('Backing file name too long');
    }
    result.backingFile = new TextDecoder().decode(
      bytes.subarray(header.backingFileOffset, header.backingFileOffset + header.backingFileSize),
    );
  }
  const unknown = header.incompatibleFeatures & ~BigInt(INCOMPAT_MASK);
  if (unknown !== 0n) {
    const names: string[] = [];
    for (let bit = 0; bit < 64; bit++) {
      if (!(unknown & (1n << BigInt(bit)))) continue;
      const named = result.featureNames.find((f) => f.type === 0 && f.bit === bit);
      names.push(
        named ? named.name : `Unknown incompatible feature: ${(1n << BigInt(bit)).toString(16)}`,
      );
    }
    throw bad(`Unsupported qcow2 feature(s): ${names.join(', ')}`);
  }
  return result;
}

function putExtension(buf: Uint8Array, pos: number, type: number, data: Uint8Array): number {
  if (pos + 8 + data.length > buf.length)
    throw bad('qcow2 header extensions do not fit in cluster 0');
  writeU32(buf, pos, type);
  writeU32(buf, pos + 4, data.length);
  buf.set(data, pos + 8);
  return pos + 8 + ((data.length + 7) & ~7);
}

/**
 * The whole first cluster as `qcow2_update_header` writes it: header, preserved unknown header
 * fields, backing format, feature table (v3 with clusters above 4 KiB only), preserved unknown
 * extensions, end marker, backing name, zero fill.
 */
export function serializeHeaderCluster(cluster: Qcow2HeaderCluster): Uint8Array {
  const h = cluster.header;
  const clusterSize = 2 ** h.clusterBits;
  const buf = new Uint8Array(clusterSize);
  const v3 = h.version >= 3;
  const headerLength = v3
    ? QCOW2_V3_HEADER_BYTES + cluster.unknownHeaderFields.length
    : QCOW2_V2_HEADER_BYTES;
  writeU32(buf, 0, QCOW2_MAGIC);
  writeU32(buf, 4, h.version);
  writeU32(buf, 20, h.clusterBits);
  writeU64(buf, 24, h.sizeBytes);
  writeU32(buf, 32, h.cryptMethod);
  writeU32(buf, 36, h.l1Size);
  writeU64(buf, 40, h.l1TableOffset);
  writeU64(buf, 48, h.refcountTableOffset);
  writeU32(buf, 56, h.refcountTableClusters);
  writeU32(buf, 60, h.nbSnapshots);
  writeU64(buf, 64, h.snapshotsOffset);
  let pos = QCOW2_V2_HEADER_BYTES;
  if (v3) {
    writeU64Big(buf, 72, h.incompatibleFeatures);
    writeU64Big(buf, 80, h.compatibleFeatures);
    writeU64Big(buf, 88, h.autoclearFeatures);
    writeU32(buf, 96, h.refcountOrder);
    writeU32(buf, 100, headerLength);
    buf[104] = h.compressionType;
    buf.set(cluster.unknownHeaderFields, QCOW2_V3_HEADER_BYTES);
    pos = headerLength;
  }
  if (cluster.backingFormat !== undefined) {
    pos = putExtension(
      buf,
      pos,
      EXT_BACKING_FORMAT,
      new TextEncoder().encode(cluster.backingFormat),
    );
  }
  if (v3 && clusterSize > 4096) {
    const table = new Uint8Array(48 * QEMU_FEATURE_TABLE.length);
    QEMU_FEATURE_TABLE.forEach((f, i) => {
      table[i * 48] = f.type;
      table[i * 48 + 1] = f.bit;
      table.set(new TextEncoder().encode(f.name), i * 48 + 2);
    });
    pos = putExtension(buf, pos, EXT_FEATURE_TABLE, table);
  }
  for (const ext of cluster.unknownExtensions) pos = putExtension(buf, pos, ext.type, ext.data);
  pos = putExtension(buf, pos, EXT_END, new Uint8Array(0));
  if (cluster.backingFile !== undefined) {
    const name = new TextEncoder().encode(cluster.backingFile);
    if (name.length > MAX_BACKING_NAME_BYTES || pos + name.length > clusterSize) {
      throw bad('Backing file name too long');
    }
    buf.set(name, pos);
    writeU64(buf, 8, pos);
    writeU32(buf, 16, name.length);
  }
  return buf;
}
