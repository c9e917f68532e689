import { type BlockDevice, IO_KIND_INDEX, IO_KINDS, type IoKind } from '../device/types.ts';

const DATA = IO_KIND_INDEX.data;
const ZERO_FILL = IO_KIND_INDEX['zero-fill'];

/**
 * Pass-through device that remembers which host clusters each kind of metadata was written to:
 * the on-disk footprint of the L2 tables, refcount blocks, reftable... a run touched, measured
 * rather than derived (the thread's "a 1 TB image has 128 MB of refcount table" is a footprint
 * claim). Guest data is not tracked: it would cost a set entry per data cluster.
 */
export class FootprintDevice implements BlockDevice {
  readonly inner: BlockDevice;
  /** Cluster size the footprint is counted in; writes are rounded out to whole granules. */
  granuleBytes = 512;
  enabled = false;
  readonly #granules: Array<Set<number>> = IO_KINDS.map(() => new Set<number>());

  constructor(inner: BlockDevice) {
    this.inner = inner;
  }

  /** Bytes of host file holding metadata of `kind` written while enabled. */
  footprintBytes(kind: IoKind): number {
    return (this.#granules[IO_KIND_INDEX[kind]] as Set<number>).size * this.granuleBytes;
  }

  read(offsetBytes: number, lengthBytes: number, kind: IoKind): Uint8Array {
    return this.inner.read(offsetBytes, lengthBytes, kind);
  }

  write(offsetBytes: number, data: Uint8Array, kind: IoKind): void {
    this.#note(offsetBytes, data.length, kind);
    this.inner.write(offsetBytes, data, kind);
  }

  zeroRange(offsetBytes: number, lengthBytes: number, kind: IoKind): void {
    this.#note(offsetBytes, lengthBytes, kind);
    this.inner.zeroRange(offsetBytes, lengthBytes, kind);
  }

  flush(): void {
    this.inner.flush();
  }

  size(): number {
    return this.inner.size();
  }

  truncate(sizeBytes: number): void {
    this.inner.truncate(sizeBytes);
  }

  #note(offsetBytes: number, lengthBytes: number, kind: IoKind): void {
    if (!this.enabled || lengthBytes === 0) return;
    const k = IO_KIND_INDEX[kind];
    if (k === DATA || k === ZERO_FILL) return;
    const set = this.#granules[k] as Set<number>;
    const first = Math.floor(offsetBytes / this.granuleBytes);
    const last = Math.floor((offsetBytes + lengthBytes - 1) / this.granuleBytes);
    for (let g = first; g <= last; g++) set.add(g);
  }
}
