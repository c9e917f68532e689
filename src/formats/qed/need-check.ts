import type { TimerHandle } from '../../device/clock.ts';
import type { QedState } from './state.ts';

/**
 * QED's need-check timer (QEMU_CLOCK_VIRTUAL, 5 s; the clean-timer variant changes it): armed when an allocating request completes
 * with no other waiting and NEED_CHECK set, cancelled when the next allocating request starts.
 * When it fires: flush, clear the flag, write the header sector, flush again.
 *
 * Arming and cancelling happen on every allocating write, so they must be cheap: the logical
 * state is a deadline, and at most one clock timer is pending. A cancelled or superseded clock
 * timer fires as a no-op and re-arms itself for the current deadline if there is one.
 */
export class NeedCheckTimer {
  readonly #state: QedState;
  /** Deadline of the armed timer in simulated ns, or -1 when not armed. */
  #deadlineNs = -1;
  #pending: TimerHandle | undefined;
  #pendingDeadlineNs = -1;
  /** How often the timer cleared the flag (for tests and reports). */
  firedCount = 0;

  constructor(state: QedState) {
    this.#state = state;
  }

  get armed(): boolean {
    return this.#deadlineNs >= 0;
  }

  get deadlineNs(): number | undefined {
    return this.#deadlineNs >= 0 ? this.#deadlineNs : undefined;
  }

  arm(): void {
    const clock = this.#state.clock;
    this.#deadlineNs = clock.nowNs() + this.#state.policy.cleanTimerNs;
    if (this.#pending === undefined) this.#schedule(this.#deadlineNs);
  }

  cancel(): void {
    this.#deadlineNs = -1;
  }

  /** Drain: a pending timer fires at once (QEMU's bdrv_qed_co_drain_begin). */
  drain(): void {
    if (!this.armed) return;
    this.#deadlineNs = -1;
    this.fire();
  }

  /** Stop for good (close or power cut): nothing fires afterwards. */
  dispose(): void {
    this.#deadlineNs = -1;
    if (this.#pending) this.#state.clock.cancel(this.#pending);
    this.#pending = undefined;
  }

  /** qed_need_check_timer_entry. Allocating writes are synchronous, so none can be active. */
  fire(): void {
    const state = this.#state;
    this.firedCount++;
    state.freeSpace?.beforeSync();
    if (!state.readOnly) state.device.flush();
    // QEMU clears the in-memory flag even when the header write fails on a read-only node.
    state.setNeedCheck(false);
    if (!state.readOnly) {
      state.writeHeaderSector();
      state.device.flush();
    }
  }

  #schedule(deadlineNs: number): void {
    this.#pendingDeadlineNs = deadlineNs;
    this.#pending = this.#state.clock.schedule(deadlineNs, this.#onClock);
  }

  readonly #onClock = (): void => {
    this.#pending = undefined;
    if (this.#deadlineNs < 0) return;
    if (this.#deadlineNs > this.#pendingDeadlineNs) {
      this.#schedule(this.#deadlineNs);
      return;
    }
    this.#deadlineNs = -1;
    this.fire();
  };
}
