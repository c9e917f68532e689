/**
 * Records one crash run: creates the image, opens it over a volatile write cache that keeps the
 * whole op history, runs the guest program (qemu-io commands, QEMU's main loop included: timers
 * fire between requests) and notes, per guest request, where its host ops start and how many
 * flushes had completed when it returned. The explorer then crashes the history anywhere.
 */

import { type QemuIoCommand, QemuIoSession } from '../cli/qemu-io-script.ts';
import { SimClock } from '../device/clock.ts';
import type { OpHistory } from '../device/crash-states.ts';
import { MemoryDevice } from '../device/memory-device.ts';
import { MeteredDevice } from '../device/metered-device.ts';
import type { BlockDevice } from '../device/types.ts';
import { VolatileCacheDevice } from '../device/volatile-cache-device.ts';
import { rawDriver } from '../formats/raw/raw-format.ts';
import { getDriver } from '../formats/registry.ts';
import type { BackingOpener, FormatDriver } from '../formats/types.ts';
import { UsageError } from '../util/errors.ts';
import {
  BACKING_FILLED_BYTES,
  BACKING_PATTERN,
  CRASH_IMAGE_BYTES,
  crashWorkload,
} from './crash-workloads.ts';
import { FlushMutantDevice, getFlushMutant } from './flush-mutants.ts';
import { GuestModel, SECTOR_BYTES } from './guest-model.ts';
import { resolveCrashVariant } from './variants.ts';

/** The name the overlay's header gives its backing file (reproducers write it beside). */
export const BACKING_FILE_NAME = 'backing.raw';

export interface CrashRunConfig {
  format: string;
  /** Design variant (default `qemu`, the baseline). */
  variant?: string;
  workload: string;
  seed: number;
  /** Give the image a raw backing file (QED then orders data before L2 with a flush). */
  backing?: boolean;
  /** A named flush mutant (see flush-mutants.ts). */
  mutant?: string;
}

export interface RecordedRun {
  config: Required<Omit<CrashRunConfig, 'mutant'>> & { mutant: string | undefined };
  driver: FormatDriver;
  sizeBytes: number;
  commands: QemuIoCommand[];
  history: OpHistory;
  /** Op index (into the history) where each request's host ops start. */
  requestOpStart: number[];
  /** Completed host flushes when each request returned. */
  flushesAfter: number[];
  guest: GuestModel;
  /** Bytes of the backing file (undefined without one). */
  backingBytes: MemoryDevice | undefined;
  openBacking: BackingOpener | undefined;
  /** The driver's variant name for open (undefined: baseline or a create-option variant). */
  engineVariant: string | undefined;
  /** Flushes the mutant removed (0 means the mutant's pattern never occurred). */
  mutantDroppedFlushes: number;
}

export function recordCrashRun(config: CrashRunConfig): RecordedRun {
  const mutant = config.mutant === undefined ? undefined : getFlushMutant(config.mutant);
  if (mutant && !mutant.formats.includes(config.format)) {
    throw new UsageError(`mutant '${mutant.name}' applies to ${mutant.formats.join(', ')}`);
  }
  // A mutant of a variant's path runs on that variant (`qemu`, the default, does not override it).
  const requested = config.variant === 'qemu' ? undefined : config.variant;
  if (mutant?.variant && requested !== undefined && requested !== mutant.variant) {
    throw new UsageError(`mutant '${mutant.name}' needs variant '${mutant.variant}'`);
  }
  const variant = resolveCrashVariant(config.format, requested ?? mutant?.variant ?? 'qemu');
  const driver = getDriver(config.format);
  const engineVariant =
    variant.engineVariant === undefined ? {} : { variant: variant.engineVariant };
  const backing = config.backing ?? mutant?.backing ?? false;
  const sizeBytes = CRASH_IMAGE_BYTES;
  const commands = crashWorkload(config.workload, config.seed, sizeBytes);

  const backingBytes = backing ? makeBacking(sizeBytes) : undefined;
  const openBacking = backingBytes ? backingOpener(backingBytes) : undefined;
  const durable = new MemoryDevice();
  const creator = new MeteredDevice(durable);
  const options: Record<string, string> = { ...variant.createOptions };
  if (backing) {
    options.backing_file = BACKING_FILE_NAME;
    options.backing_fmt = 'raw';
  }
  driver.create({
    device: creator,
    sizeBytes,
    options,
    ...(openBacking ? { openBacking } : {}),
    ...engineVariant,
  });

  const cache = new VolatileCacheDevice(durable, { recordHistory: true });
  const history = cache.history as OpHistory;
  const mutantDevice = mutant ? new FlushMutantDevice(cache, mutant) : undefined;
  const lower: BlockDevice = mutantDevice ?? cache;
  const clock = new SimClock();
  const device = new MeteredDevice(lower, { clock });
  const image = driver.open({
    device,
    readOnly: false,
    forCheck: false,
    clock,
    ...(openBacking ? { openBacking } : {}),
    ...engineVariant,
  });
  const session = new QemuIoSession(image, clock, { writethrough: false });
  const guest = new GuestModel(
    backing ? (s) => (s * SECTOR_BYTES < BACKING_FILLED_BYTES ? BACKING_PATTERN : 0) : () => 0,
  );
  const requestOpStart: number[] = [];
  const flushesAfter: number[] = [];
  commands.forEach((c, i) => {
    requestOpStart.push(history.opCount);
    session.run(c);
    // A held flush never spans guest requests: the guest sees its flush complete.
    mutantDevice?.settle();
    flushesAfter.push(cache.flushCount);
    if (c.op === 'write') {
      guest.write(i, c.offsetBytes, c.lengthBytes, c.zero ? 0 : c.pattern);
    } else if (c.op === 'discard') {
      guest.discard(i, c.offsetBytes, c.lengthBytes);
    }
  });
  return {
    config: {
      format: config.format,
      variant: variant.name,
      workload: config.workload,
      seed: config.seed,
      backing,
      mutant: mutant?.name,
    },
    driver,
    sizeBytes,
    commands,
    history,
    requestOpStart,
    flushesAfter,
    guest,
    backingBytes,
    openBacking,
    engineVariant: variant.engineVariant,
    mutantDroppedFlushes: mutantDevice?.dropped ?? 0,
  };
}

function makeBacking(sizeBytes: number): MemoryDevice {
  const device = new MemoryDevice();
  device.write(0, new Uint8Array(BACKING_FILLED_BYTES).fill(BACKING_PATTERN), 'data');
  device.truncate(sizeBytes);
  return device;
}

/** Opens the in-memory backing file read-only, whatever name the header gives. */
export function backingOpener(bytes: MemoryDevice): BackingOpener {
  return () =>
    rawDriver.open({
      device: new MeteredDevice(bytes),
      readOnly: true,
      forCheck: false,
      clock: new SimClock(),
    });
}

/**
 * The last guest flush guaranteed durable in a crash inside `epoch` (its host flush completed
 * before the epoch began), as a request index; -1 when none is.
 */
export function lastDurableFlush(run: RecordedRun, epoch: number): number {
  let last = -1;
  run.commands.forEach((c, i) => {
    if (c.op === 'flush' && (run.flushesAfter[i] as number) <= epoch) last = i;
  });
  return last;
}

/** The request that issued history op `opIndex`. */
export function requestOfOp(run: RecordedRun, opIndex: number): number {
  let lo = 0;
  let hi = run.requestOpStart.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((run.requestOpStart[mid] as number) <= opIndex) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
