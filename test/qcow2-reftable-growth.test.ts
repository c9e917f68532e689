import { expect, it } from 'vitest';
import { describeWithQemu } from './helpers/qemu.ts';
import {
  compareWithQemuIo,
  firstByteDifference,
  qemuImgCheckJson,
} from './helpers/qemu-compare.ts';

function reftableField(image: Uint8Array): { offset: number; clusters: number } {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  return { offset: Number(view.getBigUint64(48)), clusters: view.getUint32(56) };
}

describeWithQemu('qcow2: refcount-table growth follows QEMU', () => {
  it('512-byte clusters, 160 × 64 KiB writes past 8 MiB of host file', () => {
    const script: string[] = [];
    for (let i = 0; i < 160; i++) script.push(`write -P ${(i % 200) + 1} ${i * 64}k 64k`);
    const run = compareWithQemuIo({
      format: 'qcow2',
      createOptions: 'cluster_size=512',
      sizeBytes: '64M',
      script,
      cacheMode: 'writeback',
    });
    expect(run.lab.status, run.lab.stderr).toBe(0);
    const qemu = reftableField(run.qemu.image);
    // The table moved past every covered range and grew to 2 clusters (qemu-formats.md §2.6).
    expect(qemu).toEqual({ offset: 0x820200, clusters: 2 });
    expect(reftableField(run.lab.image)).toEqual(qemu);
    expect(firstByteDifference(run.qemu.image, run.lab.image)).toBe(-1);
    const check = qemuImgCheckJson(run.lab.imagePath, 'qcow2');
    expect(check.status, check.stderr).toBe(0);
  });
});
