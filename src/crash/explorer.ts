/**
 * The crash-consistency explorer (CrashMonkey / dm-log-writes style, anchors.md §5): record a
 * workload's host I/O with its flush epochs, then for each epoch try crash states — every prefix
 * of the pending writes, then seeded random subsets and reorderings — and verify each one as a
 * rebooted guest would meet it (verify-state.ts).
 *
 * A failing state is explained by restoring the lost writes of one kind issued before the last
 * survivor: if the state then passes, that kind's missing barrier is the cause. Failures caused
 * by one of QEMU's own documented windows (qemu-windows.ts) are findings, counted apart from
 * violations. The first failures of each class are minimized (survivors removed one at a time
 * while the failure stays) and written as reproducers (reproducer.ts).
 */
import {
  applyCachedOp,
  type CachedOp,
  type CrashState,
  enumerateCrashStates,
} from '../device/crash-states.ts';
import type { MemoryDevice } from '../device/memory-device.ts';
import { Rng } from '../util/rng.ts';
import { EXPLANATION_GROUPS, matchQemuBehaviour, type QemuBehaviour } from './qemu-windows.ts';
import {
  type CrashRunConfig,
  lastDurableFlush,
  type RecordedRun,
  recordCrashRun,
} from './recorder.ts';
import { type StateFailure, verifyCrashState } from './verify-state.ts';

export interface ExploreOptions {
  /** Total crash states to verify (spread over the epochs). */
  maxStates: number;
  /** Seed of the random subsets and reorderings (default: the run's seed). */
  stateSeed?: number;
  /** Failures minimized and kept per class (default 2). */
  keepPerClass?: number;
}

export interface CrashFailure {
  /** 'violation' (a bug in the engine or design) or 'qemu' (QEMU's own behaviour). */
  class: 'violation' | 'qemu';
  behaviour: QemuBehaviour | undefined;
  /** Kind group whose restored writes make the state pass; undefined when none does. */
  explainedBy: string | undefined;
  failure: StateFailure;
  epoch: number;
  /** Surviving ops (epoch-relative indices) in the order applied, after minimization. */
  survivors: number[];
  /** Before minimization. */
  originalSurvivors: number[];
  description: string;
  /** Last guest flush durable in this state (request index, -1: none). */
  flushRequest: number;
  /** The crashed image (minimized state), bytes. */
  image: Uint8Array;
}

export interface ExploreResult {
  run: RecordedRun;
  statesExplored: number;
  epochs: number;
  hostOps: number;
  prefixStates: number;
  violations: number;
  qemuBehaviourStates: number;
  /** States per failure class key (`violation:data`, `qemu:qed-need-check-unflushed`). */
  byClass: Record<string, number>;
  /** Violating states per explanation (the kind whose lost writes caused it; `none`). */
  violationsByCause: Record<string, number>;
  /** Minimized examples, at most `keepPerClass` per class. */
  failures: CrashFailure[];
}

export function exploreCrashStates(config: CrashRunConfig, options: ExploreOptions): ExploreResult {
  const run = recordCrashRun(config);
  return exploreRecordedRun(run, options);
}

export function exploreRecordedRun(run: RecordedRun, options: ExploreOptions): ExploreResult {
  const history = run.history;
  const epochs = history.epochCount;
  const keep = options.keepPerClass ?? 2;
  const result: ExploreResult = {
    run,
    statesExplored: 0,
    epochs,
    hostOps: history.opCount,
    prefixStates: 0,
    violations: 0,
    qemuBehaviourStates: 0,
    byClass: {},
    violationsByCause: {},
    failures: [],
  };
  const flushByEpoch = new Map<number, number>();
  const flushFor = (epoch: number): number => {
    let f = flushByEpoch.get(epoch);
    if (f === undefined) {
      f = lastDurableFlush(run, epoch);
      flushByEpoch.set(epoch, f);
    }
    return f;
  };
  // Epochs in order on one working image; each epoch's budget is what is left spread over the
  // epochs left, so small epochs (few distinct states) hand their share on.
  const working = history.initial.clone();
  const seedRng = new Rng(options.stateSeed ?? run.config.seed);
  const last = epochs - 1;
  for (let epoch = 0; epoch <= last; epoch++) {
    const ops = history.epochOps(epoch);
    const epochSeed = seedRng.nextU32();
    const budget = Math.ceil((options.maxStates - result.statesExplored) / (last - epoch + 1));
    if (budget > 0) {
      const base = working.clone();
      const states = enumerateCrashStates(base, ops, {
        maxStates: budget,
        seed: epochSeed,
        includeFullPrefix: epoch === last,
        epoch,
      });
      for (const state of states) exploreState(state, base, ops);
    }
    if (epoch < last) for (const op of ops) applyCachedOp(working, op);
  }
  return result;

  function exploreState(state: CrashState, base: MemoryDevice, ops: readonly CachedOp[]): void {
    result.statesExplored++;
    if (isPrefix(state)) result.prefixStates++;
    const flushRequest = flushFor(state.epoch);
    const failure = verifyCrashState(run, state.device, flushRequest);
    if (!failure) return;
    const replay = (survivors: readonly number[]): StateFailure | undefined =>
      verifyCrashState(run, buildState(base, ops, survivors), flushRequest);
    const explainedBy = explain(ops, state.survivors, replay);
    const behaviour = matchQemuBehaviour({
      format: run.config.format,
      backing: run.config.backing,
      explainedBy,
      failure,
      guest: run.guest,
      flushRequest,
    });
    const cls = behaviour ? 'qemu' : 'violation';
    const key = behaviour ? `qemu:${behaviour.name}` : `violation:${failure.kind}`;
    if (behaviour) result.qemuBehaviourStates++;
    else {
      result.violations++;
      const cause = explainedBy ?? 'none';
      result.violationsByCause[cause] = (result.violationsByCause[cause] ?? 0) + 1;
    }
    result.byClass[key] = (result.byClass[key] ?? 0) + 1;
    if (result.failures.filter((f) => classKey(f) === key).length >= keep) return;
    const minimal = minimize(state.survivors, failure, replay);
    const finalFailure = replay(minimal) ?? failure;
    result.failures.push({
      class: cls,
      behaviour,
      explainedBy,
      failure: finalFailure,
      epoch: state.epoch,
      survivors: minimal,
      originalSurvivors: [...state.survivors],
      description: state.description,
      flushRequest,
      image: buildState(base, ops, minimal).toBytes(),
    });
  }
}

export function classKey(f: CrashFailure): string {
  return f.behaviour ? `qemu:${f.behaviour.name}` : `violation:${f.failure.kind}`;
}

function isPrefix(state: CrashState): boolean {
  return state.survivors.every((v, i) => v === i);
}

function buildState(
  base: MemoryDevice,
  ops: readonly CachedOp[],
  survivors: readonly number[],
): MemoryDevice {
  const device = base.clone();
  for (const i of survivors) applyCachedOp(device, ops[i] as CachedOp);
  return device;
}

/**
 * The kind group whose lost writes (issued before the last survivor) make the state pass when
 * restored in issue order; undefined when no single group does.
 */
function explain(
  ops: readonly CachedOp[],
  survivors: readonly number[],
  replay: (survivors: readonly number[]) => StateFailure | undefined,
): string | undefined {
  if (survivors.length === 0) return undefined;
  const last = Math.max(...survivors);
  const kept = new Set(survivors);
  for (const [group, kinds] of Object.entries(EXPLANATION_GROUPS)) {
    const lost: number[] = [];
    for (let i = 0; i < last; i++) {
      const op = ops[i] as CachedOp;
      if (!kept.has(i) && op.op !== 'truncate' && kinds.includes(op.kind)) lost.push(i);
    }
    if (lost.length === 0) continue;
    const restored = [...survivors, ...lost].sort((a, b) => a - b);
    if (!replay(restored)) return group;
  }
  return undefined;
}

/** Removes survivors one at a time (latest first) while a failure of the same kind remains. */
function minimize(
  survivors: readonly number[],
  failure: StateFailure,
  replay: (survivors: readonly number[]) => StateFailure | undefined,
): number[] {
  let current = [...survivors];
  const budget = 256;
  let tries = 0;
  for (let i = current.length - 1; i >= 0 && tries < budget; i--) {
    const candidate = current.filter((_, j) => j !== i);
    tries++;
    const f = replay(candidate);
    if (f && f.kind === failure.kind) current = candidate;
  }
  return current;
}
