import { describe, expect, it } from 'vitest';
import {
  cdfFromHistogram,
  cdfFromSamples,
  downsampleMinMax,
  MAX_SERIES_POINTS,
} from '../src/report/downsample.ts';
import { Rng } from '../src/util/rng.ts';

describe('CDF and timeline series are downsampled without losing the tail', () => {
  it('builds exact CDF steps for a few samples, starting at 0 and ending at 1', () => {
    expect(cdfFromSamples([30, 10, 20, 20])).toEqual([
      { x: 10, y: 0 },
      { x: 10, y: 0.25 },
      { x: 20, y: 0.75 },
      { x: 30, y: 1 },
    ]);
  });

  it('keeps at most 2000 points of a million samples, with the exact maximum', () => {
    const rng = new Rng(3);
    const samples = Float64Array.from({ length: 1_000_000 }, () => rng.nextFloat() * 1e6);
    samples[123_456] = 5e9;
    const cdf = cdfFromSamples(samples);
    expect(cdf.length).toBeLessThanOrEqual(MAX_SERIES_POINTS);
    expect(cdf.at(-1)).toEqual({ x: 5e9, y: 1 });
    for (let i = 1; i < cdf.length; i++) {
      expect((cdf[i]?.x ?? 0) >= (cdf[i - 1]?.x ?? 0)).toBe(true);
      expect((cdf[i]?.y ?? 0) >= (cdf[i - 1]?.y ?? 0)).toBe(true);
    }
  });

  it('turns histogram buckets into cumulative fractions at the bucket upper bounds', () => {
    expect(
      cdfFromHistogram([
        { upperBound: 200, count: 3 },
        { upperBound: 100, count: 1 },
        { upperBound: 300, count: 0 },
      ]),
    ).toEqual([
      { x: 100, y: 0 },
      { x: 100, y: 0.25 },
      { x: 200, y: 1 },
    ]);
  });

  it('keeps a single-request stall in a downsampled timeline', () => {
    const points = Array.from({ length: 100_000 }, (_, x) => ({ x, y: 100 + (x % 7) }));
    points[77_777] = { x: 77_777, y: 1e9 };
    const thin = downsampleMinMax(points);
    expect(thin.length).toBeLessThanOrEqual(MAX_SERIES_POINTS);
    expect(thin).toContainEqual({ x: 77_777, y: 1e9 });
    expect(thin.map((p) => p.x)).toEqual([...thin.map((p) => p.x)].sort((a, b) => a - b));
  });
});
