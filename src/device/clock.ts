/**
 * Simulated time. Cost models advance it as they charge I/O; nothing in the lab reads the wall
 * clock for simulated figures, so a rerun anywhere gives the same numbers.
 *
 * Timers (QED's need-check timer) are not fired from inside `advanceNs`: a cost model advances the
 * clock in the middle of an engine's request, and QEMU's timers only run when the coroutine that
 * issued the I/O yields back to the main loop. Whoever plays the main loop (the `io` command, the
 * bench runner) calls `runDueTimers()` between guest requests, and `sleepNs()` for idle time.
 */
export interface TimerHandle {
  readonly id: number;
}

interface PendingTimer {
  id: number;
  deadlineNs: number;
  callback: () => void;
}

export class SimClock {
  #nowNs = 0;
  #nextId = 1;
  #timers: PendingTimer[] = [];
  /**
   * No timer is due before this (the earliest deadline, Infinity when none): whoever plays the main
   * loop calls runDueTimers between every two requests, and nearly always nothing is due.
   */
  #earliestNs = Number.POSITIVE_INFINITY;

  /** Simulated nanoseconds since the clock was created. */
  nowNs(): number {
    return this.#nowNs;
  }

  /** Charge simulated time. Never fires timers (see the module comment). */
  advanceNs(ns: number): void {
    if (!(ns >= 0)) throw new Error(`clock cannot go backwards (${ns} ns)`);
    this.#nowNs += ns;
  }

  /** Schedule `callback` at absolute simulated time `deadlineNs`. */
  schedule(deadlineNs: number, callback: () => void): TimerHandle {
    const timer = { id: this.#nextId++, deadlineNs, callback };
    this.#timers.push(timer);
    if (deadlineNs < this.#earliestNs) this.#earliestNs = deadlineNs;
    return { id: timer.id };
  }

  cancel(handle: TimerHandle | undefined): void {
    if (!handle) return;
    this.#timers = this.#timers.filter((t) => t.id !== handle.id);
    this.#earliestNs = this.nextDeadlineNs() ?? Number.POSITIVE_INFINITY;
  }

  isPending(handle: TimerHandle | undefined): boolean {
    return handle !== undefined && this.#timers.some((t) => t.id === handle.id);
  }

  /** Earliest pending deadline, or undefined when no timer is armed. */
  nextDeadlineNs(): number | undefined {
    let best: number | undefined;
    for (const t of this.#timers)
      if (best === undefined || t.deadlineNs < best) best = t.deadlineNs;
    return best;
  }

  /** Fire every timer whose deadline has passed, earliest first. Returns how many fired. */
  runDueTimers(): number {
    if (this.#nowNs < this.#earliestNs) return 0;
    let fired = 0;
    for (;;) {
      let due: PendingTimer | undefined;
      for (const t of this.#timers) {
        if (t.deadlineNs <= this.#nowNs && (!due || t.deadlineNs < due.deadlineNs)) due = t;
      }
      if (!due) {
        this.#earliestNs = this.nextDeadlineNs() ?? Number.POSITIVE_INFINITY;
        return fired;
      }
      const firing = due;
      this.#timers = this.#timers.filter((t) => t !== firing);
      firing.callback();
      fired++;
    }
  }

  /**
   * Idle for `ns`: advance to each timer deadline inside the interval, fire it (its own I/O
   * charges time too), then continue to the end of the interval.
   */
  sleepNs(ns: number): void {
    const endNs = this.#nowNs + ns;
    for (;;) {
      const next = this.nextDeadlineNs();
      if (next === undefined || next > endNs) break;
      if (next > this.#nowNs) this.#nowNs = next;
      this.runDueTimers();
    }
    if (endNs > this.#nowNs) this.#nowNs = endNs;
  }
}
