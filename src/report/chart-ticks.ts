import type { Unit } from './units.ts';

/**
 * Tick positions for the chart axes. Chart.js's own log ticks are decimal (1,000 / 2,000 /
 * 10,000, crowded and rotated), which reads badly for sizes: byte axes get powers of two
 * (1 TiB, 4 TiB, … 1 PiB), everything else decades.
 */

export interface LogRange {
  min: number;
  max: number;
  ticks: number[];
}

const MAX_TICKS = 8;

/** Powers of two covering [lo, hi], stepping 2^k so at most MAX_TICKS remain. */
export function pow2Range(lo: number, hi: number): LogRange {
  let eMin = Math.floor(Math.log2(lo));
  let eMax = Math.ceil(Math.log2(hi));
  if (eMax === eMin) {
    eMin -= 1;
    eMax += 1;
  }
  let step = 1;
  while ((eMax - eMin) / step + 1 > MAX_TICKS) step++;
  // Land the ends on the tick grid so the first and last ticks sit on the axis edges.
  eMax = eMin + Math.ceil((eMax - eMin) / step) * step;
  const ticks: number[] = [];
  for (let e = eMin; e <= eMax; e += step) ticks.push(2 ** e);
  return { min: 2 ** eMin, max: 2 ** eMax, ticks };
}

/** Decades covering [lo, hi]; with three decades or fewer, 2 and 5 per decade as well. */
export function decadeRange(lo: number, hi: number): LogRange {
  const eMin = Math.floor(Math.log10(lo) + 1e-9);
  let eMax = Math.ceil(Math.log10(hi) - 1e-9);
  if (eMax === eMin) eMax += 1;
  let step = 1;
  while ((eMax - eMin) / step + 1 > MAX_TICKS) step++;
  eMax = eMin + Math.ceil((eMax - eMin) / step) * step;
  const ticks: number[] = [];
  for (let e = eMin; e <= eMax; e += step) {
    ticks.push(10 ** e);
    if (eMax - eMin <= 3 && e < eMax) ticks.push(2 * 10 ** e, 5 * 10 ** e);
  }
  return { min: 10 ** eMin, max: 10 ** eMax, ticks: ticks.map(cleanFloat) };
}

/** 10 ** -3 is 0.0010000000000000002 in floating point; labels want 0.001. */
function cleanFloat(value: number): number {
  return Number(value.toPrecision(12));
}

/** A log axis range for values in the given unit. */
export function logRange(lo: number, hi: number, unit: Unit): LogRange {
  return unit === 'bytes' ? pow2Range(lo, hi) : decadeRange(lo, hi);
}

/**
 * Linear ticks for a byte axis from 0: a power-of-two step, so labels read 64 MiB, 128 MiB, …
 * instead of 47.7 MiB.
 */
export function binaryLinearTicks(hi: number): { max: number; ticks: number[] } {
  if (!(hi > 0)) return { max: 1, ticks: [0, 1] };
  let step = 2 ** Math.floor(Math.log2(hi / 8));
  while (Math.ceil(hi / step) > 8) step *= 2;
  const count = Math.max(1, Math.ceil(hi / step));
  const ticks = Array.from({ length: count + 1 }, (_, i) => i * step);
  return { max: count * step, ticks };
}
