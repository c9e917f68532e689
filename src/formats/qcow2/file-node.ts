import type { MeteredDevice } from '../../device/metered-device.ts';
import {
  type BlockDevice,
  type IoKind,
  type PatchedWrite,
  type PatchWritableDevice,
  writePatched,
} from '../../device/types.ts';
import { ImageIoError } from '../../util/errors.ts';

/**
 * How far past EOF the lab lets a corrupt pointer take the file: twice its size, at least 64 MiB
 * more. QEMU leaves it to the filesystem (a sparse file grows to whatever a corrupt entry says,
 * ext4 stops at 16 TiB); the lab keeps the work on a corrupt image proportional to the image.
 */
export function pastGrowthLimit(fileBytes: number, endBytes: number): boolean {
  return endBytes > fileBytes + Math.max(fileBytes, 64 * 1024 * 1024);
}

interface ReadsInto {
  readInto(offset: number, out: Uint8Array, kind: IoKind): void;
}

/** The content of a lent table's write-back: what the device holds. */
const UNCHANGED: PatchedWrite = { base: 'unchanged', patches: [] };

/** No filesystem holds a file past 2^53 bytes (ext4 stops at 16 TiB): EFBIG, as pwrite says. */
function refuseGrowthPast(endBytes: number): void {
  if (endBytes > Number.MAX_SAFE_INTEGER) throw new ImageIoError('QCOW2_EFBIG', 'File too large');
}

/**
 * QEMU's view of the `file` child as the qcow2 driver sees it: a flush is skipped when no write
 * has *completed* since the last one (bdrv_co_flush compares write generations, bumped at
 * completion). A data write that an AIO task issued while the request goes on allocating its next
 * piece is still in flight at the next flush check, so that flush issues no fdatasync; the write
 * completes as soon as the main path waits on any I/O of its own.
 */
export class FileNode implements PatchWritableDevice {
  readonly inner: BlockDevice;
  #completedSinceFlush = true;
  #inFlight = false;
  /**
   * Device pages lent to the L2 cache (lent-pages.ts), or null. The device itself makes the
   * cache give back the lent tables an operation touches before it runs (MemoryDevice.lendPagesTo).
   */
  lent: { stop(): void } | null = null;

  constructor(inner: BlockDevice) {
    this.inner = inner;
  }

  /** A write issued by an AIO task that the request does not wait for yet. */
  writeInFlight(offset: number, data: Uint8Array, kind: IoKind): void {
    this.settle();
    this.inner.write(offset, data, kind);
    this.#inFlight = true;
  }

  /** The request waits for all of its tasks (aio_task_pool_wait_all). */
  settle(): void {
    if (this.#inFlight) {
      this.#inFlight = false;
      this.#completedSinceFlush = true;
    }
  }

  read(offset: number, length: number, kind: IoKind): Uint8Array {
    this.settle();
    // A corrupt entry can point past 2^53, where no file reaches: zeros, as a read past EOF.
    if (offset + length > Number.MAX_SAFE_INTEGER) return new Uint8Array(length);
    return this.inner.read(offset, length, kind);
  }

  /** `read` into the caller's buffer (a cache slot): no buffer allocated per table read. */
  readInto(offset: number, out: Uint8Array, kind: IoKind): void {
    this.settle();
    const inner = this.inner as BlockDevice & Partial<ReadsInto>;
    if (offset + out.length > Number.MAX_SAFE_INTEGER || typeof inner.readInto !== 'function') {
      out.set(this.read(offset, out.length, kind));
      return;
    }
    inner.readInto(offset, out, kind);
  }

  write(offset: number, data: Uint8Array, kind: IoKind): void {
    this.settle();
    refuseGrowthPast(offset + data.length);
    this.inner.write(offset, data, kind);
    this.#completedSinceFlush = true;
  }

  /** One write of `length` bytes described by what changed (a cached table's write-back). */
  writePatched(offset: number, length: number, write: PatchedWrite, kind: IoKind): void {
    this.settle();
    refuseGrowthPast(offset + length);
    writePatched(this.inner, offset, length, write, kind);
    this.#completedSinceFlush = true;
  }

  zeroRange(offset: number, length: number, kind: IoKind): void {
    this.settle();
    refuseGrowthPast(offset + length);
    this.inner.zeroRange(offset, length, kind);
    this.#completedSinceFlush = true;
  }

  /** A lent table's read: counted, charged and logged as `read` (MeteredDevice.noteRead). */
  noteLentRead(offset: number, length: number, kind: IoKind, metered: MeteredDevice): void {
    this.settle();
    metered.noteRead(offset, length, kind);
  }

  /** A lent table's write-back: one write op like `writePatched`; the device holds it already. */
  noteLentWrite(offset: number, length: number, kind: IoKind): void {
    this.settle();
    writePatched(this.inner, offset, length, UNCHANGED, kind);
    this.#completedSinceFlush = true;
  }

  /** A variant's write-back state written before each flush (flat-refcounts). */
  beforeFlush: (() => void) | undefined;

  flush(): void {
    this.beforeFlush?.();
    if (!this.#completedSinceFlush) return;
    this.#completedSinceFlush = false;
    this.inner.flush();
    // A write still in flight completes while the flush waits, after its generation was taken.
    this.settle();
  }

  size(): number {
    return this.inner.size();
  }

  truncate(size: number): void {
    this.settle();
    refuseGrowthPast(size);
    this.inner.truncate(size);
    this.#completedSinceFlush = true;
  }
}
