import { describe, expect, it } from 'vitest';
import { survivorsFor } from '../src/device/crash-states.ts';
import { expectBytesEqual } from './helpers/bytes.ts';
import { expectedTwoEpochImage, twoEpochDevice } from './helpers/crash-fixtures.ts';

describe("crash policy 'random-subset' (seeded)", () => {
  it('applies the seed-chosen subset in issue order', () => {
    const seen = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const survivors = survivorsFor(4, { kind: 'random-subset', seed });
      expect([...survivors].sort((a, b) => a - b)).toEqual(survivors);
      seen.add(survivors.join(','));
      const image = twoEpochDevice().crash({ kind: 'random-subset', seed });
      expectBytesEqual(image.toBytes(), expectedTwoEpochImage(survivors), `seed ${seed}`);
    }
    // Different seeds reach different subsets (16 possible).
    expect(seen.size).toBeGreaterThan(8);
  });

  it('the same seed gives the same image', () => {
    const a = twoEpochDevice().crash({ kind: 'random-subset', seed: 1234 });
    const b = twoEpochDevice().crash({ kind: 'random-subset', seed: 1234 });
    expectBytesEqual(a.toBytes(), b.toBytes());
  });

  it('survival probability 0 loses everything; 1 keeps everything', () => {
    const device = twoEpochDevice();
    expectBytesEqual(
      device.crash({ kind: 'random-subset', seed: 5, survivalProbability: 0 }).toBytes(),
      expectedTwoEpochImage([]),
    );
    expectBytesEqual(
      device.crash({ kind: 'random-subset', seed: 5, survivalProbability: 1 }).toBytes(),
      expectedTwoEpochImage([0, 1, 2, 3]),
    );
  });
});
