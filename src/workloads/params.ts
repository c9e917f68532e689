import { LabError } from '../util/errors.ts';
import { formatSize, parseSizeBytes } from '../util/size.ts';

/**
 * Workload parameters, named after fio's job options where fio has one (`bs`, `rwmixread` →
 * `readPercent`, `fsync=N` → `flushEvery`, `random_distribution=zipf:θ` → `theta`). Suites and
 * `qedlab run` share these declarations, so both reject the same bad values with the same words.
 */
export type ParamKind = 'size' | 'count' | 'percent' | 'fraction' | 'number' | 'string' | 'enum';
export type ParamValue = number | string;

export interface ParamSpec {
  kind: ParamKind;
  help: string;
  /** Choices for `enum`. */
  choices?: readonly string[];
  /** Inclusive bounds for numeric kinds (after unit conversion). */
  min?: number;
  max?: number;
}

/** A parameter that is missing, malformed or out of range: `key` and a one-line `reason`. */
export class ParamError extends LabError {
  readonly key: string;
  readonly reason: string;
  constructor(key: string, reason: string) {
    super('WORKLOAD_PARAM', `${key}: ${reason}`);
    this.name = 'ParamError';
    this.key = key;
    this.reason = reason;
  }
}

/** Parameters every workload takes. */
export const COMMON_PARAMS: Readonly<Record<string, ParamSpec>> = {
  bs: { kind: 'size', help: 'block size of each request (fio bs), multiple of 512', min: 512 },
  requests: {
    kind: 'count',
    help: 'number of guest I/O requests (reads, writes, discards)',
    min: 1,
  },
  offset: { kind: 'size', help: 'start of the working set in the guest', min: 0 },
  workingSet: {
    kind: 'size',
    help: 'bytes of guest address space the workload touches (default: the virtual size)',
    min: 512,
  },
  align: { kind: 'size', help: 'request offset alignment (default: bs)', min: 512 },
  readPercent: { kind: 'percent', help: 'share of reads among data requests (fio rwmixread)' },
  flushEvery: {
    kind: 'count',
    help: 'guest flush after every N data requests (fio fsync=N); 0 = never',
    min: 0,
  },
};

/** Parses one raw value (JSON value from a suite, or a string from the command line). */
export function parseParamValue(key: string, spec: ParamSpec, raw: unknown): ParamValue {
  const value = parseKind(key, spec, raw);
  if (typeof value === 'number') {
    if (spec.min !== undefined && value < spec.min)
      throw new ParamError(
        key,
        `must be at least ${describeBound(spec, spec.min)}, got ${show(raw)}`,
      );
    if (spec.max !== undefined && value > spec.max)
      throw new ParamError(
        key,
        `must be at most ${describeBound(spec, spec.max)}, got ${show(raw)}`,
      );
  }
  return value;
}

function parseKind(key: string, spec: ParamSpec, raw: unknown): ParamValue {
  switch (spec.kind) {
    case 'size': {
      if (typeof raw === 'number') {
        if (!Number.isSafeInteger(raw) || raw < 0)
          throw new ParamError(
            key,
            `expected a size in bytes or with a unit (4k, 1T), got ${show(raw)}`,
          );
        return raw;
      }
      if (typeof raw !== 'string')
        throw new ParamError(key, `expected a size like "4k" or "1T", got ${show(raw)}`);
      try {
        return parseSizeBytes(raw, key);
      } catch (error) {
        throw new ParamError(
          key,
          (error as Error).message.replace(/^invalid \S+ /, 'invalid size '),
        );
      }
    }
    case 'count': {
      const n = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
        throw new ParamError(key, `expected a whole number, got ${show(raw)}`);
      return n;
    }
    case 'percent': {
      const n = toNumber(raw);
      if (n === undefined || n < 0 || n > 100)
        throw new ParamError(key, `expected a percentage from 0 to 100, got ${show(raw)}`);
      return n;
    }
    case 'fraction': {
      // "0.003%" is a percentage; a bare number is a fraction of 1.
      let n: number | undefined;
      if (typeof raw === 'string' && raw.trim().endsWith('%')) {
        const p = toNumber(raw.trim().slice(0, -1));
        n = p === undefined ? undefined : p / 100;
      } else {
        n = toNumber(raw);
      }
      if (n === undefined || !(n > 0) || n > 1)
        throw new ParamError(
          key,
          `expected a fraction in (0, 1] or a percentage like "0.003%", got ${show(raw)}`,
        );
      return n;
    }
    case 'number': {
      const n = toNumber(raw);
      if (n === undefined) throw new ParamError(key, `expected a number, got ${show(raw)}`);
      return n;
    }
    case 'string':
      if (typeof raw !== 'string' || raw === '')
        throw new ParamError(key, `expected a non-empty string, got ${show(raw)}`);
      return raw;
    case 'enum':
      if (typeof raw !== 'string' || !spec.choices?.includes(raw))
        throw new ParamError(key, `expected one of ${spec.choices?.join(', ')}, got ${show(raw)}`);
      return raw;
  }
}

function toNumber(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(raw))
    return Number(raw);
  return undefined;
}

function describeBound(spec: ParamSpec, bound: number): string {
  return spec.kind === 'size' && bound >= 1024 ? formatSize(bound) : String(bound);
}

function show(raw: unknown): string {
  return JSON.stringify(raw) ?? String(raw);
}

/** Formats a value for labels and result columns: sizes with units, fractions as percentages. */
export function formatParamValue(spec: ParamSpec | undefined, value: ParamValue): string {
  if (typeof value === 'string' || !spec) return String(value);
  if (spec.kind === 'size') return formatSize(value).replace(' ', '');
  if (spec.kind === 'fraction') return `${Number((value * 100).toPrecision(6))}%`;
  return String(value);
}
