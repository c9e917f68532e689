import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { Rng } from '../src/util/rng.ts';
import { plainBlockDevice } from './helpers/plain-device.ts';
import { expectSameDeviceBytes, expectSameRun, loggedQcow2 } from './helpers/same-run.ts';

const TiB = 2 ** 40;

interface Run {
  log: string[];
  nowNs: number;
  memory: MemoryDevice;
}

/**
 * Random 4 KiB writes over a whole 1 TiB image (more L2 slices than the 32 MiB cache holds, so
 * dirty slices are evicted and written back behind the refblocks), zero writes, discards (which
 * free clusters and make the refblock cache depend on the L2 cache), an internal snapshot (after
 * which writes copy shared L2 tables) and guest flushes.
 */
function run(patched: boolean, seed: number): Run {
  const memory = new MemoryDevice(patched ? {} : { compactBytes: 0 });
  // Without writePatched every write-back reaches the device as the whole table, as before the
  // cache described write-backs by what changed.
  const { log, clock, open } = loggedQcow2(memory, {
    costModel: 'hdd',
    ...(patched ? {} : { below: plainBlockDevice(memory) }),
  });
  const image = open();
  const rng = new Rng(seed);
  const block = new Uint8Array(4096);
  const written: number[] = [];
  for (let i = 0; i < 12_000; i++) {
    const roll = rng.nextInt(1000);
    const offset = rng.nextInt(TiB / 4096) * 4096;
    if (i === 6000) {
      image.snapshots?.create('s1', { dateSec: 1, dateNsec: 0 });
    } else if (roll < 15 && written.length > 0) {
      const at = written[rng.nextInt(written.length)] as number;
      image.discard(Math.floor(at / 65536) * 65536, 65536);
    } else if (roll < 30 && written.length > 0) {
      image.writeZeroes(written[rng.nextInt(written.length)] as number, 4096, { mayUnmap: true });
    } else if (roll < 40) {
      image.flush();
    } else {
      // Half the writes go back to clusters already written (in place, or COW after the snapshot).
      const at =
        written.length > 0 && roll % 2 === 0
          ? (written[rng.nextInt(written.length)] as number)
          : offset;
      block.fill(1 + (i % 255));
      image.write(at, block);
      written.push(at);
    }
  }
  image.close();
  return { log, nowNs: clock.nowNs(), memory };
}

describe('qcow2 write-backs described by what changed', () => {
  it('issue the same host I/O, take the same simulated time and leave the same image bytes', () => {
    const patched = run(true, 5);
    const plain = run(false, 5);
    expectSameRun(patched, plain);
    expectSameDeviceBytes(patched.memory, plain.memory);
    // The run did evict dirty L2 slices, which is what the patched write-backs are about.
    expect(
      patched.log.filter((r) => r.includes('"kind":"l2"') && r.includes('"write"')).length,
    ).toBeGreaterThan(3000);
  });
});
