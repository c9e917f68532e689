import { describe, expect, it } from 'vitest';
import { createWorkload, type GuestRequest, WORKLOAD_NAMES } from '../src/workloads/index.ts';

const TIB = 2 ** 40;

function take(requests: Iterable<GuestRequest>, n: number): GuestRequest[] {
  const out: GuestRequest[] = [];
  for (const r of requests) {
    out.push({ ...r });
    if (out.length === n) break;
  }
  return out;
}

const CASES: Array<[string, Record<string, number | string>]> = [
  ['sequential', { requests: 500 }],
  ['random', { requests: 500, readPercent: 30, flushEvery: 7 }],
  ['sparse', { density: 0.00001, bs: 65536 }],
  ['tb-sparse', { requests: 500 }],
  ['zipf', { requests: 500, theta: 1.2 }],
  ['checkpoint', { snapshots: 5, snapshotEvery: 20 }],
  ['discard-churn', { requests: 500, extent: 65536 }],
];

describe('workload generators are seeded and deterministic', () => {
  it('covers every generated workload type (replay reads files: tested separately)', () => {
    expect([...CASES.map(([n]) => n), 'replay'].sort()).toEqual([...WORKLOAD_NAMES].sort());
  });

  it.each(CASES)(
    '%s: same seed, same stream; requests() replays it; requestCount is exact',
    (type, params) => {
      const a = createWorkload(type, params, { virtualSizeBytes: TIB, seed: 7 });
      const b = createWorkload(type, params, { virtualSizeBytes: TIB, seed: 7 });
      const first = [...a.requests()];
      expect([...b.requests()]).toEqual(first);
      expect([...a.requests()]).toEqual(first);
      expect(first.length).toBe(a.requestCount);
      for (const r of first) {
        expect(r.offsetBytes + r.lengthBytes).toBeLessThanOrEqual(TIB);
        expect(r.offsetBytes % 512).toBe(0);
      }
    },
  );

  it.each(CASES.filter(([t]) => t !== 'sequential'))(
    '%s: a different seed gives a different stream',
    (type, params) => {
      const a = [...createWorkload(type, params, { virtualSizeBytes: TIB, seed: 1 }).requests()];
      const b = [...createWorkload(type, params, { virtualSizeBytes: TIB, seed: 2 }).requests()];
      expect(b).not.toEqual(a);
    },
  );

  it('random honours readPercent and flushEvery', () => {
    const w = createWorkload(
      'random',
      { requests: 1000, readPercent: 25, flushEvery: 10 },
      { virtualSizeBytes: TIB, seed: 3 },
    );
    const all = [...w.requests()];
    expect(all.filter((r) => r.op === 'flush')).toHaveLength(100);
    const reads = all.filter((r) => r.op === 'read').length;
    expect(reads).toBeGreaterThan(200);
    expect(reads).toBeLessThan(300);
    // Every 11th request is the flush after 10 data requests.
    expect(all[10]?.op).toBe('flush');
  });

  it('sequential fills front to back and wraps', () => {
    const w = createWorkload(
      'sequential',
      { requests: 5, bs: 4096, workingSet: 8192, offset: 65536 },
      { virtualSizeBytes: TIB, seed: 1 },
    );
    expect([...w.requests()].map((r) => r.offsetBytes)).toEqual([
      65536, 69632, 65536, 69632, 65536,
    ]);
  });
});

describe('workload generators stream', () => {
  it('a trillion-request workload yields its first requests at once (nothing is materialised)', () => {
    for (const type of ['random', 'zipf', 'sequential', 'discard-churn']) {
      const w = createWorkload(type, { requests: 1e12 }, { virtualSizeBytes: 2 ** 50, seed: 1 });
      expect(w.requestCount).toBeGreaterThanOrEqual(1e12);
      expect(take(w.requests(), 1000)).toHaveLength(1000);
    }
    const sparse = createWorkload(
      'sparse',
      { requests: 2 ** 40, bs: 512 },
      { virtualSizeBytes: 2 ** 50, seed: 1 },
    );
    expect(take(sparse.requests(), 1000)).toHaveLength(1000);
  });
});
