/**
 * Verifies one crash state the way a user would meet it after a power cut:
 *
 * 1. open it writable, as QEMU does on the next boot (QED's dirty-flag check and qcow2's
 *    dirty-image repair run here, as in QEMU);
 * 2. `check` (no repair) reports no corruption and no check error (leaks are allowed: the
 *    formats admit them after a crash);
 * 3. no host cluster is mapped by two guest ranges (`map`);
 * 4. every sector reads back a value the guest may see (see guest-model.ts);
 * 5. a probe write into an unallocated cluster at the end of the disk, then `check` and `map`
 *    again and the probe reads back: allocation after recovery must not hand out a cluster
 *    something still references (a collision with guest data shows in `map`, with a table in
 *    `check`).
 *
 * Stops at the first failure; an exception that is not a LabError is an engine bug and is
 * reported as such.
 */
import { SimClock } from '../device/clock.ts';
import type { MemoryDevice } from '../device/memory-device.ts';
import { MeteredDevice } from '../device/metered-device.ts';
import type { ImageFormat, MapEntry } from '../formats/types.ts';
import { LabError } from '../util/errors.ts';
import { describeValue, type GuestModel, SECTOR_BYTES } from './guest-model.ts';
import type { RecordedRun } from './recorder.ts';

export type ViolationKind =
  | 'open-failed'
  | 'engine-exception'
  | 'check-corruption'
  | 'double-reference'
  | 'data'
  | 'read-error'
  | 'probe';

export interface StateFailure {
  kind: ViolationKind;
  /** One line. */
  message: string;
  /** For data failures: the sector range to read in a reproducer, and the value expected. */
  sectorRange?: readonly [number, number];
  expected?: number;
  /** For data failures: the first bad sector and the value it read. */
  sector?: number;
  got?: number;
  /** The failure showed only after the probe write. */
  afterProbe: boolean;
}

export const PROBE_PATTERN = 0x5a;
export const PROBE_BYTES = 64 * 1024;

export function probeOffset(run: RecordedRun): number {
  return run.sizeBytes - PROBE_BYTES;
}

/** Undefined when the state passes. `device` is consumed (opened and written). */
export function verifyCrashState(
  run: RecordedRun,
  device: MemoryDevice,
  flushRequest: number,
): StateFailure | undefined {
  try {
    return verifyInner(run, device, flushRequest);
  } catch (error) {
    if (error instanceof LabError) {
      return { kind: 'read-error', message: oneLine(error.message), afterProbe: false };
    }
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { kind: 'engine-exception', message: oneLine(message), afterProbe: false };
  }
}

function verifyInner(
  run: RecordedRun,
  device: MemoryDevice,
  flushRequest: number,
): StateFailure | undefined {
  const clock = new SimClock();
  let image: ImageFormat;
  try {
    image = run.driver.open({
      device: new MeteredDevice(device, { clock }),
      readOnly: false,
      forCheck: false,
      clock,
      ...(run.engineVariant === undefined ? {} : { variant: run.engineVariant }),
      ...(run.openBacking ? { openBacking: run.openBacking } : {}),
    });
  } catch (error) {
    if (!(error instanceof LabError)) throw error;
    return { kind: 'open-failed', message: oneLine(error.message), afterProbe: false };
  }
  const structural = checkStructure(image, false);
  if (structural) return structural;
  const data = checkGuestData(image, run.guest, flushRequest);
  if (data) return data;

  const probeAt = probeOffset(run);
  image.write(probeAt, new Uint8Array(PROBE_BYTES).fill(PROBE_PATTERN));
  const afterProbe = checkStructure(image, true);
  if (afterProbe) return afterProbe;
  const back = image.read(probeAt, PROBE_BYTES);
  for (let i = 0; i < back.length; i += SECTOR_BYTES) {
    if (back[i] !== PROBE_PATTERN) {
      return {
        kind: 'probe',
        message: `probe write at ${probeAt} reads back ${describeValue(back[i] as number)}`,
        sectorRange: [(probeAt + i) / SECTOR_BYTES, (probeAt + PROBE_BYTES) / SECTOR_BYTES],
        expected: PROBE_PATTERN,
        afterProbe: true,
      };
    }
  }
  return undefined;
}

function checkStructure(image: ImageFormat, afterProbe: boolean): StateFailure | undefined {
  if (image.check) {
    const result = image.check('none');
    if (result.corruptions > 0 || result.checkErrors > 0) {
      const first = result.messages[0] ?? '';
      return {
        kind: 'check-corruption',
        message:
          `check: ${result.corruptions} corruption(s), ${result.checkErrors} error(s)` +
          (first ? `; first: ${oneLine(first)}` : ''),
        afterProbe,
      };
    }
  }
  const overlap = findDoubleReference(image.map());
  if (overlap) return { kind: 'double-reference', message: overlap, afterProbe };
  return undefined;
}

/** Two guest ranges mapped onto overlapping host bytes, described; undefined when none. */
export function findDoubleReference(entries: readonly MapEntry[]): string | undefined {
  const mapped = entries
    .filter((e) => e.offset !== undefined && e.depth === 0)
    .sort((a, b) => (a.offset as number) - (b.offset as number));
  for (let i = 1; i < mapped.length; i++) {
    const prev = mapped[i - 1] as MapEntry;
    const cur = mapped[i] as MapEntry;
    if ((cur.offset as number) < (prev.offset as number) + prev.length) {
      return (
        `host offset ${cur.offset} is mapped by guest ${prev.start}+${prev.length} ` +
        `and guest ${cur.start}+${cur.length}`
      );
    }
  }
  return undefined;
}

function checkGuestData(
  image: ImageFormat,
  guest: GuestModel,
  flushRequest: number,
): StateFailure | undefined {
  for (const [first, end] of guest.extents()) {
    let data: Uint8Array;
    try {
      data = image.read(first * SECTOR_BYTES, (end - first) * SECTOR_BYTES);
    } catch (error) {
      if (!(error instanceof LabError)) throw error;
      return {
        kind: 'read-error',
        message: `read of guest ${first * SECTOR_BYTES}+${(end - first) * SECTOR_BYTES} failed: ${oneLine(error.message)}`,
        sectorRange: [first, end],
        afterProbe: false,
      };
    }
    const bad = guest.verify(first, data, flushRequest);
    if (bad) {
      return {
        kind: 'data',
        message:
          `guest sector ${bad.sector} (offset ${bad.sector * SECTOR_BYTES}) reads ` +
          `${describeValue(bad.got)}, expected ${bad.allowed.map(describeValue).join(' or ')}`,
        sectorRange: [bad.sector, bad.sector + 1],
        sector: bad.sector,
        got: bad.got,
        expected: bad.allowed[0] as number,
        afterProbe: false,
      };
    }
  }
  return undefined;
}

function oneLine(text: string): string {
  return text.split('\n')[0] ?? '';
}
