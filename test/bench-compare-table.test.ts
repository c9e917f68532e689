import { describe, expect, it } from 'vitest';
import { compareRows, renderComparison, seedStats } from '../src/bench/compare.ts';
import type { ResultRow } from '../src/bench/metrics.ts';

const row = (
  config: string,
  seed: number,
  fsck: number | null,
  p99 = 100,
  status = 'ok',
): ResultRow => ({
  config_id: config,
  seed,
  status,
  fsck_ms: fsck,
  latency_p99_us: p99,
});

describe('qedlab compare', () => {
  it('seed statistics: mean and relative sample standard deviation', () => {
    const s = seedStats([90, 100, 110]);
    expect(s.mean).toBe(100);
    expect(s.relativeSpread).toBeCloseTo(0.1, 12);
    expect(seedStats([5])).toEqual({ mean: 5, relativeSpread: 0, seeds: 1 });
  });

  it('pairs configurations by id, averages over seeds, and gives the relative change', () => {
    const a = [
      row('g/qed/x', 1, 90),
      row('g/qed/x', 2, 110),
      row('g/raw/x', 1, 0),
      row('g/only-a', 1, 1),
    ];
    const b = [
      row('g/qed/x', 1, 45),
      row('g/qed/x', 2, 55),
      row('g/raw/x', 1, 0),
      row('g/only-b', 1, 1),
      row('g/qed/x', 3, 999, 1, 'error'),
    ];
    const c = compareRows(a, b, ['fsck_ms', 'latency_p99_us']);
    const fsck = c.lines.find((l) => l.configId === 'g/qed/x' && l.metric === 'fsck_ms');
    expect(fsck?.a.mean).toBe(100);
    expect(fsck?.b.mean).toBe(50);
    expect(fsck?.relativeChange).toBe(-0.5);
    expect(
      c.lines.find((l) => l.configId === 'g/raw/x' && l.metric === 'fsck_ms')?.relativeChange,
    ).toBe(0);
    expect(c.onlyInA).toEqual(['g/only-a']);
    expect(c.onlyInB).toEqual(['g/only-b']);
  });

  it('renders a fixed-width table: value ± spread over seeds, relative change', () => {
    const a = [row('g/qed/x', 1, 90), row('g/qed/x', 2, 110)];
    const b = [row('g/qed/x', 1, 45), row('g/qed/x', 2, 55)];
    const text = renderComparison(
      compareRows(a, b, ['fsck_ms', 'latency_p99_us']),
      'A.json',
      'B.json',
    );
    expect(text).toBe(
      [
        'configuration  metric             A.json    B.json  change',
        '-------------  --------------  ---------  --------  ------',
        'g/qed/x        fsck_ms         100 ± 14%  50 ± 14%  -50.0%',
        'g/qed/x        latency_p99_us        100       100       0',
        '',
      ].join('\n'),
    );
  });
});
