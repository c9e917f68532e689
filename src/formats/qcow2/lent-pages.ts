import { MemoryDevice, type PageBorrower } from '../../device/memory-device.ts';
import { MeteredDevice } from '../../device/metered-device.ts';
import type { IoKind } from '../../device/types.ts';
import type { ImageFormat } from '../types.ts';
import type { FileNode } from './file-node.ts';
import type { MetadataCache, PageLender } from './metadata-cache.ts';
import { Qcow2Image } from './qcow2-image.ts';

/** Buckets of lent-table counts (a power of two, eight times the 32 MiB cache's slots). */
const GRANULE_BUCKETS = 65536;

/**
 * The L2 cache's slots as the MemoryDevice's own pages. QEMU's cache copies a 4 KiB slice per
 * miss and writes it back whole; on a simulation stack those copies are most of a miss's cost.
 * Lent, a slot is a live view of the page (`MemoryDevice.ownedPageView`): a miss copies nothing,
 * and a write-back is an op the device need not carry out, holding the bytes already. The ops
 * (reads, write-backs: offsets, lengths, order), the simulated time and the bytes at each
 * write-back are the same; only the moment the device's memory changes moves earlier.
 *
 * So that nothing sees that, the cache keeps the bytes each lent table held at its last
 * write-back wherever it changed them since (the L2 paths mark bytes dirty before they change
 * them), and the MemoryDevice makes it give back the lent tables an operation touches before the
 * operation runs, whoever calls it (the engine's own file node, a test reading the device, a
 * crash explorer cloning it): the device gets their written bytes back, the slots keep their own
 * copies. Nobody can observe the device ahead of QEMU's file.
 */
export class LentPages implements PageLender, PageBorrower {
  readonly #file: FileNode;
  readonly #metered: MeteredDevice;
  readonly #memory: MemoryDevice;
  readonly #cache: MetadataCache;
  readonly #granuleBytes: number;
  /**
   * Lent tables per bucket of granules (clusters) of the file, granule modulo the bucket count:
   * an op whose granules' buckets are all empty touches no lent table, which one array read
   * tells for most ops; a bucket shared with lent tables elsewhere only costs the exact check.
   */
  readonly #lentPerBucket = new Int32Array(GRANULE_BUCKETS);
  #lentCount = 0;
  /** Tables lent so far, and operations that had to take some back first (tests check both). */
  borrows = 0;
  reclaims = 0;

  constructor(
    file: FileNode,
    metered: MeteredDevice,
    memory: MemoryDevice,
    cache: MetadataCache,
    granuleBytes: number,
  ) {
    this.#file = file;
    this.#metered = metered;
    this.#memory = memory;
    this.#cache = cache;
    this.#granuleBytes = granuleBytes;
    memory.lendPagesTo(this);
  }

  /** Tables lent now. */
  get lentCount(): number {
    return this.#lentCount;
  }

  borrow(offsetBytes: number, lengthBytes: number, kind: IoKind): Uint8Array | null {
    const view = this.#memory.ownedPageView(offsetBytes, lengthBytes);
    if (view === null) return null;
    this.#file.noteLentRead(offsetBytes, lengthBytes, kind, this.#metered);
    const bucket = this.#bucketOf(offsetBytes);
    this.#lentPerBucket[bucket] = (this.#lentPerBucket[bucket] as number) + 1;
    this.#lentCount++;
    this.borrows++;
    return view;
  }

  wroteBack(offsetBytes: number, lengthBytes: number, kind: IoKind): void {
    this.#file.noteLentWrite(offsetBytes, lengthBytes, kind);
  }

  returned(offsetBytes: number): void {
    const bucket = this.#bucketOf(offsetBytes);
    this.#lentPerBucket[bucket] = (this.#lentPerBucket[bucket] as number) - 1;
    this.#lentCount--;
  }

  /** Before an operation on [offsetBytes, offsetBytes + lengthBytes): give back what it touches. */
  reclaim(offsetBytes: number, lengthBytes: number): void {
    if (this.#lentCount === 0 || lengthBytes <= 0) return;
    const first = Math.floor(offsetBytes / this.#granuleBytes);
    const last = Math.floor((offsetBytes + lengthBytes - 1) / this.#granuleBytes);
    if (last - first > 16) {
      this.#giveBack(offsetBytes, lengthBytes);
      return;
    }
    for (let granule = first; granule <= last; granule++) {
      if ((this.#lentPerBucket[granule % GRANULE_BUCKETS] as number) > 0) {
        this.#giveBack(offsetBytes, lengthBytes);
        return;
      }
    }
  }

  #bucketOf(offsetBytes: number): number {
    return Math.floor(offsetBytes / this.#granuleBytes) % GRANULE_BUCKETS;
  }

  #giveBack(offsetBytes: number, lengthBytes: number): void {
    const before = this.#lentCount;
    this.#cache.returnLentIn(offsetBytes, lengthBytes);
    if (this.#lentCount < before) this.reclaims++;
  }

  /** Gives every lent table back and stops lending (the cache copies again). */
  stop(): void {
    this.#cache.lendFrom(null);
    this.#file.lent = null;
    this.#memory.endLending(this);
  }
}

/**
 * Lets an open qcow2 image keep its L2 cache in the pages of the MemoryDevice right under its
 * MeteredDevice (see LentPages); qcow2Driver.open does it for every writable image on that stack.
 * Returns false (and changes nothing) for any other stack, a read-only image, or a design variant.
 */
export function lendL2CachePages(image: ImageFormat): boolean {
  if (!(image instanceof Qcow2Image) || image.variant !== undefined || image.closed) return false;
  const s = image.s;
  const metered = s.file.inner;
  if (s.readOnly || !(metered instanceof MeteredDevice) || !(metered.inner instanceof MemoryDevice))
    return false;
  if (s.file.lent !== null) return true;
  const lent = new LentPages(s.file, metered, metered.inner, s.l2Cache, s.clusterSize);
  s.l2Cache.lendFrom(lent);
  s.file.lent = lent;
  return true;
}

/** The image's L2 cache copies from now on (a baseline to compare lending with). */
export function stopLendingL2CachePages(image: ImageFormat): void {
  if (image instanceof Qcow2Image) image.s.file.lent?.stop();
}
