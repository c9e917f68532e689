/**
 * Device cost models: simulated nanoseconds per host operation, with every parameter traced to
 * `shared/reference/anchors.md` §6 (the URL and figure sit next to each constant). Constants not
 * read in a source are marked [derived] with their arithmetic.
 *
 * What each model charges:
 * - reads and writes: positioning (HDD) or access latency (flash), plus size over bandwidth;
 * - zero ranges: qemu's `file` node issues fallocate(ZERO_RANGE); the host file system records
 *   unwritten extents and touches no data. Flash pays one command latency and no transfer; the
 *   HDD pays nothing now and its head stays put (the extent update reaches the platter with the
 *   journal at the next flush, which the flush term covers);
 * - flush: a fixed cost (drive cache destage), the term that decides writethrough results;
 * - truncate: free (file-system metadata in the page cache, made durable by the next flush).
 */
import { UsageError } from '../util/errors.ts';
import type { CostedOp, CostModel } from './cost-model.ts';
import { NoCostModel } from './cost-model.ts';
import type { IoOpName } from './types.ts';

const NS_PER_MS = 1_000_000;
const NS_PER_US = 1_000;
/** Drive makers' MB: 10^6 bytes. */
const MB = 1_000_000;

// ---------------------------------------------------------------------------------------------
// HDD

export interface HddParameters {
  /** Spindle speed; one revolution = 60 s / rpm. */
  readonly rpm: number;
  /** Track-to-track seek, read / write (the seek curve's constant term). */
  readonly singleTrackSeekReadNs: number;
  readonly singleTrackSeekWriteNs: number;
  /** Average seek over uniformly random start and end positions, read / write. */
  readonly averageSeekReadNs: number;
  readonly averageSeekWriteNs: number;
  /** Sustained transfer rate in the outer and inner zones (bytes per second). */
  readonly outerBandwidthBytesPerSecond: number;
  readonly innerBandwidthBytesPerSecond: number;
  /** Disk capacity the zones and seek distances are relative to. */
  readonly capacityBytes: number;
  /** Cost of a cache flush (FLUSH CACHE / fdatasync on a drive with its write cache on). */
  readonly flushNs: number;
}

/**
 * A 7200 rpm enterprise drive: WD Ultrastar DC HC310 seek figures, Seagate Constellation ES.3
 * (4 TB) transfer zones.
 */
export const HDD_PARAMETERS: HddParameters = {
  // 7200 rpm: one revolution 8.33 ms, average rotational latency 4.16 ms. WD Ultrastar DC HC310
  // spec table 7; Seagate Constellation ES.3 manual (anchors.md §6.1) [read].
  rpm: 7200,
  // Single-track seek 0.23 ms read / 0.32 ms write: WD Ultrastar DC HC310 product manual,
  // https://manualshive.com/en/manual/western-digital/ultrastar-dc-hc310/961649?page=23 [read].
  singleTrackSeekReadNs: 0.23 * NS_PER_MS,
  singleTrackSeekWriteNs: 0.32 * NS_PER_MS,
  // Average seek 7.4 ms read / 8.2 ms write (incl. settling): same HC310 page [read].
  averageSeekReadNs: 7.4 * NS_PER_MS,
  averageSeekWriteNs: 8.2 * NS_PER_MS,
  // Sustained transfer 175 MB/s outer zone → 83 MB/s inner zone: Seagate Constellation ES.3 4 TB,
  // http://office.manualsonline.com/manuals/mfg/seagate/st1000nm0033_1.html?p=14 [read].
  outerBandwidthBytesPerSecond: 175 * MB,
  innerBandwidthBytesPerSecond: 83 * MB,
  // The ES.3 model the zones were read from is 4 TB (decimal, as drives are sold) [read].
  capacityBytes: 4_000_000_000_000,
  // [derived] No datasheet gives a flush time. A synchronous write waits for the platter, so the
  // ceiling is about one same-track synchronous write per revolution (~120/s, anchors.md §6.1):
  // we charge one revolution, 60 s / 7200 = 8.33 ms (≥ the "flush ≥ 4 ms" of §6.5).
  flushNs: 60_000_000_000 / 7200,
};

export interface HddModelOptions {
  /** Override parameters (e.g. a smaller capacity, so a test image spans the whole platter). */
  parameters?: Partial<HddParameters>;
  /**
   * `zoned` (default): bandwidth falls linearly from the outer to the inner zone with the offset
   * relative to `capacityBytes`. `average`: a fixed (outer + inner) / 2.
   */
  bandwidth?: 'zoned' | 'average';
}

/**
 * Seek curve: `seek(d) = settle + k·sqrt(d / capacity)` for a seek of `d` bytes (`d > 0`), the
 * usual shape (acceleration-limited short seeks, coast-limited long ones). `settle` is the
 * single-track time. For start and end uniform on the platter the mean of sqrt(d) is 8/15, so
 * `k = (average − settle)·15/8` makes the mean equal the datasheet's average seek [derived].
 * Full stroke is then settle + k: 13.7 ms read / 15.1 ms write [derived], between the HC310's
 * maximum (10/11 ms) and an older desktop drive's full stroke (20–22 ms, Hitachi 7K320) [read].
 *
 * Positioning: an operation that starts where the previous one ended pays no seek and no
 * rotation (the head is there and the sector is arriving). A short forward skip within one
 * track waits for the platter to carry the gap past the head (gap / bandwidth), unless a seek
 * plus the average rotational wait is quicker [derived]. Any other access pays seek(distance)
 * plus half a revolution, the average rotational latency.
 */
export class HddCostModel implements CostModel {
  readonly name = 'hdd';
  readonly parameters: HddParameters;
  readonly bandwidthMode: 'zoned' | 'average';
  readonly revolutionNs: number;
  readonly averageRotationNs: number;
  readonly #seekSlopeReadNs: number;
  readonly #seekSlopeWriteNs: number;
  #headBytes = 0;

  constructor(options: HddModelOptions = {}) {
    this.parameters = { ...HDD_PARAMETERS, ...options.parameters };
    this.bandwidthMode = options.bandwidth ?? 'zoned';
    const p = this.parameters;
    this.revolutionNs = 60_000_000_000 / p.rpm;
    this.averageRotationNs = this.revolutionNs / 2;
    this.#seekSlopeReadNs = ((p.averageSeekReadNs - p.singleTrackSeekReadNs) * 15) / 8;
    this.#seekSlopeWriteNs = ((p.averageSeekWriteNs - p.singleTrackSeekWriteNs) * 15) / 8;
  }

  /** Where the head is: the byte after the last transferred one. */
  get headBytes(): number {
    return this.#headBytes;
  }

  /** Seek time for a seek of `distanceBytes` (0 for no seek). */
  seekNs(distanceBytes: number, op: 'read' | 'write'): number {
    if (distanceBytes <= 0) return 0;
    const p = this.parameters;
    const fraction = Math.min(1, distanceBytes / p.capacityBytes);
    return op === 'read'
      ? p.singleTrackSeekReadNs + this.#seekSlopeReadNs * Math.sqrt(fraction)
      : p.singleTrackSeekWriteNs + this.#seekSlopeWriteNs * Math.sqrt(fraction);
  }

  /** Sustained media rate at `offsetBytes` (bytes per second). */
  bandwidthAt(offsetBytes: number): number {
    const p = this.parameters;
    if (this.bandwidthMode === 'average') {
      return (p.outerBandwidthBytesPerSecond + p.innerBandwidthBytesPerSecond) / 2;
    }
    const fraction = Math.min(1, Math.max(0, offsetBytes / p.capacityBytes));
    return (
      p.outerBandwidthBytesPerSecond -
      (p.outerBandwidthBytesPerSecond - p.innerBandwidthBytesPerSecond) * fraction
    );
  }

  /** Bytes passing under the head in one revolution at `offsetBytes`. */
  trackBytesAt(offsetBytes: number): number {
    return (this.bandwidthAt(offsetBytes) * this.revolutionNs) / 1e9;
  }

  transferNs(offsetBytes: number, lengthBytes: number): number {
    return (lengthBytes * 1e9) / this.bandwidthAt(offsetBytes);
  }

  /** Time to bring the head over `offsetBytes` from where it is, for a read or a write. */
  positioningNs(offsetBytes: number, op: 'read' | 'write'): number {
    const gap = offsetBytes - this.#headBytes;
    if (gap === 0) return 0;
    const repositionNs = this.seekNs(Math.abs(gap), op) + this.averageRotationNs;
    if (gap > 0 && gap < this.trackBytesAt(this.#headBytes)) {
      // Waiting for most of a revolution is worse than a track switch plus the average wait.
      return Math.min(this.transferNs(this.#headBytes, gap), repositionNs);
    }
    return repositionNs;
  }

  costNs(op: IoOpName, offsetBytes: number, lengthBytes: number): number {
    switch (op) {
      case 'read':
      case 'write': {
        const ns = this.positioningNs(offsetBytes, op) + this.transferNs(offsetBytes, lengthBytes);
        this.#headBytes = offsetBytes + lengthBytes;
        return Math.round(ns);
      }
      case 'flush':
        return Math.round(this.parameters.flushNs);
      case 'zero':
      case 'truncate':
        return 0;
    }
  }

  /**
   * The drive holds up to `queueDepth` requests and always serves the nearest one at or after
   * the head, wrapping to the lowest offset when none is ahead (C-LOOK elevator). A flush is a
   * barrier: everything submitted before it completes first.
   */
  batchCostNs(ops: readonly CostedOp[], queueDepth: number): number {
    const depth = Math.max(1, Math.floor(queueDepth));
    let totalNs = 0;
    let next = 0;
    const window: CostedOp[] = [];
    while (next < ops.length || window.length > 0) {
      while (window.length < depth && next < ops.length) {
        const op = ops[next] as CostedOp;
        if (op.op === 'flush' && window.length > 0) break;
        window.push(op);
        next++;
        if (op.op === 'flush') break;
      }
      const index = this.#nearestAhead(window);
      const [op] = window.splice(index, 1) as [CostedOp];
      totalNs += this.costNs(op.op, op.offsetBytes, op.lengthBytes);
    }
    return totalNs;
  }

  reset(): void {
    this.#headBytes = 0;
  }

  #nearestAhead(window: readonly CostedOp[]): number {
    let ahead = -1;
    let lowest = 0;
    for (let i = 0; i < window.length; i++) {
      const op = window[i] as CostedOp;
      const lowestOp = window[lowest] as CostedOp;
      if (op.offsetBytes < lowestOp.offsetBytes) lowest = i;
      if (op.offsetBytes >= this.#headBytes) {
        if (ahead < 0 || op.offsetBytes < (window[ahead] as CostedOp).offsetBytes) ahead = i;
      }
    }
    return ahead >= 0 ? ahead : lowest;
  }
}

// ---------------------------------------------------------------------------------------------
// Flash (SATA SSD, NVMe)

export interface FlashParameters {
  /** QD1 latency of a 4 KiB random read / write, transfer included (the published figure). */
  readonly fourKiBReadNs: number;
  readonly fourKiBWriteNs: number;
  /** Sequential bandwidth, read / write (bytes per second). */
  readonly readBandwidthBytesPerSecond: number;
  readonly writeBandwidthBytesPerSecond: number;
  /** Cost of a cache flush. */
  readonly flushNs: number;
  /** Requests the drive serves at once (dies/channels the controller keeps busy). */
  readonly channels: number;
  /** Whether the drive has power-loss protection (documentation: it is why flush is cheap). */
  readonly powerLossProtection: boolean;
}

/** Samsung 850 EVO 1 TB (anchors.md §6.2). */
export const SATA_SSD_PARAMETERS: FlashParameters = {
  // 4 KiB random read QD1 10,000 IOPS (= 100 µs); random write QD1 40,000 IOPS (= 25 µs, the
  // DRAM write cache absorbs it). Samsung 850 EVO 1 TB specification,
  // https://www.wired2fire.co.uk/samsung-1tb-850-evo-series-sata-iii-6gb-s-solid-state-drive.html [read].
  fourKiBReadNs: 100 * NS_PER_US,
  fourKiBWriteNs: 25 * NS_PER_US,
  // Sequential read 540 MB/s, write 520 MB/s: same specification [read].
  readBandwidthBytesPerSecond: 540 * MB,
  writeBandwidthBytesPerSecond: 520 * MB,
  // [derived] No SATA figure found; anchors.md §6.5 gives 1–5 ms for flash without power-loss
  // protection. 2 ms: a little above the consumer NVMe fdatasync (1.64 ms, §6.4) because ATA
  // FLUSH CACHE is not a queued command, so the NCQ queue drains before it runs.
  flushNs: 2 * NS_PER_MS,
  // [derived] 850 EVO 1 TB: random read QD32 94,000–98,000 IOPS (Samsung's specification as
  // reported by https://cio.de/a/samsung-packs-more-speed-endurance-into-850-evo-consumer-ssds,3100235
  // [read]); 98,000 IOPS × 100 µs ≈ 10 requests served at once.
  channels: 10,
  powerLossProtection: false,
};

/** NAND NVMe (Intel DC P3700 figures) with a consumer drive's flush (no power-loss protection). */
export const NVME_PARAMETERS: FlashParameters = {
  // 4 KiB random read QD1 mean latency 77.9 µs, Intel P3700: AnandTech Optane P4800X review,
  // http://www.anandtech.com/show/11209/intel-optane-ssd-dc-p4800x-review-a-deep-dive-into-3d-xpoint-enterprise-performance/4
  // [read] (Micron 9100 MAX: 107.7 µs, same page).
  fourKiBReadNs: 77.9 * NS_PER_US,
  // Write latency 20 µs typical: Intel SSD DC P3700 product specification ("Seq Latency (typ)
  // R/W: 20/20 µs"), https://vdocuments.mx/intel-solid-state-drive-dc-p3700-series-product-specification-reliability-specifications.html
  // [read]; consistent with "flash random write latency only 2–3× Optane's" (8.9 µs, §6.3).
  fourKiBWriteNs: 20 * NS_PER_US,
  // Sequential read 2,800 MB/s, write 2,000 MB/s: same P3700 specification [read] (not in §6).
  readBandwidthBytesPerSecond: 2800 * MB,
  writeBandwidthBytesPerSecond: 2000 * MB,
  // Consumer NVMe without PLP (Samsung 990 Pro, XFS), pg_test_fsync one 8 kB write: fdatasync
  // 608.6 ops/s = 1,643 µs/op, https://tanelpoder.com/posts/using-pg-test-fsync-for-testing-low-latency-writes
  // [read] (anchors.md §6.4).
  flushNs: 1643 * NS_PER_US,
  // [derived] P3700 4 KiB random read at QD16: 167.2k IOPS (AnandTech page above) [read];
  // 167,200 IOPS × 77.9 µs ≈ 13.0 requests in flight.
  channels: 13,
  powerLossProtection: false,
};

/** The same NAND NVMe with power-loss protection: the cache is durable, flush is nearly free. */
export const NVME_PLP_PARAMETERS: FlashParameters = {
  ...NVME_PARAMETERS,
  // [derived] 16 KB write + fsync takes ~12–58 µs on PLP/enterprise drives (Mark Callaghan, Jan
  // 2026, http://smalldatum.blogspot.com/2026/01/ssds-power-loss-protection-and-fsync.html,
  // numbers read from https://engineered.at/articles/ssds-power-loss-protection-and-fsync-latency
  // [summary], anchors.md §6.4); we take the midpoint, 35 µs.
  flushNs: 35 * NS_PER_US,
  powerLossProtection: true,
};

/**
 * Flash: `latency + size / bandwidth`, where the latency is the published QD1 4 KiB figure minus
 * the 4 KiB transfer [derived], so a 4 KiB request costs exactly the published figure. No
 * positional state: random and sequential cost the same.
 *
 * Batches: up to `min(queueDepth, channels)` requests are in service at once, each for its
 * latency, then its transfer crosses the one host link (SATA or PCIe) in turn. A flush waits for
 * everything before it.
 */
export class FlashCostModel implements CostModel {
  readonly name: string;
  readonly parameters: FlashParameters;
  readonly readLatencyNs: number;
  readonly writeLatencyNs: number;

  constructor(name: string, parameters: FlashParameters) {
    this.name = name;
    this.parameters = parameters;
    this.readLatencyNs =
      parameters.fourKiBReadNs - (4096 * 1e9) / parameters.readBandwidthBytesPerSecond;
    this.writeLatencyNs =
      parameters.fourKiBWriteNs - (4096 * 1e9) / parameters.writeBandwidthBytesPerSecond;
  }

  transferNs(op: IoOpName, lengthBytes: number): number {
    if (op === 'read') return (lengthBytes * 1e9) / this.parameters.readBandwidthBytesPerSecond;
    if (op === 'write') return (lengthBytes * 1e9) / this.parameters.writeBandwidthBytesPerSecond;
    return 0;
  }

  latencyNs(op: IoOpName): number {
    switch (op) {
      case 'read':
        return this.readLatencyNs;
      case 'write':
      case 'zero':
        return this.writeLatencyNs;
      case 'flush':
        return this.parameters.flushNs;
      case 'truncate':
        return 0;
    }
  }

  costNs(op: IoOpName, _offsetBytes: number, lengthBytes: number): number {
    return Math.round(this.latencyNs(op) + this.transferNs(op, lengthBytes));
  }

  batchCostNs(ops: readonly CostedOp[], queueDepth: number): number {
    const slots = Math.max(1, Math.min(Math.floor(queueDepth), this.parameters.channels));
    const slotFreeNs = new Float64Array(slots);
    let linkFreeNs = 0;
    let lastDoneNs = 0;
    for (const op of ops) {
      if (op.op === 'flush') {
        const doneNs = lastDoneNs + this.parameters.flushNs;
        slotFreeNs.fill(doneNs);
        linkFreeNs = doneNs;
        lastDoneNs = doneNs;
        continue;
      }
      let slot = 0;
      for (let i = 1; i < slots; i++) {
        if ((slotFreeNs[i] as number) < (slotFreeNs[slot] as number)) slot = i;
      }
      const serviceDoneNs = (slotFreeNs[slot] as number) + this.latencyNs(op.op);
      const doneNs = Math.max(serviceDoneNs, linkFreeNs) + this.transferNs(op.op, op.lengthBytes);
      linkFreeNs = doneNs;
      slotFreeNs[slot] = doneNs;
      if (doneNs > lastDoneNs) lastDoneNs = doneNs;
    }
    return Math.round(lastDoneNs);
  }

  reset(): void {}
}

// ---------------------------------------------------------------------------------------------
// Registry

export const COST_MODEL_NAMES = ['none', 'hdd', 'sata-ssd', 'nvme', 'nvme-plp'] as const;
export type CostModelName = (typeof COST_MODEL_NAMES)[number];

/** A fresh model (models keep positional state, so each device gets its own). */
export function createCostModel(name: string, options: HddModelOptions = {}): CostModel {
  switch (name) {
    case 'none':
      return new NoCostModel();
    case 'hdd':
      return new HddCostModel(options);
    case 'sata-ssd':
      return new FlashCostModel('sata-ssd', SATA_SSD_PARAMETERS);
    case 'nvme':
      return new FlashCostModel('nvme', NVME_PARAMETERS);
    case 'nvme-plp':
      return new FlashCostModel('nvme-plp', NVME_PLP_PARAMETERS);
    default:
      throw new UsageError(
        `unknown cost model '${name}' (expected one of: ${COST_MODEL_NAMES.join(', ')})`,
      );
  }
}
