import type { BlockDevice, IoKind } from '../../device/types.ts';
import { FormatError, UsageError } from '../../util/errors.ts';
import { parseBooleanOption } from '../create-options.ts';
import type { CreateContext, FormatDriver, ImageFormat, OpenContext } from '../types.ts';
import { RefcountAllocator } from './allocator.ts';
import { growL1Table } from './cluster-map.ts';
import {
  COMPAT_LAZY_REFCOUNTS,
  DEFAULT_CLUSTER_BITS,
  DEFAULT_REFCOUNT_ORDER,
  INCOMPAT_CORRUPT,
  MAX_L1_BYTES,
  MAX_REFTABLE_BYTES,
  MAX_SNAPSHOTS,
  QCOW2_V3_HEADER_BYTES,
} from './constants.ts';
import { FileNode } from './file-node.ts';
import {
  parseHeaderCluster,
  probeQcow2,
  type Qcow2HeaderCluster,
  serializeHeaderCluster,
} from './header.ts';
import {
  hasUnknownIncompatibleFeatures,
  readBackingFileName,
  readHeaderExtensions,
  readHeaderFields,
} from './header-read.ts';
import { lendL2CachePages } from './lent-pages.ts';
import { MetadataCache } from './metadata-cache.ts';
import { cacheGeometry, Qcow2Image } from './qcow2-image.ts';
import { parseRefcountTable } from './refcount-table.ts';
import { reftableEntriesFor, relocateReftable } from './reftable-growth.ts';
import { parseSnapshotTable } from './snapshot-table.ts';
import { readSnapshotTableLikeQemu } from './snapshot-table-read.ts';
import { Qcow2State } from './state.ts';
import { readTableInFile } from './table-read.ts';
import { writeU64 } from './u64.ts';
import { applyQcow2Policy } from './variant-policy.ts';
import { parseQcow2Variant, QCOW2_BASELINE, QCOW2_VARIANTS } from './variants.ts';

function bad(message: string): FormatError {
  return new FormatError('QCOW2_OPEN', message);
}

/** qcow2_validate_table. */
function validateTable(
  offset: number,
  entries: number,
  entryBytes: number,
  maxBytes: number,
  name: string,
  clusterSize: number,
): void {
  if (entries > maxBytes / entryBytes) throw bad(`${name} too large`);
  if (offset % clusterSize !== 0 || offset + entries * entryBytes > Number.MAX_SAFE_INTEGER)
    throw bad(`${name} offset invalid`);
}

export interface Qcow2OpenOptions {
  device: BlockDevice;
  readOnly: boolean;
  forCheck: boolean;
  backing?: ImageFormat | null;
  openBacking?: OpenContext['openBacking'];
  /** Reopen behaviour of qemu-img: skip the dirty-image repair (create's internal opens). */
  noRepair?: boolean;
  /** discard=unmap: freed clusters are hole-punched (qemu-io: yes, the default; qemu-img: no). */
  discardUnmap?: boolean;
}

/** qcow2_do_open: header, extensions, L1, reftable, caches, snapshots, dirty repair. */
export function openQcow2(options: Qcow2OpenOptions): Qcow2Image {
  const file = new FileNode(options.device);
  const device: BlockDevice = file;
  const reader = readHeaderFields(device);
  if (hasUnknownIncompatibleFeatures(reader.header)) {
    // QEMU reads the extensions (feature name table included) only to name the features.
    readHeaderExtensions(device, reader, true);
    parseHeaderCluster(reader.cluster);
  }
  const h = reader.header;
  const cs = 2 ** h.clusterBits;
  if (
    (h.incompatibleFeatures & BigInt(INCOMPAT_CORRUPT)) !== 0n &&
    !options.readOnly &&
    !options.forCheck
  ) {
    throw bad('qcow2: Image is corrupt; cannot be opened read/write');
  }
  if (h.cryptMethod !== 0) throw bad('qcow2: encrypted images are not supported by the lab');
  if ((h.incompatibleFeatures & 0x14n) !== 0n)
    throw bad('qcow2: external data files and extended L2 entries are not supported by the lab');
  if (h.compressionType !== 0) throw bad('qcow2: only zlib compression is supported by the lab');
  const l2Size = cs / 8;
  const l1Needed = Math.ceil(h.sizeBytes / (cs * l2Size));
  if (l1Needed > 0x7fffffff) throw bad('Image is too big');
  if (h.l1Size < l1Needed) throw bad('L1 table is too small');
  if (h.refcountTableClusters === 0 && !options.forCheck)
    throw bad('Image does not contain a reference count table');
  validateTable(
    h.refcountTableOffset,
    (h.refcountTableClusters * cs) / 8,
    8,
    MAX_REFTABLE_BYTES,
    'Reference count table',
    cs,
  );
  if (h.nbSnapshots > MAX_SNAPSHOTS) throw bad('Too many snapshots');
  validateTable(h.l1TableOffset, h.l1Size, 8, MAX_L1_BYTES, 'Active L1 table', cs);
  const l1 =
    h.l1Size > 0 ? readTableInFile(device, h.l1TableOffset, h.l1Size * 8, 'l1') : new Uint8Array(0);
  const reftableEntries = (h.refcountTableClusters * cs) / 8;
  const reftable = parseRefcountTable(
    reftableEntries > 0
      ? device.read(h.refcountTableOffset, reftableEntries * 8, 'reftable')
      : new Uint8Array(0),
    reftableEntries,
  );
  readHeaderExtensions(device, reader, false);
  readBackingFileName(device, reader);
  const headerCluster = parseHeaderCluster(reader.cluster);
  const geometry = cacheGeometry(h.sizeBytes, cs);
  const l2Cache = new MetadataCache(device, geometry.l2Entries, geometry.l2EntryBytes, 'l2');
  const refblockCache = new MetadataCache(device, geometry.refblockEntries, cs, 'refblock');
  const refcounts = new RefcountAllocator({
    device,
    clusterBits: h.clusterBits,
    refcountOrder: h.refcountOrder,
    reftable,
    reftableOffset: h.refcountTableOffset,
    refblockCache,
    l2Cache,
  });
  const snapshots = readSnapshots(device, headerCluster, cs);
  let backing: ImageFormat | null = options.backing ?? null;
  if (!backing && headerCluster.backingFile !== undefined && options.openBacking) {
    backing = options.openBacking(headerCluster.backingFile, headerCluster.backingFormat);
  }
  const state = new Qcow2State({
    file,
    headerCluster,
    l1,
    l2Cache,
    refcounts,
    snapshots,
    lazyRefcounts: (h.compatibleFeatures & BigInt(COMPAT_LAZY_REFCOUNTS)) !== 0n,
    readOnly: options.readOnly,
    backing,
  });
  refcounts.onReftableMoved = (offset, clusters) => {
    headerCluster.header.refcountTableOffset = offset;
    headerCluster.header.refcountTableClusters = clusters;
  };
  refcounts.unmap = options.discardUnmap ?? true;
  const image = new Qcow2Image(state);
  if (state.dirty && !options.readOnly && !options.forCheck && !options.noRepair) {
    // QEMU fails the open only on check errors (I/O failures during the repair); corruptions
    // that remain after it are left for the guest's I/O (or the corrupt bit) to meet.
    const result = image.check('all');
    if (result.checkErrors > 0) throw bad('Could not repair dirty image');
  }
  return image;
}

function readSnapshots(device: BlockDevice, cluster: Qcow2HeaderCluster, cs: number) {
  const h = cluster.header;
  if (h.nbSnapshots === 0) return [];
  if (h.snapshotsOffset % cs !== 0) throw bad('Snapshot table offset invalid');
  const table = readSnapshotTableLikeQemu(device, h.snapshotsOffset, h.nbSnapshots);
  if (table) return parseSnapshotTable(table, h.nbSnapshots, h.version, h.sizeBytes);
  // A table QEMU would refuse, or one cut short by EOF. Entries are variable-length; read generously, then more if the table turns out longer.
  // Past EOF a table can only continue as zero entries (40 bytes each) after one entry that
  // straddles EOF (at most 40 + 1 KiB extra + two 64 KiB strings): reading further cannot
  // make a truncated table parse, so the read is bounded by the file, not by 64 MiB.
  const maxLength = Math.min(
    64 * 1024 * 1024,
    Math.max(0, device.size() - h.snapshotsOffset) + h.nbSnapshots * 48 + 132 * 1024,
  );
  let length = Math.max(h.nbSnapshots * 128, cs);
  for (;;) {
    const bytes = device.read(h.snapshotsOffset, length, 'snapshot');
    try {
      return parseSnapshotTable(bytes, h.nbSnapshots, h.version, h.sizeBytes);
    } catch (error) {
      if (length >= maxLength) throw error;
      length = Math.min(length * 4, maxLength);
    }
  }
}

/** Flushes that do nothing: qemu-img create opens the new image with cache=unsafe. */
class NoFlushDevice implements BlockDevice {
  readonly inner: BlockDevice;
  constructor(inner: BlockDevice) {
    this.inner = inner;
  }
  read(offset: number, length: number, kind: IoKind): Uint8Array {
    return this.inner.read(offset, length, kind);
  }
  write(offset: number, data: Uint8Array, kind: IoKind): void {
    this.inner.write(offset, data, kind);
  }
  zeroRange(offset: number, length: number, kind: IoKind): void {
    this.inner.zeroRange(offset, length, kind);
  }
  flush(): void {}
  size(): number {
    return this.inner.size();
  }
  truncate(size: number): void {
    this.inner.truncate(size);
  }
}

export interface Qcow2CreateOptions {
  sizeBytes: number;
  clusterSize?: number;
  refcountBits?: number;
  lazyRefcounts?: boolean;
  version?: 2 | 3;
  backingFile?: string;
  backingFormat?: string;
}

export const QCOW2_CREATE_OPTIONS: Readonly<Record<string, string>> = {
  size: 'virtual disk size',
  compat: 'compatibility level (v2 = 0.10, v3 = 1.1)',
  backing_file: 'file name of a base image',
  backing_fmt: 'image format of the base image',
  cluster_size: 'qcow2 cluster size (512 B .. 2 MiB, power of two)',
  refcount_bits: 'width of a reference count entry in bits (1..64, power of two)',
  lazy_refcounts: 'postpone refcount updates (on/off)',
  preallocation: 'preallocation mode (off only)',
  compression_type: 'compression type (zlib)',
  extended_l2: 'extended L2 tables (off only)',
};

/** Turns `-o` options into create options with qemu-img's messages. */
export function parseQcow2CreateOptions(
  sizeBytes: number,
  options: Readonly<Record<string, string>>,
): Qcow2CreateOptions {
  const result: Qcow2CreateOptions = { sizeBytes };
  for (const [key, value] of Object.entries(options)) {
    switch (key) {
      case 'size':
        break;
      case 'compat':
        if (value === '0.10' || value === 'v2') result.version = 2;
        else if (value === '1.1' || value === 'v3') result.version = 3;
        else throw new UsageError(`Invalid compat version '${value}'`);
        break;
      case 'backing_file':
        result.backingFile = value;
        break;
      case 'backing_fmt':
        result.backingFormat = value;
        break;
      case 'cluster_size': {
        const n = parseSizeOption(value);
        result.clusterSize = n;
        break;
      }
      case 'refcount_bits':
        result.refcountBits = Number(value);
        break;
      case 'lazy_refcounts':
        result.lazyRefcounts = parseBooleanOption(key, value);
        break;
      case 'preallocation':
        if (value !== 'off')
          throw new UsageError(`preallocation=${value} is not supported by the lab`);
        break;
      case 'compression_type':
        if (value !== 'zlib')
          throw new UsageError(`compression_type=${value} is not supported by the lab`);
        break;
      case 'extended_l2':
        if (parseBooleanOption(key, value))
          throw new UsageError('extended_l2=on is not supported by the lab');
        break;
      default:
        throw new UsageError(`Invalid parameter '${key}'`);
    }
  }
  return result;
}

function parseSizeOption(value: string): number {
  const m = /^(\d+)([kKmMgG]?)$/.exec(value);
  if (!m) throw new UsageError(`Parameter 'cluster_size' expects a size`);
  const unit = (m[2] ?? '').toLowerCase();
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : unit === 'g' ? 1024 ** 3 : 1;
  return Number(m[1]) * mult;
}

/**
 * qcow2_co_create: header cluster, a one-entry reftable and an empty refblock; then, through the
 * engine on a no-flush device: the first three clusters allocated, the full header written, the
 * L1 grown to exact size and the size field set; backing file recorded.
 */
export function createQcow2(
  device: BlockDevice,
  o: Qcow2CreateOptions,
  backingSizeBytes?: number,
): void {
  const cs = o.clusterSize ?? 2 ** DEFAULT_CLUSTER_BITS;
  if (!Number.isInteger(cs) || cs < 512 || cs > 2 * 1024 * 1024 || (cs & (cs - 1)) !== 0) {
    throw new UsageError('Cluster size must be a power of two between 512 and 2048k');
  }
  const version = o.version ?? 3;
  const refcountBits = o.refcountBits ?? 2 ** DEFAULT_REFCOUNT_ORDER;
  if (
    !Number.isInteger(refcountBits) ||
    refcountBits < 1 ||
    refcountBits > 64 ||
    (refcountBits & (refcountBits - 1)) !== 0
  ) {
    throw new UsageError('Refcount width must be a power of two and may not exceed 64 bits');
  }
  if (version < 3 && refcountBits !== 16) {
    throw new UsageError(
      'Different refcount widths than 16 bits require compatibility level 1.1 or above (use compat=1.1 or greater)',
    );
  }
  if (version < 3 && o.lazyRefcounts) {
    throw new UsageError(
      'Lazy refcounts only supported with compatibility level 1.1 and above (use compat=1.1 or greater)',
    );
  }
  if (o.backingFormat !== undefined && o.backingFile === undefined) {
    throw new UsageError('Backing format cannot be used without backing file');
  }
  if (o.backingFile !== undefined && o.backingFormat === undefined) {
    throw new UsageError('Backing file specified without backing format');
  }
  let sizeBytes = o.sizeBytes;
  if (sizeBytes < 0) {
    if (backingSizeBytes === undefined)
      throw new UsageError('Image creation needs a size parameter');
    sizeBytes = backingSizeBytes;
  }
  sizeBytes = Math.ceil(sizeBytes / 512) * 512;
  const clusterBits = Math.log2(cs);
  const refcountOrder = Math.log2(refcountBits);
  const l1Entries = Math.ceil(sizeBytes / (cs * (cs / 8)));
  if (l1Entries * 8 > MAX_L1_BYTES)
    throw new UsageError(
      "The image size is too large for file format 'qcow2' (try using a larger cluster size)",
    );
  const headerCluster: Qcow2HeaderCluster = {
    header: {
      version,
      backingFileOffset: 0,
      backingFileSize: 0,
      clusterBits,
      sizeBytes: 0,
      cryptMethod: 0,
      l1Size: 0,
      l1TableOffset: 0,
      refcountTableOffset: cs,
      refcountTableClusters: 1,
      nbSnapshots: 0,
      snapshotsOffset: 0,
      incompatibleFeatures: 0n,
      compatibleFeatures: o.lazyRefcounts ? BigInt(COMPAT_LAZY_REFCOUNTS) : 0n,
      autoclearFeatures: 0n,
      refcountOrder: version >= 3 ? refcountOrder : 4,
      headerLength: version >= 3 ? QCOW2_V3_HEADER_BYTES : 72,
      compressionType: 0,
    },
    unknownHeaderFields: new Uint8Array(0),
    unknownExtensions: [],
    featureNames: [],
  };
  // The first write is the bare header struct padded to a cluster (no extensions yet).
  const bare = serializeHeaderCluster({ ...headerCluster, header: { ...headerCluster.header } });
  device.write(0, bare, 'header');
  const tableAndBlock = new Uint8Array(2 * cs);
  writeU64(tableAndBlock, 0, 2 * cs);
  device.write(cs, tableAndBlock, 'reftable');
  const noFlush = new NoFlushDevice(device);
  const image = openQcow2({
    device: noFlush,
    readOnly: false,
    forCheck: false,
    backing: null,
    noRepair: true,
  });
  const s = image.s;
  s.refcounts.allocClusters(3 * cs);
  s.updateHeader();
  if (sizeBytes > 0) {
    growL1Table(s, l1Entries, true);
    const sizeField = new Uint8Array(8);
    writeU64(sizeField, 0, sizeBytes);
    noFlush.write(24, sizeField, 'header');
    s.sizeBytes = sizeBytes;
    s.headerCluster.header.sizeBytes = sizeBytes;
  }
  if (o.backingFile !== undefined) {
    s.headerCluster.backingFile = o.backingFile;
    if (o.backingFormat !== undefined) s.headerCluster.backingFormat = o.backingFormat;
    s.updateHeader();
  }
  image.close();
}

export const qcow2Driver: FormatDriver = {
  name: 'qcow2',
  createOptions: QCOW2_CREATE_OPTIONS,
  variants: QCOW2_VARIANTS,
  probe: probeQcow2,
  create(context: CreateContext): void {
    const policy = parseQcow2Variant(context.variant);
    const o = parseQcow2CreateOptions(context.sizeBytes, {
      ...context.options,
      ...policy.createOptions,
    });
    let backingSize: number | undefined;
    if (o.backingFile !== undefined && context.openBacking) {
      const backing = context.openBacking(o.backingFile, o.backingFormat);
      backingSize = backing.virtualSizeBytes;
    }
    createQcow2(context.device, o, backingSize);
    if (policy.reftableGrowth === 'prealloc') {
      // The whole virtual disk's refcount table, allocated now (still a valid qcow2 image).
      const image = openQcow2({
        device: context.device,
        readOnly: false,
        forCheck: false,
        noRepair: true,
      });
      relocateReftable(image.s, reftableEntriesFor(image.s, image.s.sizeBytes));
      image.close();
    }
  },
  open(context: OpenContext): ImageFormat {
    const options: Qcow2OpenOptions = {
      device: context.device,
      readOnly: context.readOnly,
      forCheck: context.forCheck,
    };
    if (context.openBacking) options.openBacking = context.openBacking;
    const image = openQcow2(options);
    const policy = parseQcow2Variant(context.variant);
    if (policy !== QCOW2_BASELINE) image.variant = applyQcow2Policy(image, policy, context.device);
    else lendL2CachePages(image);
    return image;
  },
};
