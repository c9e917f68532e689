import { expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { Rng } from '../src/util/rng.ts';

/**
 * runDueTimers returns at once while no timer can be due; that shortcut must never hold back a
 * due timer. Random schedules, cancels (also of fired and cancelled timers), timers arming
 * timers and clock advances fire exactly what a clock that scans every pending timer on every
 * call fires, in the same order, with the same counts.
 */
class ScanningClock {
  nowNs = 0;
  timers: Array<{ label: number; deadlineNs: number; callback: () => void }> = [];

  schedule(label: number, deadlineNs: number, callback: () => void): void {
    this.timers.push({ label, deadlineNs, callback });
  }

  cancel(label: number): void {
    this.timers = this.timers.filter((t) => t.label !== label);
  }

  runDueTimers(): number {
    let fired = 0;
    for (;;) {
      let due: (typeof this.timers)[number] | undefined;
      for (const t of this.timers) {
        if (t.deadlineNs <= this.nowNs && (!due || t.deadlineNs < due.deadlineNs)) due = t;
      }
      if (!due) return fired;
      const firing = due;
      this.timers = this.timers.filter((t) => t !== firing);
      firing.callback();
      fired++;
    }
  }
}

it('fires what a scan of every pending timer fires, in the same order', () => {
  const rng = new Rng(31);
  const clock = new SimClock();
  const model = new ScanningClock();
  const handles: Array<{ id: number }> = [];
  const firedByClock: number[] = [];
  const firedByModel: number[] = [];
  // A timer whose label is 3 mod 7 arms a follow-up from its callback (as the need-check timer
  // re-arms itself), at a delay drawn when it was scheduled, on each clock alike.
  const delayOf: number[] = [];
  const followUpOf: number[] = [];
  let labels = 0;
  const clockSchedule = (deadlineNs: number): number => {
    const label = labels++;
    delayOf[label] = rng.nextInt(3) * 1000;
    handles[label] = clock.schedule(deadlineNs, () => {
      firedByClock.push(label);
      if (label % 7 === 3) {
        followUpOf[label] = clockSchedule(clock.nowNs() + (delayOf[label] as number));
      }
    });
    return label;
  };
  const modelCallback = (label: number) => (): void => {
    firedByModel.push(label);
    if (label % 7 === 3) {
      const followUp = followUpOf[label] as number;
      model.schedule(followUp, model.nowNs + (delayOf[label] as number), modelCallback(followUp));
    }
  };
  let runs = 0;
  for (let step = 0; step < 5000; step++) {
    const choice = rng.nextInt(10);
    if (choice < 4) {
      const deadlineNs = clock.nowNs() + rng.nextInt(20) * 500;
      const label = clockSchedule(deadlineNs);
      model.schedule(label, deadlineNs, modelCallback(label));
    } else if (choice < 5 && labels > 0) {
      const label = rng.nextInt(labels);
      clock.cancel(handles[label]);
      model.cancel(label);
    } else if (choice < 8) {
      const ns = rng.nextInt(4) * 700;
      clock.advanceNs(ns);
      model.nowNs += ns;
    } else {
      const count = clock.runDueTimers();
      expect(model.runDueTimers()).toBe(count);
      expect(firedByModel).toEqual(firedByClock);
      runs++;
    }
  }
  expect(runs).toBeGreaterThan(500);
  expect(firedByClock.length).toBeGreaterThan(500);
});
