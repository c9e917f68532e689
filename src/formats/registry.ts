import { UsageError } from '../util/errors.ts';
import { qcow2Driver } from './qcow2/qcow2-format.ts';
import { qedDriver } from './qed/qed-format.ts';
import { rawDriver } from './raw/raw-format.ts';
import type { FormatDriver } from './types.ts';

/** Every format the lab knows, in probe order (raw last: it matches anything). */
const DRIVERS: readonly FormatDriver[] = [qedDriver, qcow2Driver, rawDriver];

export function formatNames(): string[] {
  return DRIVERS.map((d) => d.name);
}

export function getDriver(name: string): FormatDriver {
  const driver = DRIVERS.find((d) => d.name === name);
  if (!driver)
    throw new UsageError(`Unknown file format '${name}' (known: ${formatNames().join(', ')})`);
  return driver;
}

/** The format whose probe accepts these leading bytes, raw when none does (as qemu-img). */
export function probeDriver(leadingBytes: Uint8Array): FormatDriver {
  return DRIVERS.find((d) => d.probe(leadingBytes)) ?? rawDriver;
}
