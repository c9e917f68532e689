import { describe, expect, it } from 'vitest';
import { Rng } from '../src/util/rng.ts';

describe('Rng (seeded xoshiro128**)', () => {
  it('the same seed gives the same stream; different seeds differ', () => {
    const a = new Rng(123);
    const b = new Rng(123);
    const c = new Rng(124);
    const sa = Array.from({ length: 100 }, () => a.nextU32());
    expect(Array.from({ length: 100 }, () => b.nextU32())).toEqual(sa);
    expect(Array.from({ length: 100 }, () => c.nextU32())).not.toEqual(sa);
  });

  it('nextInt stays in range, including bounds past 2^32 (1 PiB offsets)', () => {
    const rng = new Rng(1);
    const PiB = 2 ** 50;
    let max = 0;
    let outOfRange = 0;
    for (let i = 0; i < 20_000; i++) {
      const v = rng.nextInt(PiB);
      if (!Number.isInteger(v) || v < 0 || v >= PiB) outOfRange++;
      max = Math.max(max, v);
    }
    expect(outOfRange).toBe(0);
    // Values actually use the range above 2^32.
    expect(max).toBeGreaterThan(2 ** 49);
    let small = 0;
    for (let i = 0; i < 1000; i++) small = Math.max(small, rng.nextInt(7));
    expect(small).toBe(6);
    expect(rng.nextInt(0)).toBe(0);
  });

  it('nextInt is close to uniform for a small bound', () => {
    const rng = new Rng(99);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const v = rng.nextInt(10);
      counts[v] = (counts[v] ?? 0) + 1;
    }
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(600);
  });

  it('nextFloat is in [0, 1) and fork gives an independent reproducible stream', () => {
    const rng = new Rng(5);
    let bad = 0;
    for (let i = 0; i < 1000; i++) {
      const f = rng.nextFloat();
      if (!(f >= 0 && f < 1)) bad++;
    }
    expect(bad).toBe(0);
    const f1 = new Rng(5).fork();
    const f2 = new Rng(5).fork();
    expect(f1.nextU32()).toBe(f2.nextU32());
  });
});
