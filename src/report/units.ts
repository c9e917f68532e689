import { formatSize } from '../util/size.ts';

/** The quantity an axis or table column carries; decides tick placement and label format. */
export type Unit = 'bytes' | 'ns' | 'count' | 'fraction' | 'ratio';

/**
 * Python's `format(x, '.{precision}g')`: what QEMU's simplebench prints (`2.1e+03`, `0.52`, `12`).
 * Kept byte-for-byte, including Python's round-half-even on exact ties (0.125 → `0.12`, where
 * JS's toPrecision says 0.13), so tables pasted next to simplebench output read the same.
 */
export function formatG(value: number, precision = 2): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf';
  const sign = value < 0 || Object.is(value, -0) ? '-' : '';
  if (value === 0) return `${sign}0`;
  const { digits, exponent } = roundHalfEven(Math.abs(value), precision);
  if (exponent < -4 || exponent >= precision) {
    const mantissa = stripZeros(`${digits[0]}.${digits.slice(1)}`);
    const exp = String(Math.abs(exponent)).padStart(2, '0');
    return `${sign}${mantissa}e${exponent < 0 ? '-' : '+'}${exp}`;
  }
  const fixed =
    exponent >= 0
      ? `${digits.slice(0, exponent + 1)}${exponent + 1 < digits.length ? '.' : ''}${digits.slice(exponent + 1)}`
      : `0.${'0'.repeat(-exponent - 1)}${digits}`;
  return `${sign}${stripZeros(fixed)}`;
}

/**
 * `precision` significant digits of a positive number and its decimal exponent, rounded half to
 * even on the exact decimal expansion (a double's expansion is exact to the 100 digits used).
 */
function roundHalfEven(value: number, precision: number): { digits: string; exponent: number } {
  const [mantissa = '', exp = '0'] = value.toExponential(99).split('e');
  const all = mantissa.replace('.', '');
  let exponent = Number(exp);
  let kept = all.slice(0, precision);
  const rest = all.slice(precision);
  const first = rest[0] ?? '0';
  const tail = rest.slice(1);
  const lastKeptOdd = Number(kept[kept.length - 1]) % 2 === 1;
  const roundUp = first > '5' || (first === '5' && (/[1-9]/.test(tail) || lastKeptOdd));
  if (roundUp) {
    const incremented = String(BigInt(kept) + 1n);
    if (incremented.length > precision) {
      exponent++;
      kept = incremented.slice(0, precision);
    } else {
      kept = incremented.padStart(precision, '0');
    }
  }
  return { digits: kept, exponent };
}

function stripZeros(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

const DURATION_UNITS: ReadonlyArray<readonly [string, number]> = [
  ['s', 1e9],
  ['ms', 1e6],
  ['µs', 1e3],
  ['ns', 1],
];

/** A duration given in nanoseconds, in the largest unit that keeps it ≥ 1: "250 µs", "1.5 s". */
export function formatDurationNs(ns: number): string {
  if (ns === 0) return '0';
  const magnitude = Math.abs(ns);
  for (const [name, scale] of DURATION_UNITS) {
    if (magnitude >= scale * 0.9995 || scale === 1) return `${trimNumber(ns / scale)} ${name}`;
  }
  return `${ns} ns`;
}

/** Up to three significant digits, no trailing zeros, thousands separated: 1,024 / 2.5 / 0.125. */
export function trimNumber(value: number): string {
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return Math.round(value).toLocaleString('en-US');
  const decimals = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3;
  const rounded = value.toFixed(decimals);
  return stripZeros(rounded);
}

/** A fraction (0.25) as a percentage with just enough digits for small values: "25%", "0.003%". */
export function formatFraction(fraction: number): string {
  const percent = fraction * 100;
  if (percent === 0) return '0%';
  if (Math.abs(percent) >= 1) return `${trimNumber(percent)}%`;
  return `${Number(percent.toPrecision(2))}%`;
}

/** A value as its unit reads on an axis tick or in a table cell. */
export function formatValue(value: number, unit: Unit): string {
  switch (unit) {
    case 'bytes':
      return formatSize(value);
    case 'ns':
      return formatDurationNs(value);
    case 'fraction':
      return formatFraction(value);
    case 'ratio':
      return `${trimNumber(value)}×`;
    case 'count':
      return trimNumber(value);
  }
}
