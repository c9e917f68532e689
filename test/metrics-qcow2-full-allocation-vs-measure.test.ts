import { expect, it } from 'vitest';
import { metricsRow } from '../src/bench/metrics.ts';
import { runCase } from '../src/bench/run-case.ts';
import { parseSizeBytes } from '../src/util/size.ts';
import { benchCase } from './helpers/bench-case.ts';
import { describeWithQemu, qemuImg } from './helpers/qemu.ts';

/**
 * The lab's own measurement of a fully allocated qcow2 (fill every byte, read the file size) must
 * equal `qemu-img measure`'s "fully allocated size": the same check, at small sizes, that the
 * thread-arithmetic suite makes at 1 TiB (168,034,304 bytes of metadata).
 */
describeWithQemu('a fully allocated qcow2 is as big as qemu-img measure says', () => {
  it.each([
    ['1G', {}],
    ['16G', {}],
    ['1G', { cluster_size: '4096' }],
    ['16G', { refcount_bits: '64' }],
  ])('%s %j', (size, options: Record<string, string>) => {
    const sizeBytes = parseSizeBytes(size);
    const o = Object.entries(options).map(([k, v]) => `${k}=${v}`);
    const measured = qemuImg([
      'measure',
      '-O',
      'qcow2',
      ...(o.length ? ['-o', o.join(',')] : []),
      '--size',
      size,
    ]);
    const fully = Number(/fully allocated size: (\d+)/.exec(measured)?.[1]);
    const c = benchCase({
      format: 'qcow2',
      type: 'sequential',
      params: { bs: 64 * 2 ** 20 },
      sizeBytes,
      createOptions: options,
    });
    c.fsckAtEnd = false;
    const row = metricsRow(c, runCase(c));
    expect(row.guest_written_bytes).toBe(sizeBytes);
    expect(row.image_file_size_bytes).toBe(fully);
    // One L2 table (one cluster of cluster/8 entries) per cluster²/8 bytes of guest.
    const cluster = Number(options.cluster_size ?? 65536);
    expect(row.metadata_footprint_bytes_l2).toBe((sizeBytes / ((cluster * cluster) / 8)) * cluster);
    expect(row.metadata_footprint_bytes).toBeLessThanOrEqual(fully - sizeBytes);
  });
});
