import { describe, expect, it } from 'vitest';
import { createWorkload, parseWorkloadParams } from '../src/workloads/index.ts';

const GIB = 2 ** 30;
const TIB = 2 ** 40;

describe('sparse workloads put one write in each equal stratum', () => {
  it('0.003 % of 1 TiB in 64 KiB writes touches every 2 GiB QED L2 region (the thread’s worst case)', () => {
    const params = parseWorkloadParams('sparse', { density: '0.003%', bs: '64k' });
    expect(params).toEqual({ density: 0.00003, bs: 65536 });
    const w = createWorkload('sparse', params, {
      virtualSizeBytes: TIB,
      seed: 11,
    });
    // round(0.00003 × 2^40 / 2^16) = 503 writes: strata of ~2.04 GiB, so the 512 L2 regions of
    // 2 GiB each get one write or none, never two in one stratum.
    const offsets = [...w.requests()].map((r) => r.offsetBytes);
    expect(offsets).toHaveLength(503);
    const strata = offsets.map((o) => Math.floor(o / (TIB / 503)));
    expect(new Set(strata).size).toBe(503);
    expect(offsets.every((o) => o % 65536 === 0)).toBe(true);
  });

  it('one write per 2 GiB with requests = 512 touches all 512 regions exactly once', () => {
    const w = createWorkload(
      'tb-sparse',
      { requests: 512, bs: 65536 },
      { virtualSizeBytes: TIB, seed: 3 },
    );
    const regions = [...w.requests()].map((r) => Math.floor(r.offsetBytes / (2 * GIB)));
    expect(new Set(regions).size).toBe(512);
  });

  it('place=start, order=ascending puts write i at the start of stratum i', () => {
    const w = createWorkload(
      'tb-sparse',
      { requests: 4, place: 'start', order: 'ascending' },
      { virtualSizeBytes: TIB, seed: 1 },
    );
    expect([...w.requests()].map((r) => r.offsetBytes)).toEqual([
      0,
      TIB / 4,
      TIB / 2,
      (3 * TIB) / 4,
    ]);
  });

  it('random order visits each stratum once (a permutation), not front to back', () => {
    const w = createWorkload(
      'tb-sparse',
      { requests: 1000, place: 'start' },
      { virtualSizeBytes: TIB, seed: 5 },
    );
    const offsets = [...w.requests()].map((r) => r.offsetBytes);
    expect(new Set(offsets).size).toBe(1000);
    expect(offsets).not.toEqual([...offsets].sort((a, b) => a - b));
  });

  it('tb-sparse keeps the same number of writes from 1 TiB to 1 PiB', () => {
    for (const size of [TIB, 16 * TIB, 1024 * TIB]) {
      const w = createWorkload('tb-sparse', {}, { virtualSizeBytes: size, seed: 1 });
      expect(w.requestCount).toBe(4096);
      const offsets = [...w.requests()].map((r) => r.offsetBytes);
      expect(Math.max(...offsets)).toBeLessThan(size);
      expect(Math.max(...offsets)).toBeGreaterThan(size * 0.99);
    }
  });

  it('rejects a density too high for one write per stratum, naming the parameter', () => {
    expect(() =>
      createWorkload('sparse', { density: 0.5, bs: 4096 }, { virtualSizeBytes: GIB, seed: 1 }),
    ).not.toThrow();
    expect(() =>
      createWorkload(
        'sparse',
        { density: 1, bs: 8192, align: 4096 },
        { virtualSizeBytes: GIB, seed: 1 },
      ),
    ).not.toThrow();
    expect(() =>
      createWorkload('sparse', { requests: 10, density: 0.1 }, { virtualSizeBytes: GIB, seed: 1 }),
    ).toThrow(/density: give either density or requests/);
    expect(() =>
      createWorkload(
        'tb-sparse',
        { requests: 4096, bs: 65536 },
        { virtualSizeBytes: 128 * 2 ** 20, seed: 1 },
      ),
    ).toThrow(/requests: .*do not fit one per stratum/);
  });
});
