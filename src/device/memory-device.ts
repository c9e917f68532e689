import { type BlockDevice, type IoKind, isZeroBufferView } from './types.ts';

const DEFAULT_PAGE_BYTES = 4096;

export interface MemoryDeviceOptions {
  /** Allocation granule; memory use is (pages touched by non-zero writes) × pageBytes. */
  pageBytes?: number;
  /**
   * `store` keeps guest data like any other bytes. `drop` keeps only metadata: writes of kind
   * `data` and `zero-fill` extend the size but store nothing and read back as zeros. That is how a
   * 1 PiB image taking a million allocating writes fits in memory: the simulation needs the
   * metadata, never the guest's bytes.
   */
  dataMode?: 'store' | 'drop';
}

/**
 * A sparse in-memory device: pages are allocated on the first non-zero write, so a 1 PiB device
 * costs only what was written. All-zero page writes store nothing (or free the page).
 */
export class MemoryDevice implements BlockDevice {
  readonly pageBytes: number;
  readonly dataMode: 'store' | 'drop';
  #pages = new Map<number, Uint8Array>();
  #sizeBytes = 0;

  constructor(options: MemoryDeviceOptions = {}) {
    this.pageBytes = options.pageBytes ?? DEFAULT_PAGE_BYTES;
    if (this.pageBytes <= 0 || (this.pageBytes & (this.pageBytes - 1)) !== 0) {
      throw new Error(`page size must be a power of two, got ${this.pageBytes}`);
    }
    this.dataMode = options.dataMode ?? 'store';
  }

  size(): number {
    return this.#sizeBytes;
  }

  /** Bytes of page memory held (the device's memory cost, excluding map overhead). */
  storedBytes(): number {
    return this.#pages.size * this.pageBytes;
  }

  read(offsetBytes: number, lengthBytes: number, _kind?: IoKind): Uint8Array {
    const out = new Uint8Array(lengthBytes);
    this.readInto(offsetBytes, out);
    return out;
  }

  /** Copies the bytes at `offsetBytes` into `out` (zeros where nothing was written). */
  readInto(offsetBytes: number, out: Uint8Array): void {
    const pageBytes = this.pageBytes;
    let done = 0;
    while (done < out.length) {
      const pos = offsetBytes + done;
      const pageIndex = Math.floor(pos / pageBytes);
      const inPage = pos - pageIndex * pageBytes;
      const n = Math.min(pageBytes - inPage, out.length - done);
      const page = this.#pages.get(pageIndex);
      if (page) out.set(page.subarray(inPage, inPage + n), done);
      else out.fill(0, done, done + n);
      done += n;
    }
  }

  write(offsetBytes: number, data: Uint8Array, kind?: IoKind): void {
    const end = offsetBytes + data.length;
    if (end > this.#sizeBytes) this.#sizeBytes = end;
    if (this.dataMode === 'drop' && (kind === 'data' || kind === 'zero-fill')) return;
    const knownZero = isZeroBufferView(data);
    const pageBytes = this.pageBytes;
    let done = 0;
    while (done < data.length) {
      const pos = offsetBytes + done;
      const pageIndex = Math.floor(pos / pageBytes);
      const inPage = pos - pageIndex * pageBytes;
      const n = Math.min(pageBytes - inPage, data.length - done);
      const chunk = data.subarray(done, done + n);
      let page = this.#pages.get(pageIndex);
      if (n === pageBytes && (knownZero || isAllZero(chunk))) {
        if (page) this.#pages.delete(pageIndex);
      } else if (page) {
        page.set(chunk, inPage);
      } else if (!(knownZero || isAllZero(chunk))) {
        page = new Uint8Array(pageBytes);
        page.set(chunk, inPage);
        this.#pages.set(pageIndex, page);
      }
      done += n;
    }
  }

  zeroRange(offsetBytes: number, lengthBytes: number, _kind?: IoKind): void {
    const end = offsetBytes + lengthBytes;
    if (end > this.#sizeBytes) this.#sizeBytes = end;
    this.#clearRange(offsetBytes, end);
  }

  flush(): void {}

  truncate(sizeBytes: number): void {
    if (sizeBytes < this.#sizeBytes) this.#clearRange(sizeBytes, this.#sizeBytes);
    this.#sizeBytes = sizeBytes;
  }

  /** An independent copy (pages are copied, not shared). */
  clone(): MemoryDevice {
    const copy = new MemoryDevice({ pageBytes: this.pageBytes, dataMode: this.dataMode });
    for (const [index, page] of this.#pages) copy.#pages.set(index, page.slice());
    copy.#sizeBytes = this.#sizeBytes;
    return copy;
  }

  /** Whole contents, for small devices in tests and crash states. */
  toBytes(): Uint8Array {
    return this.read(0, this.#sizeBytes);
  }

  static fromBytes(bytes: Uint8Array, options: MemoryDeviceOptions = {}): MemoryDevice {
    const device = new MemoryDevice(options);
    device.write(0, bytes);
    return device;
  }

  #clearRange(startBytes: number, endBytes: number): void {
    const pageBytes = this.pageBytes;
    const rangeBytes = endBytes - startBytes;
    if (rangeBytes <= 0) return;
    const firstPage = Math.floor(startBytes / pageBytes);
    const lastPage = Math.floor((endBytes - 1) / pageBytes);
    // A huge range over a sparse device: visit the stored pages, not every page index.
    if (lastPage - firstPage > this.#pages.size * 4) {
      for (const [index, page] of this.#pages) {
        if (index >= firstPage && index <= lastPage)
          this.#clearInPage(index, page, startBytes, endBytes);
      }
      return;
    }
    for (let index = firstPage; index <= lastPage; index++) {
      const page = this.#pages.get(index);
      if (page) this.#clearInPage(index, page, startBytes, endBytes);
    }
  }

  #clearInPage(index: number, page: Uint8Array, startBytes: number, endBytes: number): void {
    const pageStart = index * this.pageBytes;
    const from = Math.max(startBytes, pageStart) - pageStart;
    const to = Math.min(endBytes, pageStart + this.pageBytes) - pageStart;
    if (from === 0 && to === this.pageBytes) this.#pages.delete(index);
    else page.fill(0, from, to);
  }
}

function isAllZero(bytes: Uint8Array): boolean {
  if ((bytes.byteOffset & 3) === 0 && (bytes.length & 3) === 0) {
    const words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
    for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}
