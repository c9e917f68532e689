import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { parseQemuIoScript, QemuIoSession } from '../src/cli/qemu-io-script.ts';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { QedImage } from '../src/formats/qed/qed-format.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import {
  firstByteDifference,
  firstIoDifference,
  type HostIoOp,
  makeTempDir,
  straceQemuIo,
} from './helpers/qemu-compare.ts';
import { randomQemuIoScript } from './helpers/random-qemu-io-script.ts';

/**
 * The simulation's own stack — a MemoryDevice under a MeteredDevice, where the engine keeps no
 * copy of its L2 tables and reads their entries from the device, and table updates reach the
 * device as patches — issues the same host I/O as qemu-io 7.2 and leaves the same bytes. (The
 * comparisons through `qedlab io` run on files, where tables are kept by the engine.)
 */
const GEOMETRIES = [
  { name: 'defaults, 1 TiB', size: 2 ** 40, cs: 65536, ts: 4, options: '' },
  {
    name: '16 KiB clusters, table_size 8',
    size: 2 ** 36,
    cs: 16384,
    ts: 8,
    options: 'cluster_size=16k,table_size=8',
  },
  { name: 'table_size 16, 1 PiB', size: 2 ** 50, cs: 65536, ts: 16, options: 'table_size=16' },
] as const;

function simulate(
  template: Uint8Array,
  script: readonly string[],
  writethrough: boolean,
): { ops: HostIoOp[]; image: Uint8Array; backedTables: number } {
  const memory = MemoryDevice.fromBytes(template);
  const clock = new SimClock();
  const ops: HostIoOp[] = [];
  const device = new MeteredDevice(memory, {
    clock,
    log: (r) => {
      if (r.op === 'write' || r.op === 'zero')
        ops.push({ op: r.op, offset: r.offset, length: r.length });
      else if (r.op === 'flush') ops.push({ op: 'flush' });
      else if (r.op === 'truncate') ops.push({ op: 'truncate', size: r.size });
    },
  });
  const image = new QedImage({ device, readOnly: false, forCheck: false, clock });
  const session = new QemuIoSession(image, clock, { writethrough });
  session.runAll(parseQemuIoScript(`${script.join('\n')}\n`));
  const state = image.state;
  let backedTables = 0;
  for (const key of state.l2Cache.keys()) {
    if (state.l2Cache.find(key)?.backed) backedTables++;
  }
  image.close();
  return { ops, image: memory.toBytes(), backedTables };
}

describeWithQemu('QED on the simulation stack: same bytes and host I/O as qemu-io', () => {
  GEOMETRIES.forEach((g, index) => {
    for (const cacheMode of ['writeback', 'writethrough'] as const) {
      it(`${g.name}, -t ${cacheMode}`, () => {
        const { commands } = randomQemuIoScript({
          seed: 2000 + index,
          sizeBytes: g.size,
          clusterSizeBytes: g.cs,
          l2CoverageBytes: ((g.cs * g.ts) / 8) * g.cs,
          count: 60,
          regions: 4,
          maxClusters: 3,
        });
        const dir = makeTempDir();
        const templatePath = path.join(dir, 'template.qed');
        const args = ['create', '-q', '-f', 'qed'];
        if (g.options) args.push('-o', g.options);
        const created = spawnSync('qemu-img', [...args, templatePath, String(g.size)], {
          encoding: 'utf8',
        });
        expect(created.status, created.stderr).toBe(0);
        const template = new Uint8Array(fs.readFileSync(templatePath));
        const qemuPath = path.join(dir, 'qemu.qed');
        fs.copyFileSync(templatePath, qemuPath);
        const qemu = straceQemuIo(qemuPath, 'qed', cacheMode, commands);
        expect(qemu.status, qemu.stderr).toBe(0);
        const lab = simulate(template, commands, cacheMode === 'writethrough');
        // The scenario exercises the device-backed tables.
        expect(lab.backedTables).toBeGreaterThan(0);
        const difference = firstIoDifference(qemu.ops, lab.ops);
        expect(difference?.context).toBeUndefined();
        expect(lab.ops.length).toBeGreaterThan(commands.length / 2);
        expect(firstByteDifference(qemu.image, lab.image)).toBe(-1);
      });
    }
  });
});
