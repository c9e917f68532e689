import { describe, expect, it } from 'vitest';
import { Rng } from '../src/util/rng.ts';
import { createWorkload } from '../src/workloads/index.ts';
import { IndexPermutation } from '../src/workloads/permutation.ts';
import { ZipfSampler } from '../src/workloads/zipf.ts';

describe('zipf workload', () => {
  it('rank frequencies follow k^−θ (rank 1 vs 2 vs 4)', () => {
    const sampler = new ZipfSampler(1_000_000, 1.2);
    const rng = new Rng(9);
    const counts = new Map<number, number>();
    for (let i = 0; i < 200_000; i++) {
      const k = sampler.sample(rng);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const c1 = counts.get(1) ?? 0;
    const c2 = counts.get(2) ?? 0;
    const c4 = counts.get(4) ?? 0;
    // P(1)/P(2) = 2^1.2 = 2.297; P(1)/P(4) = 4^1.2 = 5.278. Seeded, so this is deterministic;
    // the tolerance only allows for sampling noise at 200k draws.
    expect(c1 / c2).toBeGreaterThan(2.297 * 0.95);
    expect(c1 / c2).toBeLessThan(2.297 * 1.05);
    expect(c1 / c4).toBeGreaterThan(5.278 * 0.93);
    expect(c1 / c4).toBeLessThan(5.278 * 1.07);
  });

  it('stays within [1, n] and handles θ = 1 exactly (the helper branch)', () => {
    const sampler = new ZipfSampler(10, 1);
    const rng = new Rng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) seen.add(sampler.sample(rng));
    expect([...seen].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('scatters the hot blocks: the hottest offset is not block 0, and the set is skewed', () => {
    const w = createWorkload(
      'zipf',
      { requests: 20_000, theta: 1.2 },
      { virtualSizeBytes: 2 ** 30, seed: 4 },
    );
    const counts = new Map<number, number>();
    for (const r of w.requests()) counts.set(r.offsetBytes, (counts.get(r.offsetBytes) ?? 0) + 1);
    const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1]);
    expect(sorted[0]?.[0]).not.toBe(0);
    // With θ = 1.2 over 262144 blocks the top block takes ~1/ζ(1.2) ≈ 18 % of the requests.
    expect((sorted[0]?.[1] ?? 0) / 20_000).toBeGreaterThan(0.12);
    expect(counts.size).toBeLessThan(10_000);
  });
});

describe('IndexPermutation', () => {
  it.each([1, 2, 3, 17, 1000, 4096, 65537])('is a bijection on [0, %d)', (n) => {
    const p = new IndexPermutation(n, new Rng(n));
    const seen = new Set<number>();
    let outOfRange = 0;
    for (let i = 0; i < n; i++) {
      const x = p.at(i);
      if (!(x >= 0 && x < n)) outOfRange++;
      seen.add(x);
    }
    expect(outOfRange).toBe(0);
    expect(seen.size).toBe(n);
  });

  it('works for sizes beyond 2^32 (offsets of a 1 PiB image in 512-byte blocks)', () => {
    const n = 2 ** 41 + 3;
    const p = new IndexPermutation(n, new Rng(1));
    const values = Array.from({ length: 1000 }, (_, i) => p.at(i));
    expect(new Set(values).size).toBe(1000);
    expect(values.every((v) => Number.isSafeInteger(v) && v >= 0 && v < n)).toBe(true);
    expect(Math.max(...values)).toBeGreaterThan(2 ** 36);
  });
});
