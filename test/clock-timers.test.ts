import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';

describe('SimClock timers', () => {
  it('advanceNs never fires timers; runDueTimers fires the due ones, earliest first', () => {
    const clock = new SimClock();
    const fired: string[] = [];
    clock.schedule(300, () => fired.push('c'));
    clock.schedule(100, () => fired.push('a'));
    clock.schedule(200, () => fired.push('b'));
    clock.schedule(1000, () => fired.push('late'));
    clock.advanceNs(500);
    expect(fired).toEqual([]);
    expect(clock.runDueTimers()).toBe(3);
    expect(fired).toEqual(['a', 'b', 'c']);
    expect(clock.nextDeadlineNs()).toBe(1000);
  });

  it('a cancelled timer does not fire', () => {
    const clock = new SimClock();
    let fired = false;
    const handle = clock.schedule(10, () => {
      fired = true;
    });
    expect(clock.isPending(handle)).toBe(true);
    clock.cancel(handle);
    expect(clock.isPending(handle)).toBe(false);
    clock.advanceNs(20);
    expect(clock.runDueTimers()).toBe(0);
    expect(fired).toBe(false);
  });

  it('sleepNs fires each timer at its deadline, and timers it arms inside the interval', () => {
    const clock = new SimClock();
    const at: number[] = [];
    clock.schedule(5_000_000_000, () => {
      at.push(clock.nowNs());
      clock.advanceNs(1000); // the timer's own I/O
      clock.schedule(clock.nowNs() + 1_000_000, () => at.push(clock.nowNs()));
    });
    clock.sleepNs(6_000_000_000);
    expect(at).toEqual([5_000_000_000, 5_001_001_000]);
    expect(clock.nowNs()).toBe(6_000_000_000);
  });

  it('time never goes backwards', () => {
    const clock = new SimClock();
    expect(() => clock.advanceNs(-1)).toThrow(/backwards/);
    expect(() => clock.advanceNs(Number.NaN)).toThrow(/backwards/);
  });
});
