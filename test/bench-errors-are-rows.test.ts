import { describe, expect, it } from 'vitest';
import { runSuite } from '../src/bench/run-suite.ts';
import { parseSuite } from '../src/bench/suite.ts';

describe('a case that fails becomes a row with status=error; the others still run', () => {
  const suite = parseSuite(
    {
      name: 'errs',
      groups: [
        {
          name: 'snap',
          formats: ['raw', 'qcow2'],
          workloads: [{ type: 'checkpoint', snapshots: 5, snapshotEvery: 3, workingSet: '16M' }],
          sizes: ['1G'],
          devices: ['nvme'],
        },
      ],
    },
    'errs.json',
  );
  const results = runSuite(suite, { progress: false });

  it('raw has no internal snapshots: an error row with the message and empty figures', () => {
    const raw = results.rows.find((r) => r.format === 'raw');
    expect(raw?.status).toBe('error');
    expect(raw?.error).toBe('format raw has no internal snapshots (checkpoint needs qcow2)');
    expect(raw?.fsck_ms).toBeNull();
    expect(typeof raw?.wall_ms).toBe('number');
    expect(results.meta.errors).toBe(1);
    expect(results.details[String(raw?.case_id)]).toBeUndefined();
  });

  it('qcow2 takes the 5 snapshots and records the cost of each', () => {
    const q = results.rows.find((r) => r.format === 'qcow2');
    expect(q?.status).toBe('ok');
    expect(q?.guest_snapshots).toBe(5);
    expect(q?.guest_writes).toBe(15);
    expect(q?.snapshot_create_mean_us).toBeGreaterThan(0);
    expect(q?.snapshot_delete_us).toBeGreaterThan(0);
    const timeline = results.details[String(q?.case_id)]?.snapshot_timeline;
    expect(timeline?.requests.reduce((a, b) => a + b, 0)).toBe(5);
    expect(timeline?.bucket_requests).toBe(1);
    expect(timeline?.max_ns.at(-1)).toBe(Math.round((q?.snapshot_create_last_us as number) * 1000));
  });
});
