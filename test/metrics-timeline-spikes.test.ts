import { describe, expect, it } from 'vitest';
import { LatencyTimeline } from '../src/bench/timeline.ts';

describe('latency timeline', () => {
  it('keeps one point per request until full', () => {
    const t = new LatencyTimeline(8);
    for (let i = 0; i < 8; i++) t.record(i, i * 10);
    expect(t.bucketWidth).toBe(1);
    expect(t.points().map((p) => p.maxNs)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('halves its resolution when full, keeping each bucket’s max, mean, count and end time', () => {
    const t = new LatencyTimeline(4);
    for (let i = 0; i < 6; i++) t.record(10 * (i + 1), 100 * (i + 1));
    expect(t.bucketWidth).toBe(2);
    expect(t.points()).toEqual([
      { firstRequest: 0, requests: 2, meanNs: 15, maxNs: 20, maxRequest: 1, endNs: 200 },
      { firstRequest: 2, requests: 2, meanNs: 35, maxNs: 40, maxRequest: 3, endNs: 400 },
      { firstRequest: 4, requests: 2, meanNs: 55, maxNs: 60, maxRequest: 5, endNs: 600 },
    ]);
  });

  it('a single stall among a million requests survives compression as a spike', () => {
    const t = new LatencyTimeline(512);
    const stallAt = 654_321;
    for (let i = 0; i < 1_000_000; i++) t.record(i === stallAt ? 50_000_000 : 20_000, i);
    const points = t.points();
    expect(points.length).toBeLessThanOrEqual(512);
    expect(points.reduce((s, p) => s + p.requests, 0)).toBe(1_000_000);
    const spike = points.filter((p) => p.maxNs === 50_000_000);
    expect(spike).toHaveLength(1);
    expect(spike[0]?.maxRequest).toBe(stallAt);
    expect(points.filter((p) => p.maxNs === 20_000)).toHaveLength(points.length - 1);
  });
});

describe('snapshot timelines in results', () => {
  it('report the bucket width they were compressed to', async () => {
    const { runSuite } = await import('../src/bench/run-suite.ts');
    const { parseSuite } = await import('../src/bench/suite.ts');
    const suite = parseSuite(
      {
        name: 's',
        groups: [
          {
            name: 'g',
            formats: ['qcow2'],
            workloads: [{ type: 'checkpoint', snapshots: 300, snapshotEvery: 1, workingSet: '1M' }],
            sizes: ['64M'],
          },
        ],
      },
      's.json',
    );
    const results = runSuite(suite, { progress: false });
    const t = Object.values(results.details)[0]?.snapshot_timeline;
    // 300 snapshots in at most 256 buckets: the width doubled to 2 (150 buckets).
    expect(t?.bucket_requests).toBe(2);
    expect(t?.requests.reduce((a, b) => a + b, 0)).toBe(300);
    expect(t?.first_request[1]).toBe(2);
  });
});
