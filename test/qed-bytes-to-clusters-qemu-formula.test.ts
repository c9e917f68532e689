import { expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { QedImage, qedDriver } from '../src/formats/qed/qed-format.ts';

/**
 * QEMU sizes requests and allocations with qed_bytes_to_clusters, whose ÷(cs−1) makes a run of
 * cs−1 or more clusters count one cluster more. The engine skips that division below cs−1
 * clusters; it must give QEMU's formula's answer for every length, on every cluster size QED
 * allows, right at the point where the two branches meet.
 */
function qemuFormula(bytes: number, clusterSizeBytes: number): number {
  return Math.floor(
    (Math.ceil(bytes / clusterSizeBytes) * clusterSizeBytes) / (clusterSizeBytes - 1),
  );
}

it('bytesToClustersQemu gives qed_bytes_to_clusters for every cluster size an image can have', () => {
  // Past 8 MiB clusters QEMU's (and the lab's) 64-bit maximum image size overflows to 0 with
  // table_size 1, and only bigger tables make it worse: no image with those clusters can be created.
  for (let shift = 12; shift <= 23; shift++) {
    const cs = 2 ** shift;
    const device = new MemoryDevice();
    qedDriver.create({
      device,
      sizeBytes: 16 * cs,
      options: { cluster_size: String(cs), table_size: '1' },
    });
    const image = new QedImage({ device, readOnly: true, forCheck: false, clock: new SimClock() });
    const state = image.state;
    const clusterCounts = [0, 1, 2, 3, 100, cs - 3, cs - 2, cs - 1, cs, cs + 1, 2 * cs - 2, 2 * cs];
    let checked = 0;
    for (const k of clusterCounts) {
      for (const delta of [-cs + 1, -1, 0, 1, cs - 1]) {
        const bytes = k * cs + delta;
        if (bytes < 0) continue;
        expect(state.bytesToClustersQemu(bytes), `cs ${cs}, ${bytes} bytes`).toBe(
          qemuFormula(bytes, cs),
        );
        checked++;
      }
    }
    // Where the branches meet, QEMU's formula does count one more cluster.
    expect(state.bytesToClustersQemu((cs - 1) * cs)).toBe(cs);
    expect(state.bytesToClustersQemu((cs - 2) * cs)).toBe(cs - 2);
    expect(checked).toBeGreaterThan(50);
    image.close();
  }
});
