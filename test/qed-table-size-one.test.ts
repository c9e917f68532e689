import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseQemuIoScript, QemuIoSession } from '../src/cli/qemu-io-script.ts';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { qedDriver } from '../src/formats/qed/qed-format.ts';
import { readSpecImage } from './helpers/qed-spec-reader.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir, runLabCli } from './helpers/qemu-compare.ts';
import { randomQemuIoScript } from './helpers/random-qemu-io-script.ts';

/**
 * table_size = 1: QEMU 7.2 creates such images but refuses to open them ("QED table offset is
 * invalid", its overflow test uses <=), so the oracle here is the spec, read independently.
 */
describe('QED with table_size=1 follows the spec', () => {
  for (const cs of [4096, 65536, 1 << 20]) {
    it(`cluster size ${cs}: every written pattern reads back through a spec-only reader`, () => {
      const clock = new SimClock();
      const memory = new MemoryDevice();
      const entries = cs / 8;
      const sizeBytes = Math.min(entries * entries * cs, 2 ** 40);
      qedDriver.create({
        device: memory,
        sizeBytes,
        options: { cluster_size: String(cs), table_size: '1' },
      });
      const image = qedDriver.open({
        device: new MeteredDevice(memory, { clock }),
        readOnly: false,
        forCheck: false,
        clock,
      });
      const { commands, expected } = randomQemuIoScript({
        seed: cs,
        sizeBytes,
        clusterSizeBytes: cs,
        l2CoverageBytes: entries * cs,
        count: 40,
        maxClusters: cs >= 1 << 20 ? 1 : 3,
      });
      new QemuIoSession(image, clock, { writethrough: false }).runAll(
        parseQemuIoScript(commands.join('\n')),
      );
      image.close();
      const spec = readSpecImage(memory.toBytes());
      expect(spec.tableSize).toBe(1);
      expect(spec.features & 2).toBe(0); // closed cleanly
      for (const [sector, pattern] of expected) {
        const got = spec.read(sector * 512, 512);
        expect(
          got.every((b) => b === pattern),
          `sector ${sector}`,
        ).toBe(true);
      }
      // Every table and data cluster is distinct, cluster-aligned and inside the file.
      const clusters = [spec.l1Offset, ...spec.l2Tables(), ...spec.dataClusters()];
      expect(new Set(clusters).size).toBe(clusters.length);
      for (const c of clusters) {
        expect(c % cs).toBe(0);
        expect(c + cs).toBeLessThanOrEqual(memory.size());
      }
      const reopened = qedDriver.open({
        device: new MeteredDevice(memory, { clock }),
        readOnly: true,
        forCheck: true,
        clock,
      });
      const result = reopened.check?.('none');
      expect(result?.corruptions).toBe(0);
      expect(result?.leaks).toBe(0);
    });
  }
});

describeWithQemu('QED table_size=1 in QEMU 7.2', () => {
  it('qemu-img creates it, qemu-io refuses to open it, the lab opens it', () => {
    const dir = makeTempDir();
    const file = path.join(dir, 't1.qed');
    const created = spawnSync('qemu-img', [
      'create',
      '-q',
      '-f',
      'qed',
      '-o',
      'table_size=1',
      file,
      '1G',
    ]);
    expect(created.status).toBe(0);
    const qemu = spawnSync('qemu-io', ['-f', 'qed', '-c', 'read 0 4k', file], { encoding: 'utf8' });
    expect(qemu.status).not.toBe(0);
    expect(qemu.stderr).toContain('QED table offset is invalid');
    const lab = runLabCli([
      'io',
      '-q',
      '-f',
      'qed',
      '-c',
      'write -P 1 0 4k',
      '-c',
      'read -P 1 0 4k',
      file,
    ]);
    expect(lab.status, lab.stderr).toBe(0);
  });
});
