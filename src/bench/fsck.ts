import { SimClock } from '../device/clock.ts';
import { createCostModel } from '../device/cost-models.ts';
import type { MemoryDevice } from '../device/memory-device.ts';
import { MeteredDevice } from '../device/metered-device.ts';
import { IO_KIND_INDEX } from '../device/types.ts';
import type { FormatDriver } from '../formats/types.ts';
import type { BenchCase } from './cases.ts';

/** What it cost to open an image after a power cut: QEMU's open, including any check it runs. */
export interface FsckMeasurement {
  /** Request index (1-based, among all guest requests) after which the power was cut. */
  afterRequest: number;
  /** The header said the image needs a check (QED NEED_CHECK, qcow2 dirty bit). */
  neededCheck: boolean;
  /** Simulated time of the writable open on a fresh device model (cold head, empty caches). */
  openNs: number;
  metadataReadBytes: number;
  readOps: number;
  /** L2 tables read (ops of kind l2): the tables a scan visited. */
  l2Reads: number;
  /** Bytes the open wrote (repairs, the cleared flag). */
  writtenBytes: number;
  flushes: number;
  /** After the open: what a full check still finds (0/0 on a consistent image). */
  corruptions: number;
  leaks: number;
  /** The open failed (an engine error); the message. */
  error?: string;
}

/**
 * Reopens a crashed image the way QEMU would after a power cut, on a fresh metered device with a
 * fresh cost model and clock, and measures that open. First a read-only open (not charged) reads
 * the header's dirty state; then the writable open does whatever check/repair the format needs.
 * Afterwards a check (not charged) counts what is still wrong, so every figure comes with a verdict.
 */
export function measureReopen(
  driver: FormatDriver,
  crashed: MemoryDevice,
  c: Pick<BenchCase, 'device' | 'variant'>,
  afterRequest: number,
): FsckMeasurement {
  const variant = c.variant === 'qemu' ? {} : { variant: c.variant };
  const result: FsckMeasurement = {
    afterRequest,
    neededCheck: false,
    openNs: 0,
    metadataReadBytes: 0,
    readOps: 0,
    l2Reads: 0,
    writtenBytes: 0,
    flushes: 0,
    corruptions: 0,
    leaks: 0,
  };
  try {
    const probe = driver.open({
      device: new MeteredDevice(crashed),
      readOnly: true,
      forCheck: true,
      clock: new SimClock(),
      ...variant,
    });
    result.neededCheck = probe.info().dirty ?? false;
    const clock = new SimClock();
    const device = new MeteredDevice(crashed, { clock, costModel: createCostModel(c.device) });
    const image = driver.open({ device, readOnly: false, forCheck: false, clock, ...variant });
    const counters = device.counters;
    result.openNs = clock.nowNs();
    result.metadataReadBytes = counters.totalReadBytes({ metadataOnly: true });
    result.readOps = counters.readOps.reduce((a, b) => a + b, 0);
    result.l2Reads = counters.readOps[IO_KIND_INDEX.l2] as number;
    result.writtenBytes = counters.totalWrittenBytes();
    result.flushes = counters.flushes;
    const verdict = image.check?.('none');
    if (verdict) {
      result.corruptions = verdict.corruptions + verdict.checkErrors;
      result.leaks = verdict.leaks;
    }
  } catch (error) {
    result.error = (error as Error).message.split('\n')[0] ?? 'error';
  }
  return result;
}
