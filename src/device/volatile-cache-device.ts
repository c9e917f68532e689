import {
  applyCachedOp,
  type CachedOp,
  type CrashEnumerationOptions,
  type CrashPolicy,
  type CrashState,
  crashImage,
  enumerateCrashStates,
  OpHistory,
} from './crash-states.ts';
import { MemoryDevice } from './memory-device.ts';
import { type BlockDevice, type IoKind, isZeroBufferView, zeroBytes } from './types.ts';

export interface VolatileCacheOptions {
  /**
   * Keep every op with its flush boundaries (see `history`), for crashes in any epoch. The
   * history holds each op's data for the life of the device (guest data excepted in `drop` mode).
   */
  recordHistory?: boolean;
}

/**
 * A drive with a volatile write cache in front of a durable image. Every write, zero range and
 * truncate since the last flush is pending (kept in issue order, data copied); reads see all of
 * them; `flush()` makes them durable. A flush with nothing pending does nothing, as in QEMU.
 *
 * `crash(policy)` returns the image a power cut could leave (see `crash-states.ts` for the
 * model); the device itself is unchanged, so one run can be crashed many ways.
 *
 * Memory: the durable image and the image the guest sees are two devices sharing pages
 * copy-on-write, plus a copy of each pending op's data. In `dataMode: 'drop'` guest data
 * (`data`, `zero-fill`) is not copied.
 */
export class VolatileCacheDevice implements BlockDevice {
  /** What survives any power cut. Updated only by flush. */
  readonly durable: MemoryDevice;
  /** Every op with its epochs, when `recordHistory` was set. */
  readonly history: OpHistory | undefined;
  #current: MemoryDevice;
  #pending: CachedOp[] = [];
  #flushes = 0;

  constructor(durable: MemoryDevice = new MemoryDevice(), options: VolatileCacheOptions = {}) {
    this.durable = durable;
    this.#current = durable.clone();
    this.history = options.recordHistory ? new OpHistory(durable.clone()) : undefined;
  }

  /** Flushes that made something durable (elided ones are not counted). */
  get flushCount(): number {
    return this.#flushes;
  }

  /** Ops issued since the last flush, in order. */
  pendingOps(): readonly CachedOp[] {
    return this.#pending;
  }

  size(): number {
    return this.#current.size();
  }

  read(offsetBytes: number, lengthBytes: number, kind: IoKind): Uint8Array {
    return this.#current.read(offsetBytes, lengthBytes, kind);
  }

  write(offsetBytes: number, data: Uint8Array, kind: IoKind): void {
    const dropped = this.durable.dataMode === 'drop' && (kind === 'data' || kind === 'zero-fill');
    const copy = dropped || isZeroBufferView(data) ? zeroBytes(data.length) : data.slice();
    this.#push({ op: 'write', offsetBytes, data: copy, kind });
    this.#current.write(offsetBytes, data, kind);
  }

  zeroRange(offsetBytes: number, lengthBytes: number, kind: IoKind): void {
    this.#push({ op: 'zero', offsetBytes, lengthBytes, kind });
    this.#current.zeroRange(offsetBytes, lengthBytes, kind);
  }

  truncate(sizeBytes: number): void {
    this.#push({ op: 'truncate', sizeBytes });
    this.#current.truncate(sizeBytes);
  }

  flush(): void {
    if (this.#pending.length === 0) return;
    for (const op of this.#pending) applyCachedOp(this.durable, op);
    this.#pending = [];
    this.#flushes++;
    this.history?.flush();
  }

  /** The durable image a power cut now could leave under `policy` (a fresh device). */
  crash(policy: CrashPolicy): MemoryDevice {
    return crashImage(this.durable, this.#pending, policy);
  }

  /** Crash states of the current epoch, lazily (see `enumerateCrashStates`). */
  crashStates(options: CrashEnumerationOptions): Generator<CrashState, void, undefined> {
    // Snapshots (copy-on-write), so later writes or flushes do not change states not yet drawn.
    return enumerateCrashStates(this.durable.clone(), [...this.#pending], {
      ...options,
      epoch: options.epoch ?? this.#flushes,
    });
  }

  #push(op: CachedOp): void {
    this.#pending.push(op);
    this.history?.record(op);
  }
}
