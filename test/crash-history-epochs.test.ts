import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { VolatileCacheDevice } from '../src/device/volatile-cache-device.ts';
import { Rng } from '../src/util/rng.ts';
import { expectBytesEqual } from './helpers/bytes.ts';

/** A random op stream with flushes, recorded with its history. */
function recordedRun(seed: number): { device: VolatileCacheDevice; snapshots: Uint8Array[] } {
  const rng = new Rng(seed);
  const base = MemoryDevice.fromBytes(new Uint8Array(20_000).fill(0x11));
  const device = new VolatileCacheDevice(base, { recordHistory: true });
  // What the guest-visible image was at each completed flush (epoch boundary).
  const snapshots: Uint8Array[] = [base.toBytes()];
  for (let i = 0; i < 400; i++) {
    const pick = rng.nextInt(20);
    const offset = rng.nextInt(60_000);
    if (pick < 12) {
      device.write(offset, new Uint8Array(1 + rng.nextInt(3000)).fill(1 + rng.nextInt(250)), 'l2');
    } else if (pick < 15) {
      device.zeroRange(offset, 1 + rng.nextInt(9000), 'zero-fill');
    } else if (pick < 16) {
      device.truncate(rng.nextInt(70_000));
    } else {
      const before = device.flushCount;
      device.flush();
      if (device.flushCount > before) snapshots.push(device.read(0, device.size(), 'l2'));
    }
  }
  return { device, snapshots };
}

describe('crash states across the recorded history', () => {
  it('each epoch starts from exactly the image the guest saw at the flush that opened it', () => {
    const { device, snapshots } = recordedRun(21);
    const history = device.history;
    if (!history) throw new Error('history not recorded');
    expect(history.epochCount).toBe(snapshots.length);
    let epochsSeen = 0;
    for (const state of history.crashStates({ maxStatesPerEpoch: 3, seed: 4 })) {
      if (state.description.endsWith(`prefix 0/${state.pendingCount}`)) {
        expectBytesEqual(
          state.device.toBytes(),
          snapshots[state.epoch] as Uint8Array,
          `epoch ${state.epoch}`,
        );
        expectBytesEqual(
          history.durableAtEpoch(state.epoch).toBytes(),
          snapshots[state.epoch] as Uint8Array,
        );
        epochsSeen++;
      }
    }
    expect(epochsSeen).toBe(snapshots.length);
  });

  it('the last epoch with every op surviving is what the running device reads', () => {
    const { device } = recordedRun(22);
    const history = device.history;
    if (!history) throw new Error('history not recorded');
    const last = history.epochCount - 1;
    const states = [
      ...history.crashStates({ maxStatesPerEpoch: 1000, epochs: [last], reorder: false }),
    ];
    const n = history.epochOps(last).length;
    const full = states.find((s) => s.description === `epoch ${last}: prefix ${n}/${n}`);
    expectBytesEqual(
      full?.device.toBytes() ?? new Uint8Array(0),
      device.read(0, device.size(), 'l2'),
    );
  });

  it('the same seed walks the same states', () => {
    const a = recordedRun(23).device.history;
    const b = recordedRun(23).device.history;
    const walk = (h: typeof a) =>
      [...(h?.crashStates({ maxStatesPerEpoch: 4, seed: 8 }) ?? [])].map((s) => s.description);
    expect(walk(a)).toEqual(walk(b));
    expect(walk(a).length).toBeGreaterThan(10);
  });
});
