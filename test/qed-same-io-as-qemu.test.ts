import { expect, it } from 'vitest';
import { describeWithQemu } from './helpers/qemu.ts';
import {
  compareWithQemuIo,
  firstByteDifference,
  firstIoDifference,
} from './helpers/qemu-compare.ts';
import { randomQemuIoScript } from './helpers/random-qemu-io-script.ts';

/**
 * The same qemu-io script run by qemu-io 7.2 and by `qedlab io`: the image files end up
 * byte-identical, and the lab issues the same host writes, zero ranges and flushes, in the same
 * order, as strace saw QEMU issue.
 */
const GEOMETRIES = [
  { name: 'defaults, 1 TiB', size: 2 ** 40, cs: 65536, ts: 4, options: '' },
  { name: '4 KiB clusters, 16 GiB', size: 2 ** 34, cs: 4096, ts: 4, options: 'cluster_size=4k' },
  {
    name: '4 KiB clusters, table_size 2',
    size: 2 ** 32,
    cs: 4096,
    ts: 2,
    options: 'cluster_size=4k,table_size=2',
  },
  {
    name: '1 MiB clusters, table_size 4, 64 TiB',
    size: 2 ** 46,
    cs: 2 ** 20,
    ts: 4,
    options: 'cluster_size=1M',
    regions: 1,
    maxClusters: 1,
  },
  {
    name: '4 KiB clusters, table_size 16, 256 GiB (its maximum)',
    size: 2 ** 38,
    cs: 4096,
    ts: 16,
    options: 'cluster_size=4k,table_size=16',
  },
  {
    name: '64 KiB clusters, 64 TiB (the default maximum)',
    size: 2 ** 46,
    cs: 65536,
    ts: 4,
    options: '',
  },
  {
    name: '16 KiB clusters, table_size 8',
    size: 2 ** 36,
    cs: 16384,
    ts: 8,
    options: 'cluster_size=16k,table_size=8',
  },
] as const;

describeWithQemu('QED: same bytes and same host I/O as qemu-io', () => {
  GEOMETRIES.forEach((g, index) => {
    for (const cacheMode of ['writeback', 'writethrough'] as const) {
      it(`${g.name}, -t ${cacheMode}`, () => {
        const { commands } = randomQemuIoScript({
          seed: 1000 + index,
          sizeBytes: g.size,
          clusterSizeBytes: g.cs,
          l2CoverageBytes: ((g.cs * g.ts) / 8) * g.cs,
          count: 40,
          // 1 MiB clusters: one region and one-cluster writes keep the files (and fdatasync) small.
          regions: 'regions' in g ? g.regions : 3,
          maxClusters: 'maxClusters' in g ? g.maxClusters : 3,
        });
        const run = compareWithQemuIo({
          format: 'qed',
          ...(g.options ? { createOptions: g.options } : {}),
          sizeBytes: g.size,
          script: commands,
          cacheMode,
        });
        expect(run.qemu.status, run.qemu.stderr).toBe(0);
        expect(run.lab.status, run.lab.stderr).toBe(0);
        const difference = firstIoDifference(run.qemu.ops, run.lab.ops);
        expect(difference?.context).toBeUndefined();
        expect(run.lab.ops.length).toBeGreaterThan(commands.length / 2);
        expect(firstByteDifference(run.qemu.image, run.lab.image)).toBe(-1);
      });
    }
  });
});
