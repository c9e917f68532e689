import { describe, expect, it } from 'vitest';
import {
  bucketHighNs,
  bucketIndex,
  bucketLowNs,
  LatencyHistogram,
} from '../src/bench/histogram.ts';
import { LatencyRecorder } from '../src/bench/latency-recorder.ts';

describe('latency percentiles', () => {
  it('are exact (R-7 interpolation) on hand-computed samples', () => {
    const r = new LatencyRecorder();
    // 1..1000 µs in ns, shuffled order must not matter.
    const values = Array.from({ length: 1000 }, (_, i) => (i + 1) * 1000);
    for (let i = 0; i < values.length; i++) r.record(values[(i * 617) % 1000] as number, i);
    const s = r.summary();
    expect(s.count).toBe(1000);
    expect(s.exact).toBe(true);
    // position (n−1)q. p50 → 499.5 → (500 + 501)/2 µs; p99 → 989.01 → 990.01 µs;
    // p99.9 → 998.001 → 999.001 µs.
    expect(s.p50Ns).toBeCloseTo(500_500, 6);
    expect(s.p99Ns).toBeCloseTo(990_010, 6);
    expect(s.p999Ns).toBeCloseTo(999_001, 6);
    expect(s.maxNs).toBe(1_000_000);
    expect(s.meanNs).toBeCloseTo(500_500, 6);
  });

  it('one spike among identical requests: p50/p99 stay, p99.9 and max see it', () => {
    const r = new LatencyRecorder();
    for (let i = 0; i < 9999; i++) r.record(100, i);
    r.record(1_000_000, 9999);
    const s = r.summary();
    expect(s.p50Ns).toBe(100);
    expect(s.p99Ns).toBe(100);
    // position 9999 × 0.999 = 9989.001: both neighbours are 100.
    expect(s.p999Ns).toBe(100);
    expect(s.maxNs).toBe(1_000_000);
  });

  it('beyond the sample cap, percentiles come from the histogram (within half a bucket)', () => {
    const r = new LatencyRecorder({ sampleCap: 100 });
    for (let i = 1; i <= 1000; i++) r.record(i * 1000, i);
    const s = r.summary();
    expect(s.exact).toBe(false);
    expect(Math.abs(s.p50Ns - 500_000) / 500_000).toBeLessThan(1 / 32 + 1e-9);
    expect(s.maxNs).toBe(1_000_000);
  });
});

describe('log-bucketed histogram', () => {
  it('splits each power of two into 16 buckets; zero has its own', () => {
    expect(bucketIndex(0)).toBe(0);
    expect(bucketIndex(1)).toBe(1);
    expect(bucketLowNs(bucketIndex(1024))).toBe(1024);
    expect(bucketHighNs(bucketIndex(1024))).toBe(1088);
    expect(bucketIndex(1087)).toBe(bucketIndex(1024));
    expect(bucketIndex(1088)).toBe(bucketIndex(1024) + 1);
    expect(bucketIndex(2047.9)).toBe(bucketIndex(2048) - 1);
  });

  it('every value lands in a bucket that contains it, no wider than 1/16 of its low bound', () => {
    for (const v of [1, 3, 7.5, 100, 4095, 4096, 123_456, 8.33e6, 2 ** 40 + 5]) {
      const i = bucketIndex(v);
      expect(bucketLowNs(i)).toBeLessThanOrEqual(v);
      expect(bucketHighNs(i)).toBeGreaterThan(v);
      expect((bucketHighNs(i) - bucketLowNs(i)) / bucketLowNs(i)).toBeLessThanOrEqual(1 / 16);
    }
  });

  it('lists the non-empty buckets with their counts', () => {
    const h = new LatencyHistogram();
    for (const v of [0, 0, 100, 101, 5000]) h.record(v);
    expect(h.buckets()).toEqual([
      { lowNs: 0, highNs: 1, count: 2 },
      { lowNs: 100, highNs: 104, count: 2 },
      { lowNs: 4864, highNs: 5120, count: 1 },
    ]);
    expect(h.total).toBe(5);
  });
});
