import { describe, expect, it } from 'vitest';
import { metricsRow } from '../src/bench/metrics.ts';
import { runCase } from '../src/bench/run-case.ts';
import type { IoRecord } from '../src/device/types.ts';
import { benchCase } from './helpers/bench-case.ts';

const TIB = 2 ** 40;

describe('metrics of the first 4 KiB write into an empty 1 TiB QED image', () => {
  const log: IoRecord[] = [];
  const c = benchCase({
    format: 'qed',
    type: 'sequential',
    params: { requests: 1, bs: 4096 },
    sizeBytes: TIB,
  });
  const m = runCase(c, { ioLog: (r) => log.push(r) });
  const row = metricsRow(c, m);

  it('issues exactly the host I/O of qemu-formats.md §1.5 (QEMU 7.2 under strace), in order', () => {
    expect(log).toEqual([
      { op: 'read', offset: 0, length: 512, kind: 'header' },
      { op: 'write', offset: 0, length: 512, kind: 'header' },
      { op: 'write', offset: 331776, length: 61440, kind: 'zero-fill' },
      { op: 'write', offset: 327680, length: 4096, kind: 'data' },
      { op: 'write', offset: 393216, length: 262144, kind: 'l2' },
      { op: 'flush' },
      { op: 'write', offset: 65536, length: 512, kind: 'l1' },
    ]);
  });

  it('counts them per kind in the result row', () => {
    expect(row.guest_writes).toBe(1);
    expect(row.guest_written_bytes).toBe(4096);
    expect(row.host_write_ops).toBe(5);
    expect(row.host_written_bytes).toBe(512 + 61440 + 4096 + 262144 + 512);
    expect(row.host_read_bytes_header).toBe(512);
    expect(row.host_written_bytes_l2).toBe(262144);
    expect(row.host_written_bytes_l1).toBe(512);
    expect(row.host_written_bytes_zero_fill).toBe(61440);
    expect(row.host_flushes).toBe(1);
    expect(row.metadata_written_bytes).toBe(512 + 262144 + 512);
    // (512 + 262144 + 512) bytes per 4 KiB → × 262144 per GiB.
    expect(row.metadata_written_bytes_per_guest_gib).toBe((512 + 262144 + 512) * 262144);
    expect(row.write_amplification).toBe((512 + 61440 + 4096 + 262144 + 512) / 4096);
    // Footprint: the clusters the run wrote metadata into (the header's, the L1's first, the
    // new L2's four).
    expect(row.metadata_footprint_bytes_header).toBe(65536);
    expect(row.metadata_footprint_bytes_l1).toBe(65536);
    expect(row.metadata_footprint_bytes_l2).toBe(262144);
    expect(row.metadata_footprint_bytes).toBe(65536 * 6);
    // Header + L1 (5 clusters at create) + one data cluster + one 4-cluster L2.
    expect(row.image_file_size_bytes).toBe(327680 + 65536 + 262144);
  });

  it('a power cut right after it loses the unflushed L1 write: the open checks, finds no L2, 5 leaked clusters', () => {
    expect(row.fsck_needed_check).toBe(1);
    expect(row.fsck_l2_tables_read).toBe(0);
    // The 64-byte header, then the whole L1 table (256 KiB).
    expect(row.fsck_metadata_read_bytes).toBe(64 + 262144);
    expect(row.fsck_corruptions).toBe(0);
    expect(row.fsck_leaks).toBe(5);
  });
});
