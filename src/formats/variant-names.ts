import { formatNames, getDriver } from './registry.ts';
import type { FormatDriver } from './types.ts';

function findDriver(format: string): FormatDriver | undefined {
  return formatNames().includes(format) ? getDriver(format) : undefined;
}

/**
 * Variants a format accepts besides `qemu` (QEMU 7.2's own behaviour, always known): the keys of
 * its driver's `variants`. A variant may carry a value after `=` (`clean-timer=5m`).
 */
export function knownVariants(format: string): string[] {
  return ['qemu', ...Object.keys(findDriver(format)?.variants ?? {})];
}

/** Checks a variant name against the format's driver; returns a reason, or undefined when valid. */
export function variantProblem(format: string, variant: string): string | undefined {
  const base = variant.split('=')[0] ?? '';
  if (knownVariants(format).includes(base)) return undefined;
  return `unknown variant '${variant}' of ${format} (known: ${knownVariants(format).join(', ')})`;
}
