/**
 * QEMU 7.2's own behaviours that a crash state can expose: orderings the real QEMU leaves
 * unprotected, and one data quirk (qemu-formats.md §1.5, §2.8, §6), which the lab's engines
 * reproduce faithfully. A failing state matching one of these is a finding about QEMU, not a bug
 * in the lab's engine, and is counted apart from violations. Each has a precise test:
 *
 * - ordering windows are attributed causally: the state re-run with the lost writes of one kind
 *   (issued before the last surviving write) restored passes (`explainedBy`, see explorer.ts);
 * - the others by what was read: which value, and what the guest had done to that sector.
 *
 * Every one was checked against real QEMU (README "Crash consistency and fuzzing" has the
 * reproducers).
 */
import type { IoKind } from '../device/types.ts';
import { BACKING_PATTERN } from './crash-workloads.ts';
import { GARBAGE, type GuestModel } from './guest-model.ts';
import type { StateFailure } from './verify-state.ts';

/** Kinds restored together when explaining a failure (guest data and its COW/zero fill). */
export const EXPLANATION_GROUPS: Readonly<Record<string, readonly IoKind[]>> = {
  header: ['header'],
  l1: ['l1'],
  l2: ['l2'],
  refblock: ['refblock'],
  reftable: ['reftable'],
  data: ['data', 'zero-fill'],
  snapshot: ['snapshot'],
  freelist: ['freelist'],
  bitmap: ['bitmap'],
};

export interface FailureContext {
  format: string;
  backing: boolean;
  /** Kind group whose restored writes make the state pass (undefined: none does). */
  explainedBy: string | undefined;
  failure: StateFailure;
  guest: GuestModel;
  flushRequest: number;
}

export interface QemuBehaviour {
  readonly name: string;
  /** Needs a crash (an ordering window) or shows on a live image too (a quirk). */
  readonly needsCrash: boolean;
  readonly describe: string;
  matches(c: FailureContext): boolean;
}

export const QEMU_BEHAVIOURS: readonly QemuBehaviour[] = [
  {
    name: 'qed-need-check-unflushed',
    needsCrash: true,
    describe:
      'QED sets NEED_CHECK with a header write that has no flush of its own (§1.5 crash-window ' +
      'note): if the drive writes a later L2 update back first, the image is left flagged clean ' +
      'with an L2 entry pointing at a cluster that was never written; no check runs on open',
    matches: (c) => c.format === 'qed' && c.explainedBy === 'header',
  },
  {
    name: 'qcow2-discarded-cluster-reused-before-l2',
    needsCrash: true,
    describe:
      'qcow2 frees a discarded cluster in its refcount cache at once and the next allocation ' +
      'writes new guest data into it before the L2 table that drops the old mapping is written ' +
      '(no flush between): after a crash the discarded range reads data written elsewhere',
    matches: (c) =>
      c.format === 'qcow2' &&
      c.failure.kind === 'data' &&
      c.failure.sector !== undefined &&
      c.failure.got !== undefined &&
      c.failure.got !== GARBAGE &&
      c.guest.discardedSince(c.failure.sector, c.flushRequest),
  },
  {
    name: 'qcow2-data-not-ordered-before-l2',
    needsCrash: true,
    describe:
      'qcow2 does not flush guest data before the L2 entry that maps it when no COW was needed ' +
      '(§2.8, §6.3): a surviving L2 entry can map a cluster whose data was lost',
    matches: (c) => c.format === 'qcow2' && c.explainedBy === 'data',
  },
  {
    name: 'qed-zero-cluster-partial-write-reads-backing',
    needsCrash: false,
    describe:
      'QED with a backing file: a partial write into a zero cluster (write -z) allocates the ' +
      'cluster and fills the rest from the backing file (§6.1), so sectors the guest zeroed read ' +
      'the backing data again, crash or no crash',
    matches: (c) =>
      c.format === 'qed' &&
      c.backing &&
      c.failure.kind === 'data' &&
      c.failure.got === BACKING_PATTERN &&
      c.failure.sector !== undefined &&
      c.guest.zeroWritten(c.failure.sector),
  },
];

/** The first behaviour that matches (the discard signature first: it is the more specific). */
export function matchQemuBehaviour(c: FailureContext): QemuBehaviour | undefined {
  return QEMU_BEHAVIOURS.find((b) => b.matches(c));
}
