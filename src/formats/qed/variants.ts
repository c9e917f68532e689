/**
 * QED design variants (issue 6): named configurations of the one QED engine, each a policy the
 * engine consults at a few decision points (clean flag, timer interval, where a new cluster comes
 * from, how the check reads L2 tables). `qemu` is QEMU 7.2's behaviour and the default.
 */
import { UsageError } from '../../util/errors.ts';
import { QED_NEED_CHECK_TIMEOUT_NS } from './constants.ts';

/** Variant name (the part before `=`) → one line for `qedlab variants`. */
export const QED_VARIANTS: Readonly<Record<string, string>> = {
  'always-scan':
    'no clean flag: every writable open scans all L1/L2 tables (the design before the flag)',
  'clean-timer':
    'clean-timer=<duration>: need-check timer interval (QEMU 5s; the thread proposed 5min)',
  freelist:
    'seed-message freelist: discard frees clusters into an in-memory list written as a cluster chain at each sync; allocation takes from it first (lab extension, autoclear bit 0)',
  bitmap:
    'non-authoritative used-cluster bitmap written before each sync, used to find free clusters; L1/L2 stay the authority after a crash (lab extension, autoclear bit 1)',
  'parallel-check':
    'parallel-check=<n>: the check reads L2 tables with n requests in flight (cost model batchCostNs)',
  cluster_size: 'cluster_size=<size>: create option as a variant axis (4k..64M)',
  table_size: 'table_size=<n>: create option as a variant axis (1..16 clusters)',
};

/** How freed clusters are found again: never (QEMU appends only), a freelist, or a bitmap. */
export type QedFreeSpaceKind = 'none' | 'freelist' | 'bitmap';

export interface QedPolicy {
  /** The variant string as given (`qemu` for the baseline). */
  readonly name: string;
  /** Keep the NEED_CHECK flag (false: always-scan never writes it and scans at every open). */
  readonly needCheckFlag: boolean;
  readonly cleanTimerNs: number;
  /** L2 reads in flight during a check (1: QEMU's one at a time). */
  readonly checkQueueDepth: number;
  readonly freeSpace: QedFreeSpaceKind;
  /** `-o` options the variant adds at create (cluster_size / table_size axes). */
  readonly createOptions: Readonly<Record<string, string>>;
  /** Autoclear feature bits the variant's extension owns (kept on a writable open). */
  readonly autoclearBits: bigint;
}

export const QED_BASELINE: QedPolicy = {
  name: 'qemu',
  needCheckFlag: true,
  cleanTimerNs: QED_NEED_CHECK_TIMEOUT_NS,
  checkQueueDepth: 1,
  freeSpace: 'none',
  createOptions: {},
  autoclearBits: 0n,
};

const DURATION_UNITS_NS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  min: 60e9,
  h: 3600e9,
};

/** `5s`, `300ms`, `5min`, `5m`, `1h` → ns. */
export function parseDurationNs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|min|h)$/.exec(text.trim());
  const unit = m ? DURATION_UNITS_NS[m[2] as string] : undefined;
  if (!m || unit === undefined) {
    throw new UsageError(`invalid duration '${text}': expected e.g. 500ms, 5s, 5min, 1h`);
  }
  const ns = Math.round(Number(m[1]) * unit);
  if (ns <= 0) throw new UsageError(`invalid duration '${text}': must be positive`);
  return ns;
}

/** Parses `name` or `name=value`; undefined or `qemu` is the baseline. */
export function parseQedVariant(variant: string | undefined): QedPolicy {
  if (variant === undefined || variant === 'qemu') return QED_BASELINE;
  const eq = variant.indexOf('=');
  const key = eq < 0 ? variant : variant.slice(0, eq);
  const value = eq < 0 ? undefined : variant.slice(eq + 1);
  const needValue = (what: string): string => {
    if (value === undefined || value === '')
      throw new UsageError(`variant '${key}' needs a value: ${key}=<${what}>`);
    return value;
  };
  const noValue = (): void => {
    if (value !== undefined) throw new UsageError(`variant '${key}' takes no value`);
  };
  const base = { ...QED_BASELINE, name: variant };
  switch (key) {
    case 'always-scan':
      noValue();
      return { ...base, needCheckFlag: false };
    case 'clean-timer':
      return { ...base, cleanTimerNs: parseDurationNs(needValue('duration')) };
    case 'freelist':
      noValue();
      return { ...base, freeSpace: 'freelist', autoclearBits: 1n };
    case 'bitmap':
      noValue();
      return { ...base, freeSpace: 'bitmap', autoclearBits: 2n };
    case 'parallel-check': {
      const n = Number(needValue('n'));
      if (!Number.isInteger(n) || n < 1 || n > 1024)
        throw new UsageError(`parallel-check=${value}: expected an integer in [1, 1024]`);
      return { ...base, checkQueueDepth: n };
    }
    case 'cluster_size':
    case 'table_size':
      return { ...base, createOptions: { [key]: needValue(key === 'table_size' ? 'n' : 'size') } };
    default:
      throw new UsageError(
        `unknown variant '${variant}' of qed (known: qemu, ${Object.keys(QED_VARIANTS).join(', ')})`,
      );
  }
}
