import { describe, expect, it } from 'vitest';
import { ninesAxis } from '../src/report/chart-kinds.ts';
import { cdfFromSamples } from '../src/report/downsample.ts';

describe('latency CDFs use a nines scale so the tail is as visible as the median', () => {
  it('spaces 90 %, 99 % and 99.9 % evenly and reaches as far as the samples resolve', () => {
    const samples = Array.from({ length: 2000 }, (_, i) => i + 1);
    const { axis, toAxis } = ninesAxis([
      { label: 'qed', points: cdfFromSamples(samples), samples: 2000 },
    ]);
    expect(toAxis(0)).toBe(0);
    expect(toAxis(0.9)).toBeCloseTo(1, 12);
    expect(toAxis(0.99)).toBeCloseTo(2, 12);
    expect(toAxis(0.999)).toBeCloseTo(3, 12);
    // 2000 samples resolve 1/2000: ticks up to 99.9 %, then "100 %" for the whole sample
    expect(axis.ticks?.map((t) => t.label)).toEqual(['0%', '50%', '90%', '99%', '99.9%', '100%']);
    expect(toAxis(1)).toBe(axis.max);
    expect(axis.max).toBeGreaterThan(Math.log10(2000));
  });

  it('infers the resolution from the steps when the sample count is not given', () => {
    const points = cdfFromSamples(Array.from({ length: 100_000 }, (_, i) => i));
    const { axis } = ninesAxis([{ label: 'qcow2', points }]);
    expect(axis.ticks?.map((t) => t.label).at(-2)).toBe('99.999%');
  });
});
