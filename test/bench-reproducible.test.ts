import { describe, expect, it } from 'vitest';
import { WALL_COLUMNS } from '../src/bench/metrics.ts';
import { runSuite } from '../src/bench/run-suite.ts';
import { parseSuite } from '../src/bench/suite.ts';

const suite = parseSuite(
  {
    name: 'repro',
    seeds: [1, 2],
    groups: [
      {
        name: 'g',
        formats: ['qed', 'raw'],
        workloads: [
          { type: 'random', requests: 300, bs: '4k', workingSet: '8G', flushEvery: 16 },
          { type: 'sparse', requests: 40, bs: '64k' },
        ],
        sizes: ['64G'],
        devices: ['hdd', 'nvme'],
        crashPoints: 2,
        crashPolicy: 'random-subset',
      },
    ],
  },
  'repro.json',
);

function simulatedOnly(results: ReturnType<typeof runSuite>) {
  const rows = results.rows.map((r) =>
    Object.fromEntries(Object.entries(r).filter(([k]) => !WALL_COLUMNS.includes(k))),
  );
  return {
    rows,
    details: results.details,
    seeds: results.meta.seeds,
    hash: results.meta.suite.hash,
  };
}

describe('a suite run twice gives identical simulated figures', () => {
  it('rows (all but wall time) and per-case details match exactly', () => {
    const first = runSuite(suite, { progress: false });
    const second = runSuite(suite, { progress: false });
    expect(first.rows).toHaveLength(2 * 2 * 2 * 2);
    expect(first.rows.every((r) => r.status === 'ok')).toBe(true);
    expect(simulatedOnly(second)).toEqual(simulatedOnly(first));
    // Not trivially equal: the figures differ between seeds and devices.
    const times = new Set(first.rows.map((r) => r.sim_time_ms));
    expect(times.size).toBeGreaterThan(4);
    // Every case was cut twice at random points and once at the end, and each reopen was measured.
    for (const r of first.rows) expect(r.fsck_points).toBe(2);
    const qedHdd = first.rows.find(
      (r) => r.format === 'qed' && r.device === 'hdd' && r.workload === 'sparse',
    );
    expect(qedHdd?.fsck_ms).toBeGreaterThan(0);
  });
});
