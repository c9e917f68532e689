import type { SimClock } from '../device/clock.ts';
import type { BlockDevice } from '../device/types.ts';

/** What `qemu-img check` can be asked to repair. */
export type RepairMode = 'none' | 'leaks' | 'all';

/**
 * Result of a consistency check, with the counters `qemu-img check --output=json` reports
 * (camel-cased; the CLI renders QEMU's exact JSON keys).
 */
export interface CheckResult {
  format: string;
  checkErrors: number;
  corruptions: number;
  leaks: number;
  corruptionsFixed: number;
  leaksFixed: number;
  /** Present for formats that track clusters. */
  totalClusters?: number;
  allocatedClusters?: number;
  fragmentedClusters?: number;
  compressedClusters?: number;
  imageEndOffsetBytes?: number;
  /** One line per problem found, in the order found (as qemu-img prints them). */
  messages: string[];
}

/** One extent of `qemu-img map --output=json`. */
export interface MapEntry {
  start: number;
  length: number;
  depth: number;
  present: boolean;
  zero: boolean;
  data: boolean;
  offset?: number;
}

export interface ImageInfo {
  format: string;
  virtualSizeBytes: number;
  fileSizeBytes: number;
  clusterSizeBytes?: number;
  backingFile?: string;
  backingFormat?: string;
  dirty?: boolean;
  /** Format-specific fields, rendered like qemu-img's "Format specific information". */
  formatSpecific?: Record<string, unknown>;
}

/** An opened image: what the guest sees, plus the maintenance operations qemu-img offers. */
export interface ImageFormat {
  readonly formatName: string;
  readonly virtualSizeBytes: number;
  read(offsetBytes: number, lengthBytes: number): Uint8Array;
  write(offsetBytes: number, data: Uint8Array): void;
  /**
   * `write -z`: the range reads as zeros; `mayUnmap` lets the format deallocate (qcow2). `fua`
   * (writethrough): QEMU emulates FUA with a flush after every piece the block layer hands the
   * driver, which for a sector-unaligned zero write is more than one flush.
   */
  writeZeroes(
    offsetBytes: number,
    lengthBytes: number,
    options?: { mayUnmap?: boolean; fua?: boolean },
  ): void;
  discard(offsetBytes: number, lengthBytes: number): void;
  /** Guest flush: the format's metadata, then the host file. */
  flush(): void;
  /** Clean shutdown (what qemu-io does at exit). */
  close(): void;
  /** Grow (or shrink where the format allows) the virtual size. */
  resize(newSizeBytes: number): void;
  /** Absent for formats that do not support checks (raw). */
  check?(repair: RepairMode): CheckResult;
  map(): MapEntry[];
  info(): ImageInfo;
  /** Internal snapshots (qcow2); absent for formats that have none. */
  readonly snapshots?: InternalSnapshots;
}

/** One row of `qemu-img snapshot -l`. */
export interface SnapshotInfo {
  id: string;
  name: string;
  vmStateSizeBytes: number;
  dateSec: number;
  dateNsec: number;
  vmClockNs: number;
  /** Guest-visible size when the snapshot was taken. */
  diskSizeBytes?: number;
}

/**
 * `qemu-img snapshot -c|-d|-a|-l`. The caller supplies the date: the CLI passes the wall clock
 * like qemu-img, the simulation passes simulated time so results stay reproducible.
 */
export interface InternalSnapshots {
  create(
    name: string,
    options: { dateSec: number; dateNsec: number; vmClockNs?: number },
  ): SnapshotInfo;
  /** By id or name, as qemu-img resolves them. */
  delete(idOrName: string): void;
  revert(idOrName: string): void;
  list(): SnapshotInfo[];
}

/** Opens a backing file by the name stored in an overlay's header. */
export type BackingOpener = (name: string, format: string | undefined) => ImageFormat;

export interface CreateContext {
  device: BlockDevice;
  sizeBytes: number;
  /** `-o key=value,...`, already split; the driver rejects keys it does not know. */
  options: Readonly<Record<string, string>>;
  /** Needed when the options name a backing file whose size is taken as the default size. */
  openBacking?: BackingOpener;
  /** Design variant (`name` or `name=value`, a key of `FormatDriver.variants`); absent = qemu. */
  variant?: string;
}

export interface OpenContext {
  device: BlockDevice;
  readOnly: boolean;
  /** Opened by `check` (QEMU's BDRV_O_CHECK): no automatic repair on open. */
  forCheck: boolean;
  /** Simulated clock for timers (QED's need-check timer). */
  clock: SimClock;
  openBacking?: BackingOpener;
  /** Design variant the image runs under (see CreateContext.variant); absent = qemu. */
  variant?: string;
}

export interface FormatDriver {
  readonly name: string;
  /** `-o` keys the driver accepts, with one-line help each. */
  readonly createOptions: Readonly<Record<string, string>>;
  /**
   * Design variants besides `qemu` (QEMU 7.2's behaviour), name → one-line description; a variant
   * may take a value (`clean-timer=5m`). Suites and `qedlab run --variant` pass it to create and
   * open.
   */
  readonly variants?: Readonly<Record<string, string>>;
  /** True when these leading bytes are an image of this format. */
  probe(leadingBytes: Uint8Array): boolean;
  create(context: CreateContext): void;
  open(context: OpenContext): ImageFormat;
}
