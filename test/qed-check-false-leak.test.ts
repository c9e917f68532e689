import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { readSpecImage } from './helpers/qed-spec-reader.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir, qemuImgCheckJson, qemuIoRun, runLabCli } from './helpers/qemu-compare.ts';

/**
 * QEMU 7.2's qed_check maps byte offsets to cluster indices by dividing by (cs − 1), so once the
 * file passes cs − 1 clusters its bitmap has holes and it reports leaks on a consistent image.
 * The lab divides by cs: on the same image it reports no leak, and the image is shown to be
 * consistent independently (every cluster of the file is the header, the L1, an L2 or data).
 */
describeWithQemu('QED check has no false leaks (QEMU bug not reproduced)', () => {
  it('4 KiB clusters, 20 MiB written: qemu-img reports a leak, the lab does not', () => {
    const dir = makeTempDir();
    const file = path.join(dir, 'big.qed');
    expect(runLabCli(['create', '-f', 'qed', '-o', 'cluster_size=4k', file, '1G']).status).toBe(0);
    const commands = Array.from(
      { length: 20 },
      (_, i) => `write -P 0x${(i + 1).toString(16)} ${i}M 1M`,
    );
    const wrote = runLabCli([
      'io',
      '-q',
      '-f',
      'qed',
      '-t',
      'writeback',
      ...commands.flatMap((c) => ['-c', c]),
      file,
    ]);
    expect(wrote.status, wrote.stderr).toBe(0);

    const spec = readSpecImage(new Uint8Array(fs.readFileSync(file)));
    const referenced = new Set<number>([0]);
    const table = (offset: number) => {
      for (let c = 0; c < spec.tableSize; c++) referenced.add(offset / 4096 + c);
    };
    table(spec.l1Offset);
    for (const l2 of spec.l2Tables()) table(l2);
    for (const d of spec.dataClusters()) referenced.add(d / 4096);
    const fileClusters = fs.statSync(file).size / 4096;
    expect(fileClusters).toBeGreaterThan(4095); // past cs − 1 clusters: where QEMU's indices drift
    expect(referenced.size).toBe(fileClusters);

    const verified = qemuIoRun(
      file,
      'qed',
      commands.map((c) => c.replace('write', 'read')),
    );
    expect(verified.stdout).not.toMatch(/fail/i);

    const qemu = qemuImgCheckJson(file, 'qed');
    expect(qemu.json.leaks).toBe(1);
    expect(qemu.status).toBe(3);
    const lab = runLabCli(['check', '--output', 'json', file]);
    expect(lab.status).toBe(0);
    const json = JSON.parse(lab.stdout) as Record<string, unknown>;
    expect(json.leaks).toBeUndefined();
    expect(json['allocated-clusters']).toBe(qemu.json['allocated-clusters']);
    expect(json['total-clusters']).toBe(qemu.json['total-clusters']);
  });
});
