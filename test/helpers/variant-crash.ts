import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { QemuIoSession } from '../../src/cli/qemu-io-script.ts';
import { crashWorkload } from '../../src/crash/crash-workloads.ts';
import { type ExploreResult, exploreCrashStates } from '../../src/crash/explorer.ts';
import { SimClock } from '../../src/device/clock.ts';
import { MemoryDevice } from '../../src/device/memory-device.ts';
import { MeteredDevice } from '../../src/device/metered-device.ts';
import { VolatileCacheDevice } from '../../src/device/volatile-cache-device.ts';
import { getDriver } from '../../src/formats/registry.ts';
import type { CheckResult } from '../../src/formats/types.ts';
import { Rng } from '../../src/util/rng.ts';
import { qemuImgCheckJson } from './qemu-compare.ts';

/**
 * Power cuts at random points of seeded workloads, explored by the crash explorer (every state
 * reopened, checked, and its data compared with what was written before the last durable flush).
 */
export function exploreVariant(
  format: string,
  variant: string,
  workload: string,
  options: { seed?: number; states?: number } = {},
): ExploreResult {
  return exploreCrashStates(
    { format, variant, workload, seed: options.seed ?? 1 },
    { maxStates: options.states ?? 60 },
  );
}

/**
 * Images a power cut could leave: the workload runs over a volatile write cache and is cut after
 * `count` seeded random requests, each keeping a seeded random subset of the unflushed writes.
 */
export function crashedImages(
  format: string,
  variant: string,
  workload: string,
  seed: number,
  count: number,
): MemoryDevice[] {
  const driver = getDriver(format);
  const sizeBytes = 4 * 1024 ** 3;
  const commands = crashWorkload(workload, seed, sizeBytes);
  const rng = new Rng(seed);
  const cuts = new Set<number>();
  while (cuts.size < Math.min(count, commands.length)) cuts.add(rng.nextInt(commands.length));
  const durable = new MemoryDevice();
  const v = variant === 'qemu' ? {} : { variant };
  driver.create({ device: new MeteredDevice(durable), sizeBytes, options: {}, ...v });
  const cache = new VolatileCacheDevice(durable);
  const clock = new SimClock();
  const image = driver.open({
    device: new MeteredDevice(cache, { clock }),
    readOnly: false,
    forCheck: false,
    clock,
    ...v,
  });
  const session = new QemuIoSession(image, clock, { writethrough: false });
  const out: MemoryDevice[] = [];
  commands.forEach((c, i) => {
    session.run(c);
    if (cuts.has(i)) out.push(cache.crash({ kind: 'random-subset', seed: rng.nextU32() }));
  });
  return out;
}

/** The lab's check (opened for check, read-only, no repair) of an image under a variant. */
export function labCheck(format: string, variant: string, device: MemoryDevice): CheckResult {
  const clock = new SimClock();
  const image = getDriver(format).open({
    device: new MeteredDevice(device, { clock }),
    readOnly: true,
    forCheck: true,
    clock,
    ...(variant === 'qemu' ? {} : { variant }),
  });
  const result = image.check?.('none');
  if (!result) throw new Error(`${format} has no check`);
  return result;
}

/** `qemu-img check --output=json` of these bytes: corruptions, leaks, check errors. */
export function qemuCheckCounts(
  format: string,
  bytes: Uint8Array,
): { corruptions: number; leaks: number; checkErrors: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qedlab-variant-'));
  try {
    const file = path.join(dir, `image.${format}`);
    fs.writeFileSync(file, bytes);
    const { json } = qemuImgCheckJson(file, format);
    return {
      corruptions: Number(json.corruptions ?? 0),
      leaks: Number(json.leaks ?? 0),
      checkErrors: Number(json['check-errors'] ?? 0),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface CutVerdict {
  cuts: number;
  /** Cuts whose reopen, check or read-back failed, one line each. */
  failures: string[];
  /** Leaks the checks reported after the reopen, summed. */
  leaks: number;
}

/**
 * Seeded 4 KiB writes to distinct offsets (flush every `flushEvery`), power cuts after `cuts`
 * random requests keeping a random subset of the unflushed writes; each cut image is reopened as
 * QEMU would (repairing), checked, and every write flushed before the cut must read back.
 */
export function cutAndVerify(options: {
  format: string;
  variant: string;
  createOptions?: Record<string, string>;
  sizeBytes: number;
  writes: number;
  flushEvery: number;
  cuts: number;
  seed: number;
}): CutVerdict {
  const driver = getDriver(options.format);
  const v = options.variant === 'qemu' ? {} : { variant: options.variant };
  const durable = new MemoryDevice();
  driver.create({
    device: new MeteredDevice(durable),
    sizeBytes: options.sizeBytes,
    options: options.createOptions ?? {},
    ...v,
  });
  const cache = new VolatileCacheDevice(durable);
  const clock = new SimClock();
  const image = driver.open({
    device: new MeteredDevice(cache, { clock }),
    readOnly: false,
    forCheck: false,
    clock,
    ...v,
  });
  const rng = new Rng(options.seed);
  const slots = options.sizeBytes / 4096;
  const used = new Set<number>();
  const offsets: number[] = [];
  while (offsets.length < options.writes) {
    const slot = rng.nextInt(slots);
    if (used.has(slot)) continue;
    used.add(slot);
    offsets.push(slot * 4096);
  }
  const cutAt = new Set<number>();
  while (cutAt.size < options.cuts) cutAt.add(rng.nextInt(options.writes));
  const verdict: CutVerdict = { cuts: 0, failures: [], leaks: 0 };
  let flushed = 0;
  offsets.forEach((offset, i) => {
    image.write(offset, new Uint8Array(4096).fill((i % 250) + 1));
    if ((i + 1) % options.flushEvery === 0) {
      image.flush();
      flushed = i + 1;
    }
    if (!cutAt.has(i)) return;
    verdict.cuts++;
    const crashed = cache.crash({ kind: 'random-subset', seed: rng.nextU32() });
    const where = `cut after write ${i}`;
    try {
      const c2 = new SimClock();
      const reopened = driver.open({
        device: new MeteredDevice(crashed, { clock: c2 }),
        readOnly: false,
        forCheck: false,
        clock: c2,
        ...v,
      });
      const result = reopened.check?.('none');
      if (result && result.corruptions + result.checkErrors > 0) {
        verdict.failures.push(
          `${where}: ${result.corruptions} corruptions, ${result.checkErrors} errors`,
        );
      }
      verdict.leaks += result?.leaks ?? 0;
      for (let k = 0; k < flushed; k++) {
        const got = reopened.read(offsets[k] as number, 4096);
        if (!got.every((b) => b === (k % 250) + 1)) {
          verdict.failures.push(`${where}: flushed write ${k} does not read back`);
          break;
        }
      }
    } catch (error) {
      verdict.failures.push(`${where}: ${(error as Error).message}`);
    }
  });
  return verdict;
}
