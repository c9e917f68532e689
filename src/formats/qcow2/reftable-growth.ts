/**
 * Refcount-table growth policies of the `reftable-growth` variant beside QEMU's (1.5× in
 * RefcountAllocator.refcountArea): a relocation to a table of a chosen size, used at create
 * (`prealloc`: sized for the whole virtual disk) and ahead of need (`background`).
 */
import type { MeteredDevice } from '../../device/metered-device.ts';
import { UsageError } from '../../util/errors.ts';
import { DISCARD_OTHER, MAX_REFTABLE_BYTES } from './constants.ts';
import { refcountMetadataSize } from './refcount-table.ts';
import type { Qcow2State } from './state.ts';
import { writeU32, writeU64 } from './u64.ts';

/**
 * Moves the refcount table to a new one of at least `entries` entries, in QEMU's order: new
 * clusters allocated (their refcounts may create a refblock in the old table), table written and
 * flushed, header switched and flushed, old table freed.
 */
export function relocateReftable(s: Qcow2State, entries: number): void {
  const r = s.refcounts;
  const cs = s.clusterSize;
  const clusters = Math.ceil((entries * 8) / cs);
  if (clusters * cs > MAX_REFTABLE_BYTES) {
    throw new UsageError('refcount table would exceed 8 MiB (use a larger cluster size)');
  }
  if (clusters * (cs / 8) <= r.reftableSize) return;
  const offset = r.allocClusters(clusters * cs);
  const size = clusters * (cs / 8);
  const table = new Float64Array(size);
  table.set(r.reftable.subarray(0, Math.min(r.reftableSize, size)));
  const bytes = new Uint8Array(size * 8);
  for (let i = 0; i < Math.min(r.reftableSize, size); i++) {
    writeU64(bytes, i * 8, table[i] as number);
  }
  s.device.write(offset, bytes, 'reftable');
  s.device.flush();
  const header = new Uint8Array(12);
  writeU64(header, 0, offset);
  writeU32(header, 8, clusters);
  s.device.write(48, header, 'header');
  s.device.flush();
  const oldOffset = r.reftableOffset;
  const oldBytes = r.reftableSize * 8;
  r.reftable = table;
  r.reftableSize = size;
  r.reftableOffset = offset;
  r.onReftableMoved?.(offset, clusters);
  r.freeClusters(oldOffset, oldBytes, DISCARD_OTHER);
}

/** Entries a table needs to cover a fully allocated disk of this size (with its metadata). */
export function reftableEntriesFor(s: Qcow2State, virtualSizeBytes: number): number {
  const cs = s.clusterSize;
  const dataClusters = Math.ceil(virtualSizeBytes / cs);
  const l2Clusters = Math.ceil(dataClusters / (cs / 8));
  return refcountMetadataSize(dataClusters + l2Clusters + 16, cs, s.refcounts.refcountOrder, false)
    .refblocks;
}

/** Fraction of the table in use at which the background growth starts. */
const BACKGROUND_THRESHOLD = 0.75;

/**
 * `background`: once the refblocks in use pass 3/4 of the table, a 1.5× relocation starts. Its
 * I/O is issued at once but charged to a background timeline (MeteredDevice.detached), so it ends
 * at start + its own cost; an allocation needing a refblock index past the old table before then
 * waits for it (the stall the thread warned of). Foreground and background I/O are not modelled
 * as contending for the device.
 */
export class BackgroundReftableGrowth {
  readonly #s: Qcow2State;
  readonly #metered: MeteredDevice | undefined;
  #doneAtNs = -1;
  #oldSize = 0;
  #running = false;
  /** Allocations that waited, and the total wait (simulated ns). */
  waits = 0;
  waitNs = 0;
  growths = 0;

  constructor(s: Qcow2State, metered: MeteredDevice | undefined) {
    this.#s = s;
    this.#metered = metered;
  }

  /** An allocation that may reach past the old table waits for a growth still running. */
  beforeAlloc(firstClusterIndex: number, clusters: number): void {
    if (this.#running || this.#doneAtNs < 0) return;
    const r = this.#s.refcounts;
    const lastIndex = Math.floor((firstClusterIndex + clusters - 1) / r.refblockEntries);
    const clock = this.#metered?.clock;
    if (!clock || lastIndex < this.#oldSize) return;
    const now = clock.nowNs();
    if (now < this.#doneAtNs) {
      this.waits++;
      this.waitNs += this.#doneAtNs - now;
      clock.advanceNs(this.#doneAtNs - now);
    }
    this.#doneAtNs = -1;
  }

  /** Starts the growth once the refblocks in use pass the threshold. */
  afterAlloc(offsetBytes: number, lengthBytes: number): void {
    if (this.#running) return;
    const r = this.#s.refcounts;
    const cs = this.#s.clusterSize;
    const lastIndex = Math.floor((offsetBytes + lengthBytes - 1) / cs / r.refblockEntries);
    const clock = this.#metered?.clock;
    if (lastIndex + 1 <= BACKGROUND_THRESHOLD * r.reftableSize) return;
    this.#running = true;
    try {
      const oldSize = r.reftableSize;
      const grow = (): void => relocateReftable(this.#s, oldSize + Math.ceil(oldSize / 2));
      let costNs = 0;
      if (this.#metered) costNs = this.#metered.detached(grow);
      else grow();
      this.growths++;
      this.#oldSize = oldSize;
      this.#doneAtNs = (clock?.nowNs() ?? 0) + costNs;
    } finally {
      this.#running = false;
    }
  }
}
