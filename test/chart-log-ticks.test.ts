import { describe, expect, it } from 'vitest';
import { binaryLinearTicks, decadeRange, pow2Range } from '../src/report/chart-ticks.ts';
import { formatValue } from '../src/report/units.ts';

const TIB = 2 ** 40;

describe('log axes tick at powers of two for sizes and at decades otherwise', () => {
  it('labels a 1 TiB – 1 PiB axis 1 TiB, 4 TiB, … 1 PiB', () => {
    const range = pow2Range(TIB, 1024 * TIB);
    expect(range.ticks.map((t) => formatValue(t, 'bytes'))).toEqual([
      '1 TiB',
      '4 TiB',
      '16 TiB',
      '64 TiB',
      '256 TiB',
      '1 PiB',
    ]);
    expect([range.min, range.max]).toEqual([TIB, 1024 * TIB]);
  });

  it('widens to the enclosing powers of two and keeps every tick a power of two', () => {
    const range = pow2Range(3 * 2 ** 20, 5 * 2 ** 30);
    expect(range.min).toBe(2 ** 21);
    expect(range.max).toBeGreaterThanOrEqual(5 * 2 ** 30);
    expect(range.ticks.length).toBeLessThanOrEqual(8);
    for (const t of range.ticks) expect(Number.isInteger(Math.log2(t))).toBe(true);
    expect(range.ticks.at(-1)).toBe(range.max);
  });

  it('ticks a latency axis at decades labelled with time units', () => {
    const range = decadeRange(2_000, 3e9);
    expect(range.ticks.map((t) => formatValue(t, 'ns'))).toEqual([
      '1 µs',
      '10 µs',
      '100 µs',
      '1 ms',
      '10 ms',
      '100 ms',
      '1 s',
      '10 s',
    ]);
  });

  it('adds 2 and 5 within a decade when the axis spans few decades', () => {
    expect(decadeRange(0.00003, 0.009).ticks).toEqual([
      0.00001, 0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01,
    ]);
  });

  it('steps a linear byte axis by a power of two', () => {
    const { max, ticks } = binaryLinearTicks(300 * 2 ** 20);
    expect(ticks.map((t) => formatValue(t, 'bytes'))).toEqual([
      '0 B',
      '64 MiB',
      '128 MiB',
      '192 MiB',
      '256 MiB',
      '320 MiB',
    ]);
    expect(max).toBe(320 * 2 ** 20);
  });
});
