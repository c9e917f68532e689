import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { entryOffset } from '../src/formats/qcow2/l2-entry.ts';
import { type LentPages, stopLendingL2CachePages } from '../src/formats/qcow2/lent-pages.ts';
import type { Qcow2Image } from '../src/formats/qcow2/qcow2-image.ts';
import { Rng } from '../src/util/rng.ts';
import { expectSameDeviceBytes, expectSameRun, loggedQcow2 } from './helpers/same-run.ts';

const TiB = 2 ** 40;
const MiB = 2 ** 20;

interface Run {
  log: string[];
  nowNs: number;
  memory: MemoryDevice;
  borrows: number;
  reclaims: number;
}

/**
 * Random writes of 1 to 32 sectors over a whole 1 TiB image (more L2 slices than the 32 MiB
 * cache holds, so dirty slices are evicted and re-read), half of them back into clusters already
 * written; zero writes, discards (which free clusters and drop cached slices), guest flushes, an
 * internal snapshot (shared L2 tables copied on write) deleted later (its L2 tables freed while
 * some of their slices stay cached, and their clusters reused), a check, a resize; and, between
 * requests, the image's own file node reading back the L2 slice of the last write while it is
 * dirty in the cache: the read must see the bytes QEMU's file would hold, not the cache's.
 */
function run(lend: boolean, seed: number, dataMode: 'store' | 'drop', requests: number): Run {
  const memory = new MemoryDevice({ dataMode });
  const { log, clock, open } = loggedQcow2(memory, { costModel: 'sata-ssd' });
  const image = open() as Qcow2Image;
  const s = image.s;
  // Lending is the default on this stack; the baseline turns it off.
  expect(s.file.lent).not.toBeNull();
  if (!lend) stopLendingL2CachePages(image);
  const rng = new Rng(seed);
  const written: number[] = [];
  for (let i = 0; i < requests; i++) {
    const roll = rng.nextInt(1000);
    const sectors = 1 + rng.nextInt(32);
    const offset = Math.min(rng.nextInt(TiB / 512) * 512, TiB - sectors * 512);
    const revisit = written.length > 0 ? (written[rng.nextInt(written.length)] as number) : 0;
    if (i === Math.floor(requests * 0.3)) {
      image.snapshots.create('s1', { dateSec: 1, dateNsec: 0 });
    } else if (i === Math.floor(requests * 0.65)) {
      image.snapshots.delete('s1');
    } else if (i === Math.floor(requests * 0.8)) {
      log.push(JSON.stringify(image.check('none')));
    } else if (i === Math.floor(requests * 0.85)) {
      image.resize(TiB + 64 * MiB);
    } else if (roll < 15 && written.length > 0) {
      image.discard(Math.floor(revisit / 65536) * 65536, 65536 * (1 + (roll % 3)));
    } else if (roll < 30 && written.length > 0) {
      image.writeZeroes(revisit, sectors * 512, { mayUnmap: roll < 22 });
    } else if (roll < 40) {
      image.flush();
    } else {
      const at = roll % 2 === 0 && written.length > 0 ? revisit : offset;
      image.write(at, new Uint8Array(sectors * 512).fill(1 + (i % 255)));
      written.push(at);
      if (roll % 10 === 1) {
        // The image's own file node reads the slice it just changed (dirty in the cache).
        const cluster = Math.floor(at / s.clusterSize);
        const l2Offset = entryOffset(s.l1, Math.floor(cluster / s.l2Size));
        const sliceOffset = l2Offset + 8 * ((cluster % s.l2Size) - (cluster % s.l2SliceSize));
        const bytes = s.file.read(sliceOffset, s.l2SliceBytes, 'l2');
        log.push(createHash('sha256').update(bytes).digest('hex'));
      }
    }
  }
  const lent = s.file.lent as LentPages | null;
  image.close();
  return {
    log,
    nowNs: clock.nowNs(),
    memory,
    borrows: lent?.borrows ?? 0,
    reclaims: lent?.reclaims ?? 0,
  };
}

describe('qcow2 L2 cache kept in the memory device’s pages', () => {
  for (const [dataMode, requests] of [
    ['drop', 14_000],
    ['store', 7000],
  ] as const) {
    it(`issues the same host I/O, takes the same time and leaves the same bytes (${dataMode})`, () => {
      const lent = run(true, 7, dataMode, requests);
      const copied = run(false, 7, dataMode, requests);
      expectSameRun(lent, copied);
      expectSameDeviceBytes(lent.memory, copied.memory);
      // Slices were lent, and operations had to take lent ones back first.
      expect(lent.borrows).toBeGreaterThan(requests / 40);
      expect(lent.reclaims).toBeGreaterThan(requests / 500);
      expect(copied.borrows).toBe(0);
    });
  }
});
