import { zeroBytes } from '../../device/types.ts';
import { FormatError, ImageIoError, UsageError } from '../../util/errors.ts';
import { checkGuestRange } from '../guest-range.ts';
import type {
  CheckResult,
  FormatDriver,
  ImageFormat,
  ImageInfo,
  MapEntry,
  OpenContext,
  RepairMode,
} from '../types.ts';
import { qedCheck } from './check.ts';
import { ClusterKind, findCluster, newClusterRun } from './cluster.ts';
import { QED_HEADER_BYTES, QED_MAGIC, SECTOR_BYTES } from './constants.ts';
import { createQed, QED_CREATE_OPTIONS } from './create.ts';
import { QedFreeSpace } from './free-space.ts';
import { isImageSizeValid } from './header.ts';
import { NeedCheckTimer } from './need-check.ts';
import { openQedState } from './open.ts';
import { QedReadPath } from './read-path.ts';
import type { QedState } from './state.ts';
import { parseQedVariant, QED_VARIANTS } from './variants.ts';
import { QedWritePath } from './write-path.ts';
import { splitWriteZeroes } from './write-zeroes.ts';

/** An open QED image: the guest's view plus qemu-img's maintenance operations. */
export class QedImage implements ImageFormat {
  readonly formatName = 'qed';
  readonly state: QedState;
  readonly needCheckTimer: NeedCheckTimer;
  readonly #writer: QedWritePath;
  readonly #reader: QedReadPath;
  #closed = false;

  constructor(context: OpenContext) {
    const state = openQedState(context);
    this.state = state;
    this.needCheckTimer = new NeedCheckTimer(state);
    this.#writer = new QedWritePath(state, this.needCheckTimer);
    this.#reader = new QedReadPath(state);
    const policy = state.policy;
    let freeSpaceLoaded = true;
    if (policy.freeSpace !== 'none') {
      state.freeSpace = new QedFreeSpace(state, policy.freeSpace);
      freeSpaceLoaded = state.freeSpace.load();
    }
    // A dirty image opened for writing (not by check) is repaired before use. Read-only opens
    // skip it: nothing can be written, and it lets data be recovered from a damaged image.
    // always-scan has no flag and scans at every writable open; a free-space variant whose
    // on-disk list is invalid rebuilds it by the same scan.
    const scan = state.needCheck || !policy.needCheckFlag || !freeSpaceLoaded;
    if (!context.forCheck && scan && !state.readOnly) {
      try {
        qedCheck(state, true);
      } catch (error) {
        if (error instanceof ImageIoError) {
          throw new FormatError('QED_CORRUPT', 'Image corrupted', { cause: error });
        }
        throw error;
      }
    }
    if (state.needCheck) this.needCheckTimer.arm();
    if (state.backingFilename !== undefined) {
      if (!context.openBacking) {
        throw new UsageError(`Could not open backing file '${state.backingFilename}'`);
      }
      state.backing = context.openBacking(state.backingFilename, state.backingFormat);
    }
  }

  get virtualSizeBytes(): number {
    return this.state.imageSizeBytes;
  }

  /** Allocating guest requests so far (each took QEMU's allocation slot). */
  get allocatingRequests(): number {
    return this.#writer.allocatingRequests;
  }

  read(offsetBytes: number, lengthBytes: number): Uint8Array {
    this.#checkRange(offsetBytes, lengthBytes);
    if (lengthBytes === 0) return new Uint8Array(0);
    return this.#reader.read(offsetBytes, lengthBytes);
  }

  write(offsetBytes: number, data: Uint8Array): void {
    this.#checkWritable();
    this.#checkRange(offsetBytes, data.length);
    if (data.length === 0) return;
    const end = offsetBytes + data.length;
    // Offsets past 2^31 are doubles, whose % is a library call: compare multiples instead.
    if (
      Math.floor(offsetBytes / SECTOR_BYTES) * SECTOR_BYTES === offsetBytes &&
      Math.floor(end / SECTOR_BYTES) * SECTOR_BYTES === end
    ) {
      this.#writer.write(offsetBytes, data.length, data);
      return;
    }
    // QED takes whole sectors (request_alignment 512): the block layer reads the partial head and
    // tail sectors and writes the padded request.
    const start = offsetBytes - (offsetBytes % SECTOR_BYTES);
    const paddedEnd = Math.ceil(end / SECTOR_BYTES) * SECTOR_BYTES;
    const padded = this.#reader.read(start, paddedEnd - start).slice();
    padded.set(data, offsetBytes - start);
    this.#writer.write(start, padded.length, padded);
  }

  /**
   * As bdrv_co_do_zero_pwritev feeds QED: a sector-unaligned head and tail become padded sector
   * writes; the aligned middle is a zero write, split as `splitWriteZeroes` describes.
   */
  writeZeroes(offsetBytes: number, lengthBytes: number, options?: { fua?: boolean }): void {
    this.#checkWritable();
    this.#checkRange(offsetBytes, lengthBytes);
    const fua = options?.fua === true;
    let offset = offsetBytes;
    let bytes = lengthBytes;
    const head = offset % SECTOR_BYTES;
    if (head !== 0 && bytes > 0) {
      const n = Math.min(bytes, SECTOR_BYTES - head);
      this.write(offset, zeroBytes(n));
      if (fua) this.flush();
      offset += n;
      bytes -= n;
    }
    const aligned = bytes - (bytes % SECTOR_BYTES);
    if (aligned > 0) {
      splitWriteZeroes(offset, aligned, this.state.clusterSizeBytes, (o, n, isAligned) => {
        this.#writer.write(o, n, isAligned ? null : zeroBytes(n));
      });
      // bdrv_co_do_pwrite_zeroes flushes once after all its pieces.
      if (fua) this.flush();
      offset += aligned;
      bytes -= aligned;
    }
    if (bytes > 0) {
      this.write(offset, zeroBytes(bytes));
      if (fua) this.flush();
    }
  }

  /**
   * QED has no discard callback: a guest discard changes nothing and the data stays readable.
   * The freelist/bitmap variants free whole clusters (free-space.ts).
   */
  discard(offsetBytes: number, lengthBytes: number): void {
    this.#checkWritable();
    this.#checkRange(offsetBytes, lengthBytes);
    this.state.freeSpace?.discard(offsetBytes, lengthBytes);
  }

  flush(): void {
    if (this.state.readOnly) return;
    this.state.freeSpace?.beforeSync();
    this.state.device.flush();
  }

  /**
   * bdrv_close: the drain fires a pending need-check timer, then the file is flushed and a flag
   * still set is cleared with the 64-byte header (no flush after it).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const state = this.state;
    this.needCheckTimer.drain();
    this.needCheckTimer.dispose();
    if (!state.readOnly) state.freeSpace?.beforeSync();
    if (!state.readOnly) state.device.flush();
    if (state.needCheck) {
      state.setNeedCheck(false);
      if (!state.readOnly) state.writeHeaderSync();
    }
    state.backing?.close();
  }

  /** Grow only, within the format's maximum; the 64-byte header is rewritten (no flush). */
  resize(newSizeBytes: number): void {
    this.#checkWritable();
    const state = this.state;
    if (
      !Number.isSafeInteger(newSizeBytes) ||
      newSizeBytes < 0 ||
      !isImageSizeValid(BigInt(newSizeBytes), state.clusterSizeBytes, state.tableSizeClusters)
    ) {
      throw new UsageError('Invalid image size specified');
    }
    if (newSizeBytes < state.imageSizeBytes) {
      throw new UsageError('Shrinking images is currently not supported');
    }
    state.imageSizeBytes = newSizeBytes;
    state.header.imageSizeBytes = BigInt(newSizeBytes);
    state.writeHeaderSync();
  }

  check(repair: RepairMode): CheckResult {
    if (repair !== 'none') this.#checkWritable();
    // QEMU passes any repair mode to qed_check as "fix": -r leaks also zeroes invalid offsets.
    return qedCheck(this.state, repair !== 'none');
  }

  /** Block status over the whole image, merged like `qemu-img map`. */
  map(): MapEntry[] {
    const state = this.state;
    const entries: MapEntry[] = [];
    const push = (e: MapEntry) => {
      const last = entries[entries.length - 1];
      if (
        last &&
        last.depth === e.depth &&
        last.present === e.present &&
        last.zero === e.zero &&
        last.data === e.data &&
        (last.offset === undefined) === (e.offset === undefined) &&
        (last.offset === undefined || last.offset + last.length === e.offset)
      ) {
        last.length += e.length;
      } else {
        entries.push(e);
      }
    };
    const run = newClusterRun();
    const end = state.imageSizeBytes;
    let pos = 0;
    while (pos < end) {
      findCluster(state, pos, end - pos, run);
      const n = run.lengthBytes;
      if (run.kind === ClusterKind.Found) {
        push({
          start: pos,
          length: n,
          depth: 0,
          present: true,
          zero: false,
          data: true,
          offset: run.hostOffsetBytes,
        });
      } else if (run.kind === ClusterKind.Zero) {
        push({ start: pos, length: n, depth: 0, present: true, zero: true, data: false });
      } else {
        this.#mapUnallocated(pos, n, push);
      }
      pos += n;
    }
    return entries;
  }

  #mapUnallocated(pos: number, n: number, push: (e: MapEntry) => void): void {
    const backing = this.state.backing;
    const backingEnd = backing ? Math.min(backing.virtualSizeBytes, pos + n) : pos;
    if (backing && pos < backingEnd) {
      for (const e of backing.map()) {
        const start = Math.max(e.start, pos);
        const stop = Math.min(e.start + e.length, backingEnd);
        if (start >= stop) continue;
        const entry: MapEntry = {
          start,
          length: stop - start,
          depth: e.depth + 1,
          present: e.present,
          zero: e.zero,
          data: e.data,
        };
        if (e.offset !== undefined) entry.offset = e.offset + (start - e.start);
        push(entry);
      }
    }
    const from = Math.max(pos, backingEnd);
    if (from < pos + n) {
      push({
        start: from,
        length: pos + n - from,
        depth: 0,
        present: false,
        zero: true,
        data: false,
      });
    }
  }

  info(): ImageInfo {
    const state = this.state;
    const info: ImageInfo = {
      format: 'qed',
      virtualSizeBytes: state.imageSizeBytes,
      fileSizeBytes: state.device.size(),
      clusterSizeBytes: state.clusterSizeBytes,
      // always-scan has no clean flag: its images are never known clean.
      dirty: state.needCheck || !state.policy.needCheckFlag,
    };
    if (state.backingFilename !== undefined) info.backingFile = state.backingFilename;
    if (state.backingFormat !== undefined) info.backingFormat = state.backingFormat;
    return info;
  }

  #checkRange(offsetBytes: number, lengthBytes: number): void {
    checkGuestRange(offsetBytes, lengthBytes, this.state.imageSizeBytes);
  }

  #checkWritable(): void {
    if (this.state.readOnly) throw new UsageError('image is read-only');
    if (this.#closed) throw new UsageError('image is closed');
  }
}

export const qedDriver: FormatDriver = {
  name: 'qed',
  createOptions: QED_CREATE_OPTIONS,
  variants: QED_VARIANTS,
  probe(leadingBytes: Uint8Array): boolean {
    if (leadingBytes.length < QED_HEADER_BYTES) return false;
    const view = new DataView(leadingBytes.buffer, leadingBytes.byteOffset, 4);
    return view.getUint32(0, true) === QED_MAGIC;
  },
  create: (context) => {
    // A variant that is a create-option axis (cluster_size, table_size) adds its option.
    const policy = parseQedVariant(context.variant);
    createQed({ ...context, options: { ...context.options, ...policy.createOptions } });
  },
  open: (context: OpenContext): ImageFormat => new QedImage(context),
};
