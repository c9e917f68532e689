/**
 * How fast the lab simulates a format: seeded random (or sparse) 4 KiB writes into an image on a
 * MemoryDevice in dataMode 'drop' (metadata kept, guest data dropped) behind a MeteredDevice with
 * the `none` cost model: the stack the bench runner uses. bench/perf.ts runs it in sections;
 * this file also runs alone:
 *
 *   npx tsx bench/sim-rate.ts qed|qcow2 [writes=1000000] [size=1T] [span=size] [-o k=v,...]
 *     [--sparse] [--page=BYTES] [--compact=BYTES] [--no-lend]
 *
 * Wall-clock and CPU figures of this machine (the CPU figure is steadier on a loaded one).
 */
import { SimClock } from '../src/device/clock.ts';
import { createCostModel } from '../src/device/cost-models.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { stopLendingL2CachePages } from '../src/formats/qcow2/lent-pages.ts';
import { qcow2Driver } from '../src/formats/qcow2/qcow2-format.ts';
import { qedDriver } from '../src/formats/qed/qed-format.ts';
import type { FormatDriver } from '../src/formats/types.ts';
import { Rng } from '../src/util/rng.ts';
import { parseSizeBytes } from '../src/util/size.ts';

export interface SimRateOptions {
  format: 'qed' | 'qcow2';
  writes: number;
  virtualSizeBytes: number;
  /** Offsets are drawn from [0, spanBytes) (4 KiB aligned). */
  spanBytes?: number;
  /** `random`: uniform offsets; `sparse`: one write per stride (every write allocates metadata). */
  pattern?: 'random' | 'sparse';
  createOptions?: Record<string, string>;
  seed?: number;
  /** MemoryDevice page size (default 4 KiB). */
  pageBytes?: number;
  /** MemoryDevice compact block size (default 64; 0: every stored page takes pageBytes). */
  compactBytes?: number;
  /** qcow2: keep the L2 cache in the device's pages (default true; lent-pages.ts). */
  lendPages?: boolean;
}

export interface SimRateResult {
  writes: number;
  wallSeconds: number;
  cpuSeconds: number;
  writesPerSecond: number;
  writesPerCpuSecond: number;
  /** Kernel share of the CPU time (page faults on fresh memory, mostly). */
  systemSeconds: number;
  /** Peak RSS of the process after the run (bytes), and the device's page memory. */
  maxRssBytes: number;
  storedBytes: number;
  imageFileBytes: number;
  hostWriteOps: number;
  hostReadOps: number;
}

const DRIVERS: Record<SimRateOptions['format'], FormatDriver> = {
  qed: qedDriver,
  qcow2: qcow2Driver,
};

export function writeOffsets(options: SimRateOptions): Float64Array {
  const span = options.spanBytes ?? options.virtualSizeBytes;
  const offsets = new Float64Array(options.writes);
  if (options.pattern === 'sparse') {
    // Evenly spread over the span in a seeded random order: every write lands in a fresh region.
    const stride = Math.floor(span / options.writes / 4096) * 4096;
    if (stride < 4096) throw new Error('sparse pattern needs span >= writes × 4 KiB');
    for (let i = 0; i < options.writes; i++) offsets[i] = i * stride;
    const rng = new Rng(options.seed ?? 1);
    for (let i = offsets.length - 1; i > 0; i--) {
      const j = rng.nextInt(i + 1);
      const t = offsets[i] as number;
      offsets[i] = offsets[j] as number;
      offsets[j] = t;
    }
    return offsets;
  }
  const rng = new Rng(options.seed ?? 1);
  const pages = Math.floor(span / 4096);
  for (let i = 0; i < options.writes; i++) offsets[i] = rng.nextInt(pages) * 4096;
  return offsets;
}

export function simulateWrites(options: SimRateOptions): SimRateResult {
  const driver = DRIVERS[options.format];
  const clock = new SimClock();
  const memory = new MemoryDevice({
    dataMode: 'drop',
    ...(options.pageBytes === undefined ? {} : { pageBytes: options.pageBytes }),
    ...(options.compactBytes === undefined ? {} : { compactBytes: options.compactBytes }),
  });
  driver.create({
    device: memory,
    sizeBytes: options.virtualSizeBytes,
    options: options.createOptions ?? {},
  });
  const device = new MeteredDevice(memory, { clock, costModel: createCostModel('none') });
  const image = driver.open({ device, readOnly: false, forCheck: false, clock });
  // qcow2 keeps its L2 cache in the device's pages on this stack unless told not to.
  if (options.lendPages === false) stopLendingL2CachePages(image);
  const offsets = writeOffsets(options);
  const block = new Uint8Array(4096).fill(0xab);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < offsets.length; i++) {
    image.write(offsets[i] as number, block);
    clock.runDueTimers();
  }
  const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  let hostWriteOps = 0;
  let hostReadOps = 0;
  for (const n of device.counters.writeOps) hostWriteOps += n;
  for (const n of device.counters.readOps) hostReadOps += n;
  return {
    writes: offsets.length,
    wallSeconds,
    cpuSeconds,
    writesPerSecond: Math.round(offsets.length / wallSeconds),
    writesPerCpuSecond: Math.round(offsets.length / cpuSeconds),
    systemSeconds: cpu.system / 1e6,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    storedBytes: memory.storedBytes(),
    imageFileBytes: device.size(),
    hostWriteOps,
    hostReadOps,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const createOptions: Record<string, string> = {};
  const positional: string[] = [];
  let pattern: 'random' | 'sparse' = 'random';
  let pageBytes: number | undefined;
  let compactBytes: number | undefined;
  let lendPages = true;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '-o') {
      for (const kv of (args[++i] ?? '').split(',')) {
        const [k, v] = kv.split('=');
        if (k) createOptions[k] = v ?? '';
      }
    } else if (a === '--sparse') pattern = 'sparse';
    else if (a.startsWith('--page=')) pageBytes = Number(a.slice(7));
    else if (a.startsWith('--compact=')) compactBytes = Number(a.slice(10));
    else if (a === '--no-lend') lendPages = false;
    else positional.push(a);
  }
  const format = (positional[0] ?? 'qed') as 'qed' | 'qcow2';
  const virtualSizeBytes = parseSizeBytes(positional[2] ?? '1T');
  const result = simulateWrites({
    format,
    writes: Number(positional[1] ?? 1_000_000),
    virtualSizeBytes,
    spanBytes: positional[3] ? parseSizeBytes(positional[3]) : virtualSizeBytes,
    pattern,
    createOptions,
    ...(pageBytes === undefined ? {} : { pageBytes }),
    ...(compactBytes === undefined ? {} : { compactBytes }),
    lendPages,
  });
  console.log(JSON.stringify(result));
}
