/**
 * Speed of the simulation's own machinery (not a test: it prints figures). The lab's simulated
 * results are bounded by how fast the device layer runs, so this tracks it.
 *
 *   npm run bench:perf                       # every section
 *   npm run bench:perf -- --only memory-random-write-4k --only metered-hdd-write-4k
 *   npm run bench:perf -- --list
 *
 * All rates here are WALL-CLOCK figures of this machine (they vary run to run and machine to
 * machine); "simulated" figures come from the cost models and are reproducible. Results are
 * merged into results/perf.json (written atomically: temporary file + rename).
 *
 * Later issues add sections: append a `PerfSection` to SECTIONS.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { Bench } from 'tinybench';
import { SimClock } from '../src/device/clock.ts';
import { COST_MODEL_NAMES, createCostModel } from '../src/device/cost-models.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import type { BlockDevice, IoKind } from '../src/device/types.ts';
import { VolatileCacheDevice } from '../src/device/volatile-cache-device.ts';
import { Rng } from '../src/util/rng.ts';
import { LAB_SECTIONS } from './perf-lab.ts';

const KiB4 = 4096;
const GiB = 2 ** 30;
const PiB = 2 ** 50;

type Figure = number | string;
type Figures = Record<string, Figure>;

export interface PerfSection {
  readonly name: string;
  readonly describe: string;
  run(): Figures | Promise<Figures>;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Wall-clock seconds of `body`. */
function timeSeconds(body: () => void): number {
  const start = process.hrtime.bigint();
  body();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function randomPageOffsets(count: number, spanBytes: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const offsets = new Float64Array(count);
  const pages = Math.floor(spanBytes / KiB4);
  for (let i = 0; i < count; i++) offsets[i] = rng.nextInt(pages) * KiB4;
  return offsets;
}

function patternBlock(): Uint8Array {
  const block = new Uint8Array(KiB4);
  for (let i = 0; i < KiB4; i++) block[i] = (i * 131 + 7) & 0xff;
  return block;
}

function writeAll(
  device: BlockDevice,
  offsets: Float64Array,
  block: Uint8Array,
  kind: IoKind,
): void {
  for (let i = 0; i < offsets.length; i++) device.write(offsets[i] as number, block, kind);
}

function rate(ops: number, seconds: number): number {
  return Math.round(ops / seconds);
}

v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

/** Memory after a full collection, so one section's garbage does not count against the next. */
function memoryNow(): { rssBytes: number; arrayBufferBytes: number; heapBytes: number } {
  collectGarbage();
  const m = process.memoryUsage();
  return { rssBytes: m.rss, arrayBufferBytes: m.arrayBuffers, heapBytes: m.heapUsed };
}

/** Throughput at a steady state: repeat passes over the same offsets until `totalOps` ops. */
function warmRate(
  device: BlockDevice,
  offsets: Float64Array,
  totalOps: number,
  kind: IoKind,
): number {
  const block = patternBlock();
  const passes = Math.max(1, Math.round(totalOps / offsets.length));
  const seconds = timeSeconds(() => {
    for (let p = 0; p < passes; p++) writeAll(device, offsets, block, kind);
  });
  return rate(passes * offsets.length, seconds);
}

/**
 * Writes 1 GiB (262,144 × 4 KiB) into a fresh 1 PiB device at `offsets`: the cold rate (each
 * page is new: slab memory comes fresh from the OS, whose first-touch page faults dominate on a
 * VM), then 1,000,000 overwrites of the same pages (the device's own cost plus cache and TLB
 * misses over 1 GiB), then 1,000,000 overwrites within a 1 MiB working set (the device's own
 * cost), plus memory per GiB written.
 */
function storedWriteSection(offsets: Float64Array): Figures {
  const device = new MemoryDevice();
  device.truncate(PiB);
  const block = patternBlock();
  const before = memoryNow();
  const coldSeconds = timeSeconds(() => writeAll(device, offsets, block, 'l2'));
  const after = memoryNow();
  const writtenGiB = (offsets.length * KiB4) / GiB;
  const warmOpsPerSecond = warmRate(device, offsets, 1_000_000, 'l2');
  const hotOpsPerSecond = warmRate(device, offsets.subarray(0, 256), 1_000_000, 'l2');
  return {
    deviceSizeBytes: device.size(),
    writes: offsets.length,
    writtenGiB,
    coldOpsPerSecond: rate(offsets.length, coldSeconds),
    warmOverwrite1GiBOpsPerSecond: warmOpsPerSecond,
    hotOverwrite1MiBOpsPerSecond: hotOpsPerSecond,
    pageBytesPerGiBWritten: Math.round(device.storedBytes() / writtenGiB),
    arrayBufferBytesPerGiBWritten: Math.round(
      (after.arrayBufferBytes - before.arrayBufferBytes) / writtenGiB,
    ),
    rssBytesPerGiBWritten: Math.round((after.rssBytes - before.rssBytes) / writtenGiB),
    heapBytesPerGiBWritten: Math.round((after.heapBytes - before.heapBytes) / writtenGiB),
  };
}

// ---------------------------------------------------------------------------------------------
// Sections

const GiB_OF_PAGES = GiB / KiB4;

export const SECTIONS: PerfSection[] = [
  {
    name: 'memory-random-write-4k',
    describe: '1 PiB MemoryDevice, 4 KiB writes at random offsets (1 GiB cold, then 1M overwrites)',
    run: () => storedWriteSection(randomPageOffsets(GiB_OF_PAGES, PiB, 1)),
  },
  {
    name: 'memory-sequential-write-4k',
    describe: '1 PiB MemoryDevice, sequential 4 KiB writes (1 GiB cold, then 1M overwrites)',
    run: () => {
      const offsets = new Float64Array(GiB_OF_PAGES);
      for (let i = 0; i < offsets.length; i++) offsets[i] = i * KiB4;
      return storedWriteSection(offsets);
    },
  },
  {
    name: 'memory-drop-data-write-4k',
    describe: "1,000,000 random 4 KiB guest-data writes with dataMode 'drop' (metadata-only runs)",
    run: () => {
      const offsets = randomPageOffsets(1_000_000, PiB, 2);
      const device = new MemoryDevice({ dataMode: 'drop' });
      const block = patternBlock();
      const seconds = timeSeconds(() => writeAll(device, offsets, block, 'data'));
      return {
        writes: offsets.length,
        opsPerSecond: rate(offsets.length, seconds),
        storedBytes: device.storedBytes(),
      };
    },
  },
  {
    name: 'memory-read-4k',
    describe:
      '4 KiB random reads of a 1 GiB working set: readInto (caller buffer) and read (allocates)',
    run: () => {
      const offsets = randomPageOffsets(GiB_OF_PAGES / 4, PiB, 3);
      const device = new MemoryDevice();
      writeAll(device, offsets, patternBlock(), 'l2');
      const out = new Uint8Array(KiB4);
      const reads = 1_000_000;
      const readIntoSeconds = timeSeconds(() => {
        for (let i = 0; i < reads; i++) device.readInto(offsets[i % offsets.length] as number, out);
      });
      const readSeconds = timeSeconds(() => {
        for (let i = 0; i < reads; i++)
          device.read(offsets[i % offsets.length] as number, KiB4, 'l2');
      });
      return {
        reads,
        readIntoOpsPerSecond: rate(reads, readIntoSeconds),
        readOpsPerSecond: rate(reads, readSeconds),
      };
    },
  },
  {
    name: 'metered-hdd-write-4k',
    describe:
      "1,000,000 random 4 KiB writes within the HDD's 4 TB, plain vs MeteredDevice(hdd), dataMode 'drop'",
    run: () => {
      const offsets = randomPageOffsets(1_000_000, 4e12, 4);
      const block = patternBlock();
      const plain = new MemoryDevice({ dataMode: 'drop' });
      const plainSeconds = timeSeconds(() => writeAll(plain, offsets, block, 'data'));
      const clock = new SimClock();
      const metered = new MeteredDevice(new MemoryDevice({ dataMode: 'drop' }), {
        clock,
        costModel: createCostModel('hdd'),
      });
      const meteredSeconds = timeSeconds(() => writeAll(metered, offsets, block, 'data'));
      const plainRate = rate(offsets.length, plainSeconds);
      const meteredRate = rate(offsets.length, meteredSeconds);
      return {
        writes: offsets.length,
        plainOpsPerSecond: plainRate,
        meteredOpsPerSecond: meteredRate,
        meteringOverheadNsPerOp: Math.round(
          ((meteredSeconds - plainSeconds) / offsets.length) * 1e9,
        ),
        simulatedSeconds: clock.nowNs() / 1e9,
        simulatedIops: Math.round(offsets.length / (clock.nowNs() / 1e9)),
      };
    },
  },
  {
    name: 'volatile-cache-write-4k',
    describe:
      '500,000 random 4 KiB metadata writes over 64 MiB through VolatileCacheDevice, a flush every 64',
    run: () => {
      const offsets = randomPageOffsets(500_000, 2 ** 26, 5);
      const block = patternBlock();
      const device = new VolatileCacheDevice();
      const seconds = timeSeconds(() => {
        for (let i = 0; i < offsets.length; i++) {
          device.write(offsets[i] as number, block, 'l2');
          if ((i & 63) === 63) device.flush();
        }
      });
      return {
        writes: offsets.length,
        opsPerSecond: rate(offsets.length, seconds),
        flushes: device.flushCount,
      };
    },
  },
  {
    name: 'crash-states',
    describe: '1,000 crash states of an epoch of 256 pending 4 KiB writes over a 64 MiB image',
    run: () => {
      const base = new MemoryDevice();
      const block = patternBlock();
      for (let i = 0; i < 16_384; i++) base.write(i * KiB4, block, 'l2');
      const device = new VolatileCacheDevice(base);
      const rng = new Rng(6);
      for (let i = 0; i < 256; i++) device.write(rng.nextInt(16_384) * KiB4, block, 'l2');
      let states = 0;
      const seconds = timeSeconds(() => {
        for (const _state of device.crashStates({ maxStates: 1000, seed: 1 })) states++;
      });
      return { states, statesPerSecond: rate(states, seconds) };
    },
  },
  {
    name: 'cost-model-call',
    describe: 'costNs per call for each cost model (tinybench; 1,000 calls per sample)',
    run: async () => {
      const bench = new Bench({ time: 300 });
      const offsets = randomPageOffsets(1000, 4e12, 7);
      for (const name of COST_MODEL_NAMES) {
        const model = createCostModel(name);
        bench.add(name, () => {
          for (let i = 0; i < offsets.length; i++)
            model.costNs('write', offsets[i] as number, KiB4);
        });
      }
      await bench.run();
      const figures: Figures = {};
      for (const task of bench.tasks) {
        const result = task.result;
        figures[`${task.name}CallsPerSecond`] =
          result.state === 'completed'
            ? Math.round(result.throughput.mean * offsets.length)
            : result.state;
      }
      return figures;
    },
  },
  ...LAB_SECTIONS,
];

// ---------------------------------------------------------------------------------------------
// Runner

interface PerfOptions {
  only: string[];
  list: boolean;
  out: string;
  /** Run one section and print its figures as JSON (the parent runs each section in a child). */
  child: boolean;
}

function parseArgs(argv: readonly string[]): PerfOptions {
  const only: string[] = [];
  let list = false;
  let child = false;
  let out = 'results/perf.json';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--only') only.push(...(argv[++i] ?? '').split(','));
    else if (arg.startsWith('--only=')) only.push(...arg.slice(7).split(','));
    else if (arg === '--list') list = true;
    else if (arg === '--child') child = true;
    else if (arg === '--out') out = argv[++i] ?? out;
    else {
      throw new Error(`unknown argument '${arg}' (expected --only NAME, --list, --out FILE)`);
    }
  }
  const known = new Set(SECTIONS.map((s) => s.name));
  for (const name of only) {
    if (!known.has(name))
      throw new Error(`unknown section '${name}' (known: ${[...known].join(', ')})`);
  }
  return { only, list, out, child };
}

const CHILD_MARKER = 'PERF_FIGURES ';

/**
 * Each section runs in its own process, so one section's heap, garbage and JIT state do not
 * bleed into the next one's memory and speed figures.
 */
function runInChild(name: string): Figures {
  const script = process.argv[1] as string;
  const result = spawnSync(
    process.execPath,
    [...process.execArgv, script, '--only', name, '--child'],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 24,
      // Transparent huge pages for malloc'd memory (the device slabs and tables): fewer page
      // faults and TLB misses on this VM, where a fresh 4 KiB page costs 10-40 µs.
      env: {
        ...process.env,
        GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? 'glibc.malloc.hugetlb=1',
      },
    },
  );
  const line = result.stdout.split('\n').find((l) => l.startsWith(CHILD_MARKER));
  if (result.status !== 0 || !line)
    throw new Error(`section ${name} failed (exit ${result.status})`);
  return JSON.parse(line.slice(CHILD_MARKER.length)) as Figures;
}

function writeJsonAtomically(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.partial-${process.pid}`;
  fs.writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`);
  fs.renameSync(temporary, file);
}

function formatFigure(value: Figure): string {
  if (typeof value === 'string') return value;
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  return value.toPrecision(4);
}

async function main(): Promise<void> {
  let options: PerfOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench:perf: ${(error as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  if (options.list) {
    for (const s of SECTIONS) console.log(`${s.name.padEnd(28)} ${s.describe}`);
    return;
  }
  const chosen = SECTIONS.filter((s) => options.only.length === 0 || options.only.includes(s.name));
  if (options.child) {
    const section = chosen[0] as PerfSection;
    process.stdout.write(`${CHILD_MARKER}${JSON.stringify(await section.run())}\n`);
    return;
  }
  console.log(`qedlab perf (node ${process.version}); rates are WALL-CLOCK on this machine`);
  console.log('(cold = first touch of fresh memory, including the OS page-fault cost)\n');
  const results: Record<string, Figures> = {};
  for (const section of chosen) {
    console.log(`${section.name}: ${section.describe}`);
    // Other work on the machine slows wall-clock figures: record how busy it was.
    const loadAverage1mAtStart = Math.round((os.loadavg()[0] as number) * 100) / 100;
    const figures = { ...runInChild(section.name), loadAverage1mAtStart };
    results[section.name] = figures;
    for (const [key, value] of Object.entries(figures)) {
      console.log(`  ${key.padEnd(32)} ${formatFigure(value)}`);
    }
    console.log('');
  }
  // Merge with figures of sections not run this time.
  let previous: { sections?: Record<string, Figures> } = {};
  try {
    previous = JSON.parse(fs.readFileSync(options.out, 'utf8'));
  } catch {}
  writeJsonAtomically(options.out, {
    note: 'wall-clock rates of the machine that ran bench/perf.ts; simulated figures are labelled',
    node: process.version,
    sections: { ...previous.sections, ...results },
  });
  console.log(`wrote ${options.out}`);
}

await main();
