import type { SimClock } from './clock.ts';
import { type CostModel, NoCostModel } from './cost-model.ts';
import { IoCounters } from './io-counters.ts';
import {
  type BlockDevice,
  IO_KIND_INDEX,
  type IoKind,
  type IoRecord,
  type PatchedWrite,
  type PatchWritableDevice,
  writePatched,
} from './types.ts';

const HEADER = IO_KIND_INDEX.header;
const L1 = IO_KIND_INDEX.l1;
const L2 = IO_KIND_INDEX.l2;
const REFBLOCK = IO_KIND_INDEX.refblock;
const REFTABLE = IO_KIND_INDEX.reftable;
const SNAPSHOT = IO_KIND_INDEX.snapshot;
const FREELIST = IO_KIND_INDEX.freelist;
const BITMAP = IO_KIND_INDEX.bitmap;
const DATA = IO_KIND_INDEX.data;
const ZERO_FILL = IO_KIND_INDEX['zero-fill'];

/**
 * IO_KIND_INDEX[kind], for the counters of every host op. A switch over the kind strings (compared
 * by identity, commonest first): the keyed load it replaces, with a kind that differs from call to
 * call, cost about twice as much per op when the caller is not inlined.
 */
function kindIndex(kind: IoKind): number {
  switch (kind) {
    case 'data':
      return DATA;
    case 'zero-fill':
      return ZERO_FILL;
    case 'l2':
      return L2;
    case 'refblock':
      return REFBLOCK;
    case 'l1':
      return L1;
    case 'header':
      return HEADER;
    case 'reftable':
      return REFTABLE;
    case 'snapshot':
      return SNAPSHOT;
    case 'freelist':
      return FREELIST;
    case 'bitmap':
      return BITMAP;
  }
  return IO_KIND_INDEX[kind];
}

interface ReadsInto {
  readInto(offsetBytes: number, out: Uint8Array, kind?: IoKind): void;
}

export interface MeteredDeviceOptions {
  clock?: SimClock;
  costModel?: CostModel;
  /** Receives every host operation (the I/O log); omitted for speed when nobody listens. */
  log?: (record: IoRecord) => void;
}

/**
 * The host file node as the format engine sees it: counts every operation by kind, charges the
 * cost model's simulated time to the clock, optionally logs each op, and elides flushes the way
 * QEMU's bdrv_co_flush does — a flush with nothing written (or zeroed, or truncated) since the last
 * one issues nothing and costs nothing.
 */
export class MeteredDevice implements PatchWritableDevice {
  readonly inner: BlockDevice;
  readonly counters = new IoCounters();
  readonly clock: SimClock | undefined;
  readonly costModel: CostModel;
  log: ((record: IoRecord) => void) | undefined;
  #dirtySinceFlush = false;
  /**
   * False when no op can cost time (no clock, or the `none` model, whose every cost is 0): every
   * engine op passes through here (about 4 per simulated QED write), and asking the model costs a
   * call each.
   */
  readonly #charges: boolean;
  /** What the inner device offers, looked up once rather than per op. */
  readonly #innerReadsInto: boolean;
  readonly #innerPatches: boolean;

  constructor(inner: BlockDevice, options: MeteredDeviceOptions = {}) {
    this.inner = inner;
    this.clock = options.clock;
    this.costModel = options.costModel ?? new NoCostModel();
    this.log = options.log;
    this.#charges = this.clock !== undefined && this.costModel.constructor !== NoCostModel;
    this.#innerReadsInto = typeof (inner as Partial<ReadsInto>).readInto === 'function';
    this.#innerPatches = typeof (inner as Partial<PatchWritableDevice>).writePatched === 'function';
  }

  read(offsetBytes: number, lengthBytes: number, kind: IoKind): Uint8Array {
    const i = kindIndex(kind);
    this.counters.readOps[i] = (this.counters.readOps[i] as number) + 1;
    this.counters.readBytes[i] = (this.counters.readBytes[i] as number) + lengthBytes;
    this.#charge('read', offsetBytes, lengthBytes);
    this.log?.({ op: 'read', offset: offsetBytes, length: lengthBytes, kind });
    return this.inner.read(offsetBytes, lengthBytes, kind);
  }

  /** `read` into the caller's buffer (counted, charged and logged the same way). */
  readInto(offsetBytes: number, out: Uint8Array, kind: IoKind): void {
    const lengthBytes = out.length;
    const i = kindIndex(kind);
    this.counters.readOps[i] = (this.counters.readOps[i] as number) + 1;
    this.counters.readBytes[i] = (this.counters.readBytes[i] as number) + lengthBytes;
    this.#charge('read', offsetBytes, lengthBytes);
    this.log?.({ op: 'read', offset: offsetBytes, length: lengthBytes, kind });
    if (this.#innerReadsInto)
      (this.inner as BlockDevice & ReadsInto).readInto(offsetBytes, out, kind);
    else out.set(this.inner.read(offsetBytes, lengthBytes, kind));
  }

  /**
   * A read whose bytes the caller already holds (an engine's decoded copy of metadata only it
   * writes): counted, charged and logged exactly like `read`, without fetching from the inner
   * device. Lets a cache-miss re-read of a 256 KiB table cost what QEMU's costs in simulated time
   * without costing it in wall time.
   */
  noteRead(offsetBytes: number, lengthBytes: number, kind: IoKind): void {
    const i = kindIndex(kind);
    this.counters.readOps[i] = (this.counters.readOps[i] as number) + 1;
    this.counters.readBytes[i] = (this.counters.readBytes[i] as number) + lengthBytes;
    this.#charge('read', offsetBytes, lengthBytes);
    this.log?.({ op: 'read', offset: offsetBytes, length: lengthBytes, kind });
  }

  /**
   * Reads submitted together with at most `queueDepth` in flight: each counted and logged like
   * `read`, the batch charged once with the cost model's batchCostNs (elevator order on an HDD,
   * channel parallelism on flash).
   */
  readBatch(
    requests: ReadonlyArray<{ offsetBytes: number; lengthBytes: number }>,
    queueDepth: number,
    kind: IoKind,
  ): Uint8Array[] {
    const i = kindIndex(kind);
    for (const r of requests) {
      this.counters.readOps[i] = (this.counters.readOps[i] as number) + 1;
      this.counters.readBytes[i] = (this.counters.readBytes[i] as number) + r.lengthBytes;
      this.log?.({ op: 'read', offset: r.offsetBytes, length: r.lengthBytes, kind });
    }
    if (this.clock && requests.length > 0) {
      const ops = requests.map((r) => ({ op: 'read' as const, ...r }));
      const ns = this.costModel.batchCostNs(ops, queueDepth);
      if (ns > 0) this.clock.advanceNs(ns);
    }
    return requests.map((r) => this.inner.read(r.offsetBytes, r.lengthBytes, kind));
  }

  write(offsetBytes: number, data: Uint8Array, kind: IoKind): void {
    const i = kindIndex(kind);
    this.counters.writeOps[i] = (this.counters.writeOps[i] as number) + 1;
    this.counters.writeBytes[i] = (this.counters.writeBytes[i] as number) + data.length;
    this.#charge('write', offsetBytes, data.length);
    this.log?.({ op: 'write', offset: offsetBytes, length: data.length, kind });
    this.#dirtySinceFlush = true;
    this.inner.write(offsetBytes, data, kind);
  }

  /** One write of `lengthBytes`, counted, charged and logged exactly like `write`. */
  writePatched(offsetBytes: number, lengthBytes: number, write: PatchedWrite, kind: IoKind): void {
    const i = kindIndex(kind);
    this.counters.writeOps[i] = (this.counters.writeOps[i] as number) + 1;
    this.counters.writeBytes[i] = (this.counters.writeBytes[i] as number) + lengthBytes;
    this.#charge('write', offsetBytes, lengthBytes);
    this.log?.({ op: 'write', offset: offsetBytes, length: lengthBytes, kind });
    this.#dirtySinceFlush = true;
    if (this.#innerPatches) {
      (this.inner as PatchWritableDevice).writePatched(offsetBytes, lengthBytes, write, kind);
    } else {
      writePatched(this.inner, offsetBytes, lengthBytes, write, kind);
    }
  }

  zeroRange(offsetBytes: number, lengthBytes: number, kind: IoKind): void {
    const i = kindIndex(kind);
    this.counters.zeroOps[i] = (this.counters.zeroOps[i] as number) + 1;
    this.counters.zeroBytes[i] = (this.counters.zeroBytes[i] as number) + lengthBytes;
    this.#charge('zero', offsetBytes, lengthBytes);
    this.log?.({ op: 'zero', offset: offsetBytes, length: lengthBytes, kind });
    this.#dirtySinceFlush = true;
    this.inner.zeroRange(offsetBytes, lengthBytes, kind);
  }

  flush(): void {
    if (!this.#dirtySinceFlush) return;
    this.#dirtySinceFlush = false;
    this.counters.flushes++;
    this.#charge('flush', 0, 0);
    this.log?.({ op: 'flush' });
    this.inner.flush();
  }

  size(): number {
    return this.inner.size();
  }

  truncate(sizeBytes: number): void {
    this.counters.truncates++;
    this.#charge('truncate', 0, 0);
    this.log?.({ op: 'truncate', size: sizeBytes });
    this.#dirtySinceFlush = true;
    this.inner.truncate(sizeBytes);
  }

  /** True when a flush now would issue an fdatasync. */
  get dirtySinceFlush(): boolean {
    return this.#dirtySinceFlush;
  }

  /**
   * Runs `work` with its I/O counted as usual but its time charged to a background timeline: the
   * clock does not move. Returns the simulated ns the work took there.
   */
  detached(work: () => void): number {
    const outer = this.#detachedNs;
    this.#detachedNs = 0;
    try {
      work();
      return this.#detachedNs;
    } finally {
      this.#detachedNs = outer;
    }
  }

  #detachedNs: number | undefined;

  #charge(
    op: 'read' | 'write' | 'zero' | 'flush' | 'truncate',
    offsetBytes: number,
    lengthBytes: number,
  ): void {
    if (!this.#charges) return;
    const ns = this.costModel.costNs(op, offsetBytes, lengthBytes);
    if (ns <= 0) return;
    if (this.#detachedNs !== undefined) this.#detachedNs += ns;
    else (this.clock as SimClock).advanceNs(ns);
  }
}
