import { describe, expect, it } from 'vitest';
import { metricsRow } from '../src/bench/metrics.ts';
import { runCase } from '../src/bench/run-case.ts';
import { benchCase } from './helpers/bench-case.ts';

const TIB = 2 ** 40;
const TABLE_BYTES = 4 * 65536;

describe('fsck after a power cut of a QED image with n L2 tables', () => {
  it.each([1, 8, 512])(
    'n = %d: the open reads n × 256 KiB of L2 plus the 256 KiB L1 (and the 64-byte header)',
    (n) => {
      // One write at the start of each of n equal strata of 1 TiB: n distinct 2 GiB L2 regions.
      // A guest flush after each write makes every L1 update durable before the power cut.
      const c = benchCase({
        format: 'qed',
        type: 'tb-sparse',
        params: { requests: n, place: 'start', order: 'ascending', flushEvery: 1 },
        sizeBytes: TIB,
      });
      const row = metricsRow(c, runCase(c));
      expect(row.status).toBe('ok');
      expect(row.fsck_needed_check).toBe(1);
      expect(row.fsck_l2_tables_read).toBe(n);
      expect(row.host_read_bytes_l2).toBe(0);
      expect(row.fsck_metadata_read_bytes).toBe(64 + TABLE_BYTES + n * TABLE_BYTES);
      expect(row.fsck_corruptions).toBe(0);
    },
  );

  it('on the HDD model, more tables cost more simulated time', () => {
    const time = (n: number) => {
      const c = benchCase({
        format: 'qed',
        type: 'tb-sparse',
        params: { requests: n, flushEvery: 1 },
        sizeBytes: TIB,
        device: 'hdd',
      });
      return metricsRow(c, runCase(c)).fsck_ms as number;
    };
    const t8 = time(8);
    const t64 = time(64);
    expect(t8).toBeGreaterThan(0);
    expect(t64).toBeGreaterThan(4 * t8);
  });
});
