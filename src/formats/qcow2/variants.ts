/**
 * qcow2 design variants (issue 6): named configurations of the one qcow2 engine. `qemu` is QEMU
 * 7.2's behaviour (first fit, refcount table grown 1.5× when a refblock index falls past it).
 * Variants that only choose create options (lazy-refcounts, refcount-bits) keep QEMU's on-disk
 * format, as does `reftable-growth=prealloc` (a bigger table is still a valid table).
 */
import { UsageError } from '../../util/errors.ts';

export const QCOW2_VARIANTS: Readonly<Record<string, string>> = {
  'lazy-refcounts':
    'lazy_refcounts=on: refcount updates left in the cache behind a dirty bit; a crash costs a repair at open',
  'refcount-bits':
    'refcount-bits=<1..64>: refcount entry width (power of two; the thread suggested 2)',
  'reftable-growth':
    'reftable-growth=1.5x|double|prealloc|background: refcount-table growth (QEMU 1.5x; prealloc sizes it for the virtual size at create; background grows ahead of need and a late allocation waits)',
  'flat-refcounts':
    "the thread's assumed layout: one contiguous array of 8-byte refcounts per cluster (128 GiB for a full 1 PiB disk), copied whole when it grows (cost model beside the real refcounts; own region, not QEMU-compatible)",
};

export type ReftableGrowth = '1.5x' | 'double' | 'prealloc' | 'background';

export interface Qcow2Policy {
  readonly name: string;
  /** `-o` options the variant sets at create. */
  readonly createOptions: Readonly<Record<string, string>>;
  readonly reftableGrowth: ReftableGrowth;
  readonly flatRefcounts: boolean;
}

export const QCOW2_BASELINE: Qcow2Policy = {
  name: 'qemu',
  createOptions: {},
  reftableGrowth: '1.5x',
  flatRefcounts: false,
};

const GROWTHS: readonly ReftableGrowth[] = ['1.5x', 'double', 'prealloc', 'background'];

export function parseQcow2Variant(variant: string | undefined): Qcow2Policy {
  if (variant === undefined || variant === 'qemu') return QCOW2_BASELINE;
  const eq = variant.indexOf('=');
  const key = eq < 0 ? variant : variant.slice(0, eq);
  const value = eq < 0 ? undefined : variant.slice(eq + 1);
  const base = { ...QCOW2_BASELINE, name: variant };
  const noValue = (): void => {
    if (value !== undefined) throw new UsageError(`variant '${key}' takes no value`);
  };
  switch (key) {
    case 'lazy-refcounts':
      noValue();
      return { ...base, createOptions: { lazy_refcounts: 'on' } };
    case 'refcount-bits': {
      const bits = Number(value);
      if (!Number.isInteger(bits) || bits < 1 || bits > 64 || (bits & (bits - 1)) !== 0) {
        throw new UsageError(`refcount-bits=${value ?? ''}: expected a power of two in [1, 64]`);
      }
      return { ...base, createOptions: { refcount_bits: String(bits) } };
    }
    case 'reftable-growth': {
      if (!GROWTHS.includes(value as ReftableGrowth)) {
        throw new UsageError(
          `reftable-growth=${value ?? ''}: expected one of ${GROWTHS.join(', ')}`,
        );
      }
      return { ...base, reftableGrowth: value as ReftableGrowth };
    }
    case 'flat-refcounts':
      noValue();
      return { ...base, flatRefcounts: true };
    default:
      throw new UsageError(
        `unknown variant '${variant}' of qcow2 (known: qemu, ${Object.keys(QCOW2_VARIANTS).join(', ')})`,
      );
  }
}

/** What the flat layout costs for a disk: 8 bytes per cluster of the virtual size. */
export function flatRefcountBytes(virtualSizeBytes: number, clusterSizeBytes: number): number {
  return Math.ceil(virtualSizeBytes / clusterSizeBytes) * 8;
}
