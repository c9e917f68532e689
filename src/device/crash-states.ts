/**
 * Crash states: the durable images a power cut could leave behind a volatile write cache.
 *
 * Model (the one dm-log-writes and CrashMonkey use, anchors.md §5): a flush is a barrier. When
 * it completes, every operation issued before it is durable. Operations issued since the last
 * completed flush (the current *epoch*) are pending in the drive's cache; a power cut keeps any
 * subset of them, and the drive may have written them back in any order, so where two pending
 * operations overlap either one may win. Each surviving operation is atomic here (a torn
 * write is not modelled: the formats' metadata updates are single sectors or whole tables).
 *
 * - `all-lost`: only the durable image (every pending op lost).
 * - `prefix` k: the first k pending ops survive, in issue order (an in-order cache, or a log
 *   replayed up to entry k as `replay-log` does).
 * - `random-subset`: each pending op survives with a probability (seeded), applied in issue
 *   order.
 *
 * `enumerateCrashStates` yields, lazily: every prefix k = 0..n, then seeded random subsets and
 * reorderings, up to a bound. `OpHistory` keeps the whole operation stream with its flush
 * boundaries so an explorer can crash inside any epoch, not only the last; it replays epochs
 * forward onto one working image and gives each state a copy-on-write clone of it, so a state
 * costs the pages its own ops touch, not a copy of the image.
 */
import { Rng } from '../util/rng.ts';
import type { MemoryDevice } from './memory-device.ts';
import type { IoKind } from './types.ts';

/** One operation held in a volatile cache (data copied at issue time). */
export type CachedOp =
  | {
      readonly op: 'write';
      readonly offsetBytes: number;
      readonly data: Uint8Array;
      readonly kind: IoKind;
    }
  | {
      readonly op: 'zero';
      readonly offsetBytes: number;
      readonly lengthBytes: number;
      readonly kind: IoKind;
    }
  | { readonly op: 'truncate'; readonly sizeBytes: number };

export type CrashPolicy =
  | { readonly kind: 'all-lost' }
  | { readonly kind: 'prefix'; readonly count: number }
  | {
      readonly kind: 'random-subset';
      readonly seed: number;
      readonly survivalProbability?: number;
    };

export const CRASH_POLICY_NAMES = ['all-lost', 'prefix', 'random-subset'] as const;

export interface CrashState {
  /** Human-readable: which epoch, which ops survived. */
  readonly description: string;
  /** The durable image after the power cut (a fresh device, owned by the caller). */
  readonly device: MemoryDevice;
  /** Epoch the crash fell in (0 = before the first flush). */
  readonly epoch: number;
  /** Indices (within the epoch's pending ops) of the ops that survived, in the order applied. */
  readonly survivors: readonly number[];
  /** How many ops were pending. */
  readonly pendingCount: number;
}

export function applyCachedOp(device: MemoryDevice, op: CachedOp): void {
  switch (op.op) {
    case 'write':
      device.write(op.offsetBytes, op.data, op.kind);
      return;
    case 'zero':
      device.zeroRange(op.offsetBytes, op.lengthBytes, op.kind);
      return;
    case 'truncate':
      device.truncate(op.sizeBytes);
      return;
  }
}

/** The image a power cut leaves under `policy`, built on a clone of `durable`. */
export function crashImage(
  durable: MemoryDevice,
  pending: readonly CachedOp[],
  policy: CrashPolicy,
): MemoryDevice {
  return buildState(durable, pending, survivorsFor(pending.length, policy));
}

/** Indices of the pending ops that survive `policy`, in the order they are applied. */
export function survivorsFor(pendingCount: number, policy: CrashPolicy): number[] {
  switch (policy.kind) {
    case 'all-lost':
      return [];
    case 'prefix': {
      if (!Number.isInteger(policy.count) || policy.count < 0 || policy.count > pendingCount) {
        throw new RangeError(`prefix ${policy.count} out of range 0..${pendingCount}`);
      }
      return range(policy.count);
    }
    case 'random-subset':
      return randomSubset(new Rng(policy.seed), pendingCount, policy.survivalProbability ?? 0.5);
  }
}

export interface CrashEnumerationOptions {
  /** Stop after this many states (prefixes first). */
  maxStates: number;
  /** Seed of the random subsets and orderings. */
  seed?: number;
  /** Also yield reordered subsets where overlapping ops land in another order (default true). */
  reorder?: boolean;
  /**
   * Yield the full prefix (every pending op survived). Off for an epoch closed by a flush: that
   * image is the next epoch's prefix 0.
   */
  includeFullPrefix?: boolean;
  /** Epoch number for descriptions and `CrashState.epoch`. */
  epoch?: number;
  /** Survival probability of each op in random subsets (default 0.5). */
  survivalProbability?: number;
}

/**
 * Crash states for one epoch: prefixes k = 0..n in order, then random subsets applied in issue
 * order and, when `reorder`, random subsets applied in a shuffled order (only orderings that
 * change which of two overlapping ops wins are kept: orderings of ops that commute give the same
 * image). Never yields the same survivor sequence twice; stops at `maxStates` or when random
 * draws stop finding new states.
 */
export function* enumerateCrashStates(
  durable: MemoryDevice,
  pending: readonly CachedOp[],
  options: CrashEnumerationOptions,
): Generator<CrashState, void, undefined> {
  const n = pending.length;
  const epoch = options.epoch ?? 0;
  const maxStates = options.maxStates;
  const seen = new Set<string>();
  let yielded = 0;
  const make = (survivors: number[], what: string): CrashState => ({
    description: `epoch ${epoch}: ${what}`,
    device: buildState(durable, pending, survivors),
    epoch,
    survivors,
    pendingCount: n,
  });

  const lastPrefix = options.includeFullPrefix === false ? n - 1 : n;
  // Prefixes advance one working image op by op and hand out copy-on-write clones of it, so n
  // prefixes cost n ops plus n index copies rather than n²/2 ops.
  const working = lastPrefix >= 0 && maxStates > 0 ? durable.clone() : undefined;
  for (let k = 0; working && k <= lastPrefix && yielded < maxStates; k++) {
    if (k > 0) applyCachedOp(working, pending[k - 1] as CachedOp);
    const survivors = range(k);
    seen.add(survivors.join(','));
    yield {
      description: `epoch ${epoch}: prefix ${k}/${n}`,
      device: working.clone(),
      epoch,
      survivors,
      pendingCount: n,
    };
    yielded++;
  }
  if (n < 2 || yielded >= maxStates) return;

  const rng = new Rng(options.seed ?? 0);
  const reorder = options.reorder ?? true;
  const probability = options.survivalProbability ?? 0.5;
  if (options.includeFullPrefix === false) seen.add(range(n).join(','));
  // Random draws repeat once the space is nearly exhausted; give up after a run of repeats.
  let misses = 0;
  for (let attempt = 0; yielded < maxStates && misses < 64 + maxStates; attempt++) {
    let survivors = randomSubset(rng, n, probability);
    let what = 'subset';
    if (reorder && attempt % 2 === 1 && survivors.length >= 2) {
      shuffle(rng, survivors);
      survivors = canonicalOrder(pending, survivors);
      if (!isIssueOrder(survivors)) what = 'reordered';
    }
    const key = survivors.join(',');
    if (seen.has(key)) {
      misses++;
      continue;
    }
    seen.add(key);
    misses = 0;
    yield make(survivors, `${what} ${formatSurvivors(survivors, n)}`);
    yielded++;
  }
}

/**
 * Every operation written through a volatile cache, with its flush boundaries. Epoch e holds the
 * ops issued after the e-th completed flush (epoch 0: before the first); the last epoch is
 * open (its ops are still pending).
 */
export class OpHistory {
  /** The durable image when recording started (never modified). */
  readonly initial: MemoryDevice;
  readonly #ops: CachedOp[] = [];
  /** Op count at each completed flush. */
  readonly #flushAt: number[] = [];

  constructor(initial: MemoryDevice) {
    this.initial = initial;
  }

  record(op: CachedOp): void {
    this.#ops.push(op);
  }

  /** A flush completed (callers record only flushes that made something durable). */
  flush(): void {
    this.#flushAt.push(this.#ops.length);
  }

  get opCount(): number {
    return this.#ops.length;
  }

  /** Completed flushes + 1 (the open epoch, possibly empty). */
  get epochCount(): number {
    return this.#flushAt.length + 1;
  }

  epochOps(epoch: number): readonly CachedOp[] {
    if (!Number.isInteger(epoch) || epoch < 0 || epoch >= this.epochCount) {
      throw new RangeError(`epoch ${epoch} out of range 0..${this.epochCount - 1}`);
    }
    const start = epoch === 0 ? 0 : (this.#flushAt[epoch - 1] as number);
    const end = epoch < this.#flushAt.length ? (this.#flushAt[epoch] as number) : this.#ops.length;
    return this.#ops.slice(start, end);
  }

  /** The image durable at the start of `epoch` (after `epoch` flushes), as a fresh device. */
  durableAtEpoch(epoch: number): MemoryDevice {
    const device = this.initial.clone();
    for (let e = 0; e < epoch; e++) for (const op of this.epochOps(e)) applyCachedOp(device, op);
    return device;
  }

  /**
   * Crash states across epochs, in epoch order: for each epoch the states of
   * `enumerateCrashStates` (with at most `maxStatesPerEpoch`), the closed epochs without their
   * full prefix (it equals the next epoch's prefix 0). The working image advances one epoch at a
   * time, so the whole walk replays each op once plus what each state applies.
   */
  *crashStates(options: {
    maxStatesPerEpoch: number;
    seed?: number;
    reorder?: boolean;
    epochs?: readonly number[];
  }): Generator<CrashState, void, undefined> {
    const wanted = options.epochs ? new Set(options.epochs) : undefined;
    const last = this.epochCount - 1;
    const seedRng = new Rng(options.seed ?? 0);
    const working = this.initial.clone();
    for (let epoch = 0; epoch <= last; epoch++) {
      const ops = this.epochOps(epoch);
      const epochSeed = seedRng.nextU32();
      if (!wanted || wanted.has(epoch)) {
        const enumeration: CrashEnumerationOptions = {
          maxStates: options.maxStatesPerEpoch,
          seed: epochSeed,
          includeFullPrefix: epoch === last,
          epoch,
        };
        if (options.reorder !== undefined) enumeration.reorder = options.reorder;
        yield* enumerateCrashStates(working, ops, enumeration);
      }
      if (epoch < last) for (const op of ops) applyCachedOp(working, op);
    }
  }
}

function buildState(
  durable: MemoryDevice,
  pending: readonly CachedOp[],
  survivors: readonly number[],
): MemoryDevice {
  const device = durable.clone();
  for (const i of survivors) applyCachedOp(device, pending[i] as CachedOp);
  return device;
}

function range(n: number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

function randomSubset(rng: Rng, n: number, probability: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (rng.nextFloat() < probability) out.push(i);
  return out;
}

function shuffle(rng: Rng, values: number[]): void {
  for (let i = values.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const t = values[i] as number;
    values[i] = values[j] as number;
    values[j] = t;
  }
}

function isIssueOrder(values: readonly number[]): boolean {
  for (let i = 1; i < values.length; i++)
    if ((values[i] as number) < (values[i - 1] as number)) return false;
  return true;
}

/** Ops whose relative order can change the image: overlapping ranges, or any truncate. */
function conflicts(a: CachedOp, b: CachedOp): boolean {
  if (a.op === 'truncate' || b.op === 'truncate') return true;
  const aEnd = a.offsetBytes + (a.op === 'write' ? a.data.length : a.lengthBytes);
  const bEnd = b.offsetBytes + (b.op === 'write' ? b.data.length : b.lengthBytes);
  return a.offsetBytes < bEnd && b.offsetBytes < aEnd;
}

const CANONICAL_LIMIT = 512;

/**
 * The representative of `order` that keeps only the order of conflicting ops: repeatedly take
 * the lowest index not preceded (in `order`) by a remaining op it conflicts with. Two orders
 * that differ only in commuting ops give the same image and the same representative.
 */
function canonicalOrder(pending: readonly CachedOp[], order: readonly number[]): number[] {
  if (order.length > CANONICAL_LIMIT) return [...order];
  const remaining = [...order];
  const out: number[] = [];
  while (remaining.length > 0) {
    let pick = -1;
    for (let i = 0; i < remaining.length; i++) {
      const candidate = remaining[i] as number;
      if (pick >= 0 && candidate > (remaining[pick] as number)) continue;
      let blocked = false;
      for (let j = 0; j < i; j++) {
        if (
          conflicts(pending[remaining[j] as number] as CachedOp, pending[candidate] as CachedOp)
        ) {
          blocked = true;
          break;
        }
      }
      if (!blocked) pick = i;
    }
    out.push(remaining[pick] as number);
    remaining.splice(pick, 1);
  }
  return out;
}

function formatSurvivors(survivors: readonly number[], n: number): string {
  if (survivors.length <= 24) return `[${survivors.join(',')}] of ${n}`;
  return `${survivors.length} of ${n} ops`;
}
