import { describe, expect, it } from 'vitest';
import { bucketHighNs, bucketIndex, bucketLowNs, SUB_BUCKETS } from '../src/bench/histogram.ts';
import { Rng } from '../src/util/rng.ts';

/** The bucket by definition: octave floor(log2 x), then SUB_BUCKETS equal parts of it. */
function reference(latencyNs: number): number {
  if (!(latencyNs >= 1)) return 0;
  const e = Math.min(63, Math.floor(Math.log2(latencyNs)));
  const base = 2 ** e;
  const sub = Math.min(
    SUB_BUCKETS - 1,
    Math.max(0, Math.floor(((latencyNs - base) / base) * SUB_BUCKETS)),
  );
  return 1 + e * SUB_BUCKETS + sub;
}

describe('histogram bucketIndex', () => {
  it('puts every whole nanosecond count below 2^20 in its defined bucket', () => {
    for (let n = 0; n < 1 << 20; n++) {
      if (bucketIndex(n) !== reference(n)) expect(bucketIndex(n)).toBe(reference(n));
    }
  });

  it('agrees with the definition for fractions, powers of two and their neighbours', () => {
    const rng = new Rng(5);
    const values: number[] = [0, 0.5, 1, 1.5, 2 ** 40, 2 ** 63, 1e30];
    for (let i = 0; i < 100_000; i++) values.push(rng.nextFloat() * 2 ** (rng.nextInt(40) + 1));
    for (let k = 1; k < 40; k++) {
      for (let d = 1; d < 8; d++) {
        const ulp = 2 ** (k - 52);
        values.push(2 ** k - d * ulp, 2 ** k + d * ulp, 2 ** k - 0.5, 2 ** k + 0.5, 2 ** k);
      }
    }
    for (const v of values) {
      if (bucketIndex(v) !== reference(v)) expect([v, bucketIndex(v)]).toEqual([v, reference(v)]);
    }
  });

  it('places each value inside its bucket bounds', () => {
    for (const v of [1, 17, 1000, 123_456.7, 8_500_000, 4_294_967_295]) {
      const i = bucketIndex(v);
      expect(bucketLowNs(i)).toBeLessThanOrEqual(v);
      expect(v).toBeLessThan(bucketHighNs(i));
    }
  });
});
