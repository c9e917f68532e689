import { SimClock } from '../device/clock.ts';
import { createCostModel } from '../device/cost-models.ts';
import type { CrashPolicy } from '../device/crash-states.ts';
import type { IoCountersSnapshot } from '../device/io-counters.ts';
import { isMetadataKind } from '../device/io-counters.ts';
import { MemoryDevice } from '../device/memory-device.ts';
import { MeteredDevice } from '../device/metered-device.ts';
import { type BlockDevice, IO_KINDS, type IoKind, type IoRecord } from '../device/types.ts';
import { VolatileCacheDevice } from '../device/volatile-cache-device.ts';
import { getDriver } from '../formats/registry.ts';
import type { ImageFormat } from '../formats/types.ts';
import { Rng } from '../util/rng.ts';
import { createWorkload } from '../workloads/index.ts';
import type { GuestRequest } from '../workloads/types.ts';
import type { BenchCase } from './cases.ts';
import { FootprintDevice } from './footprint-device.ts';
import { type FsckMeasurement, measureReopen } from './fsck.ts';
import type { HistogramBucket } from './histogram.ts';
import { LatencyRecorder, type LatencySummary } from './latency-recorder.ts';
import type { TimelinePoint } from './timeline.ts';

/** Guest-side totals of one run. */
export interface GuestTotals {
  requests: number;
  reads: number;
  writes: number;
  zeroWrites: number;
  discards: number;
  flushes: number;
  snapshots: number;
  sleeps: number;
  readBytes: number;
  writtenBytes: number;
  zeroedBytes: number;
  discardedBytes: number;
}

/** Everything measured in one case; `metrics.ts` flattens it into a result row. */
export interface CaseMeasurement {
  guest: GuestTotals;
  /** Host I/O from the first guest request to the last (the open before is not counted). */
  host: IoCountersSnapshot;
  imageFileSizeBytes: number;
  /**
   * Per metadata kind: host clusters written during the run × cluster size (the on-disk size of
   * the tables the run touched; structures only written at create are not in it).
   */
  metadataFootprintBytes: Partial<Record<IoKind, number>>;
  /** Simulated time from the first request to the end of the last one. */
  simulatedNs: number;
  /** Data requests (read, write, zero, discard). */
  latency: LatencySummary;
  histogram: HistogramBucket[];
  timeline: TimelinePoint[];
  timelineBucketRequests: number;
  flushLatency: LatencySummary;
  snapshotLatency: LatencySummary;
  /** Snapshot creates, downsampled like the latency timeline (cost of the n-th snapshot). */
  snapshotTimeline: TimelinePoint[];
  snapshotTimelineBucketRequests: number;
  /** The last snapshot's create cost, ns (the cost of the N-th snapshot). */
  snapshotLastNs: number | undefined;
  /** Deleting the oldest snapshot after the run (qcow2), ns; undefined when none were taken. */
  snapshotDeleteNs: number | undefined;
  fsckAtEnd: FsckMeasurement | undefined;
  fsckPoints: FsckMeasurement[];
  /** Wall-clock milliseconds the case took (the only non-simulated figure). */
  wallMs: number;
}

export interface RunCaseOptions {
  /** Called every few thousand requests with the count done so far. */
  onProgress?: (requestsDone: number) => void;
  /** Receives every host operation of the run (not of creation or the reopen after a crash). */
  ioLog?: (record: IoRecord) => void;
}

const PROGRESS_EVERY = 4096;

/**
 * Runs one case: creates the image on a sparse memory device behind a volatile write cache, opens
 * it through a metered device charging the case's cost model to a simulated clock, streams the
 * workload through it (playing QEMU's main loop: timers run between requests), cuts the power at
 * seeded random points and at the end, and measures each reopen.
 */
export function runCase(c: BenchCase, options: RunCaseOptions = {}): CaseMeasurement {
  const wallStart = performance.now();
  const driver = getDriver(c.format);
  const workload = createWorkload(c.workload.type, c.workload.params, {
    virtualSizeBytes: c.sizeBytes,
    seed: c.seed,
    baseDir: c.baseDir,
  });
  const durable = new MemoryDevice({ dataMode: c.data });
  // The volatile cache keeps every op since the last flush (a format that never flushes, like raw,
  // would hold them all), so it is there only when a power cut will be simulated.
  const crashes = c.fsckAtEnd || c.crashPoints > 0;
  const cache = crashes ? new VolatileCacheDevice(durable) : undefined;
  const hostFile: BlockDevice = cache ?? durable;
  // Creation is qemu-img create's business, not the run's: uncounted, and flushed to the platter.
  const creator = new MeteredDevice(hostFile);
  const variant = c.variant === 'qemu' ? {} : { variant: c.variant };
  driver.create({ device: creator, sizeBytes: c.sizeBytes, options: c.createOptions, ...variant });
  creator.flush();

  const clock = new SimClock();
  const footprint = new FootprintDevice(hostFile);
  const device = new MeteredDevice(footprint, { clock, costModel: createCostModel(c.device) });
  const image = driver.open({ device, readOnly: false, forCheck: false, clock, ...variant });
  device.counters.reset();
  footprint.granuleBytes = image.info().clusterSizeBytes ?? 512;
  footprint.enabled = true;
  device.log = options.ioLog;

  const crashAt = pickCrashPoints(workload.requestCount ?? 0, c.crashPoints, c.seed);
  const policy = crashPolicy(c);
  const fsckPoints: FsckMeasurement[] = [];
  const latency = new LatencyRecorder();
  const flushLatency = new LatencyRecorder({ timelineBuckets: 2 });
  const snapshotLatency = new LatencyRecorder({ timelineBuckets: 256 });
  const guest: GuestTotals = {
    requests: 0,
    reads: 0,
    writes: 0,
    zeroWrites: 0,
    discards: 0,
    flushes: 0,
    snapshots: 0,
    sleeps: 0,
    readBytes: 0,
    writtenBytes: 0,
    zeroedBytes: 0,
    discardedBytes: 0,
  };
  const snapshotNames: string[] = [];
  let snapshotLastNs: number | undefined;
  const startNs = clock.nowNs();
  let nextCrash = 0;
  for (const request of workload.requests()) {
    const t0 = clock.nowNs();
    execute(image, request, c, guest, snapshotNames, clock);
    const t1 = clock.nowNs();
    switch (request.op) {
      case 'flush':
        flushLatency.record(t1 - t0, t1 - startNs);
        break;
      case 'snapshot':
        snapshotLatency.record(t1 - t0, t1 - startNs);
        snapshotLastNs = t1 - t0;
        break;
      case 'sleep':
        break;
      default:
        latency.record(t1 - t0, t1 - startNs);
    }
    clock.runDueTimers();
    guest.requests++;
    if (cache && guest.requests === crashAt[nextCrash]) {
      fsckPoints.push(measureReopen(driver, cache.crash(policy), c, guest.requests));
      nextCrash++;
    }
    if (guest.requests % PROGRESS_EVERY === 0) options.onProgress?.(guest.requests);
  }
  const simulatedNs = clock.nowNs() - startNs;
  const host = device.counters.snapshot();
  footprint.enabled = false;
  const metadataFootprintBytes = Object.fromEntries(
    IO_KINDS.filter(isMetadataKind).map((k) => [k, footprint.footprintBytes(k)]),
  ) as Partial<Record<IoKind, number>>;
  const imageFileSizeBytes = device.size();
  const fsckAtEnd =
    cache && c.fsckAtEnd
      ? measureReopen(driver, cache.crash(policy), c, guest.requests)
      : undefined;

  let snapshotDeleteNs: number | undefined;
  const oldest = snapshotNames[0];
  if (oldest !== undefined && image.snapshots) {
    const t0 = clock.nowNs();
    image.snapshots.delete(oldest);
    snapshotDeleteNs = clock.nowNs() - t0;
  }
  options.onProgress?.(guest.requests);
  return {
    guest,
    host,
    imageFileSizeBytes,
    metadataFootprintBytes,
    simulatedNs,
    latency: latency.summary(),
    histogram: latency.histogram.buckets(),
    timeline: latency.timeline.points(),
    timelineBucketRequests: latency.timeline.bucketWidth,
    flushLatency: flushLatency.summary(),
    snapshotLatency: snapshotLatency.summary(),
    snapshotTimeline: snapshotLatency.timeline.points(),
    snapshotTimelineBucketRequests: snapshotLatency.timeline.bucketWidth,
    snapshotLastNs,
    snapshotDeleteNs,
    fsckAtEnd,
    fsckPoints,
    wallMs: performance.now() - wallStart,
  };
}

const buffers = new Map<number, Uint8Array>();

/** A reusable non-zero buffer per (length, pattern): the engines copy, never keep, guest data. */
function dataBuffer(lengthBytes: number, pattern: number): Uint8Array {
  const key = lengthBytes * 256 + pattern;
  let buffer = buffers.get(key);
  if (!buffer) {
    buffer = new Uint8Array(lengthBytes).fill(pattern);
    if (buffers.size > 64) buffers.clear();
    buffers.set(key, buffer);
  }
  return buffer;
}

function execute(
  image: ImageFormat,
  request: GuestRequest,
  c: BenchCase,
  guest: GuestTotals,
  snapshotNames: string[],
  clock: SimClock,
): void {
  switch (request.op) {
    case 'write':
      image.write(request.offsetBytes, dataBuffer(request.lengthBytes, request.pattern ?? 0xa5));
      if (c.cache === 'writethrough') image.flush();
      guest.writes++;
      guest.writtenBytes += request.lengthBytes;
      return;
    case 'read':
      image.read(request.offsetBytes, request.lengthBytes);
      guest.reads++;
      guest.readBytes += request.lengthBytes;
      return;
    case 'zero':
      image.writeZeroes(request.offsetBytes, request.lengthBytes);
      if (c.cache === 'writethrough') image.flush();
      guest.zeroWrites++;
      guest.zeroedBytes += request.lengthBytes;
      return;
    case 'discard':
      image.discard(request.offsetBytes, request.lengthBytes);
      guest.discards++;
      guest.discardedBytes += request.lengthBytes;
      return;
    case 'flush':
      image.flush();
      guest.flushes++;
      return;
    case 'snapshot': {
      if (!image.snapshots)
        throw new Error(`format ${c.format} has no internal snapshots (checkpoint needs qcow2)`);
      const name = `checkpoint-${snapshotNames.length + 1}`;
      const nowNs = clock.nowNs();
      image.snapshots.create(name, {
        dateSec: Math.floor(nowNs / 1e9),
        dateNsec: Math.floor(nowNs % 1e9),
        vmClockNs: nowNs,
      });
      snapshotNames.push(name);
      guest.snapshots++;
      return;
    }
    case 'sleep':
      clock.sleepNs(request.durationNs ?? 0);
      guest.sleeps++;
      return;
  }
}

/** `count` distinct request indices in [1, total], seeded, ascending. */
export function pickCrashPoints(total: number, count: number, seed: number): number[] {
  if (total <= 0 || count <= 0) return [];
  const rng = new Rng((seed ^ 0xc2a5b00d) >>> 0);
  const picked = new Set<number>();
  const n = Math.min(count, total);
  while (picked.size < n) picked.add(1 + rng.nextInt(total));
  return [...picked].sort((a, b) => a - b);
}

function crashPolicy(c: BenchCase): CrashPolicy {
  return c.crashPolicy === 'random-subset'
    ? { kind: 'random-subset', seed: (c.seed ^ 0x7f4a7c15) >>> 0 }
    : { kind: 'all-lost' };
}
