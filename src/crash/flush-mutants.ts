/**
 * Mutant engines without touching an engine: a device wrapper under the format (between its
 * metered `file` node and the drive) that removes one flush from a pattern of host I/O. Each
 * mutant names the barrier a design relies on; the crash explorer must catch every one (tests
 * assert it), which is what shows the explorer can fail.
 *
 * A flush is held back until the next write-like op arrives, so the wrapper knows what the flush
 * separates: if the last write before it and the first write after it match the mutant's kinds,
 * the flush is dropped (the drive may now reorder across it); otherwise it is passed on just
 * before that op. Reads do not release a held flush: they change nothing on the drive.
 */
import type { BlockDevice, IoKind } from '../device/types.ts';
import { UsageError } from '../util/errors.ts';

export interface FlushMutant {
  readonly name: string;
  /** Formats whose write path has the pattern (the explorer refuses others). */
  readonly formats: readonly string[];
  /** Needs a backing file to take the path (QED's data flush only exists then). */
  readonly backing: boolean;
  /** The design variant whose path it is (default: the baseline). */
  readonly variant?: string;
  /** Kind of the last write before the flush. */
  readonly before: readonly IoKind[];
  /** Kind of the first write after it. */
  readonly after: readonly IoKind[];
  /** A second pattern removed too (a barrier the design has twice). */
  readonly also?: { readonly before: readonly IoKind[]; readonly after: readonly IoKind[] };
  /** Match across guest requests (the barrier sits between a discard and a later write). */
  readonly acrossRequests?: boolean;
  /** One line: the design it stands for. */
  readonly describe: string;
}

/** Every named mutant, in one table. */
export const FLUSH_MUTANTS: readonly FlushMutant[] = [
  {
    name: 'qed-l2-before-data-flush',
    formats: ['qed'],
    backing: true,
    before: ['data', 'zero-fill'],
    after: ['l2'],
    describe: 'QED with a backing file writing the L2 before the data flush (§1.5 step 4)',
  },
  {
    name: 'qed-l1-before-l2-flush',
    formats: ['qed'],
    // Without a backing file NEED_CHECK makes the open check repair a dangling L1 entry (QED
    // never reuses clusters, so a lost table reads as zeros): only the backing path relies on it.
    backing: true,
    before: ['l2'],
    after: ['l1'],
    describe: 'QED writing the L1 entry before the new L2 table is flushed (§1.5 step 5)',
  },
  {
    name: 'qed-freelist-no-unmap-sync',
    formats: ['qed'],
    backing: false,
    variant: 'freelist',
    before: ['l2'],
    after: ['header', 'freelist'],
    // The variant orders the L2 clear before reuse twice: the UNMAP sync, and the flush that makes
    // the cleared freelist pointer durable before a listed cluster is first taken. Removing only
    // the first is covered by the second (the explorer shows 0 violations), so both go.
    also: { before: ['freelist', 'header'], after: ['zero-fill', 'data'] },
    acrossRequests: true,
    describe:
      'the QED freelist variant with nothing ordering a discard’s L2 update before the freed ' +
      'cluster is reused (the UNMAP-path sync and the first-take flush removed)',
  },
  {
    name: 'qcow2-l1-before-l2-flush',
    formats: ['qcow2'],
    backing: false,
    before: ['l2'],
    after: ['l1'],
    describe: 'qcow2 writing the L1 entry before the L2 flush (§2.8 l2_allocate step 4)',
  },
  {
    name: 'qcow2-l2-before-refblock-flush',
    formats: ['qcow2'],
    backing: false,
    before: ['refblock'],
    after: ['l2'],
    describe: 'qcow2 writing a new L2 before the refcount +1 is flushed (§2.8 l2_allocate step 2)',
  },
];

export function getFlushMutant(name: string): FlushMutant {
  const mutant = FLUSH_MUTANTS.find((m) => m.name === name);
  if (!mutant) {
    throw new UsageError(
      `unknown mutant '${name}' (known: ${FLUSH_MUTANTS.map((m) => m.name).join(', ')})`,
    );
  }
  return mutant;
}

/** The wrapper: passes everything through except the flushes the mutant removes. */
export class FlushMutantDevice implements BlockDevice {
  readonly inner: BlockDevice;
  readonly mutant: FlushMutant;
  /** Flushes removed so far (a mutant that removes none was not exercised). */
  dropped = 0;
  #held = false;
  #lastWriteKind: IoKind | undefined;

  constructor(inner: BlockDevice, mutant: FlushMutant) {
    this.inner = inner;
    this.mutant = mutant;
  }

  read(offsetBytes: number, lengthBytes: number, kind: IoKind): Uint8Array {
    return this.inner.read(offsetBytes, lengthBytes, kind);
  }

  write(offsetBytes: number, data: Uint8Array, kind: IoKind): void {
    this.#release(kind);
    this.inner.write(offsetBytes, data, kind);
    this.#lastWriteKind = kind;
  }

  zeroRange(offsetBytes: number, lengthBytes: number, kind: IoKind): void {
    this.#release(kind);
    this.inner.zeroRange(offsetBytes, lengthBytes, kind);
    this.#lastWriteKind = kind;
  }

  truncate(sizeBytes: number): void {
    this.#release(undefined);
    this.inner.truncate(sizeBytes);
    this.#lastWriteKind = undefined;
  }

  flush(): void {
    this.#held = true;
  }

  /** Passes on a flush still held (end of a guest request: the guest sees its flush complete). */
  settle(): void {
    // Patterns are matched within one guest request: the barriers the mutants name all sit
    // inside one request's write path.
    if (!this.mutant.acrossRequests) this.#lastWriteKind = undefined;
    if (!this.#held) return;
    this.#held = false;
    this.inner.flush();
  }

  size(): number {
    return this.inner.size();
  }

  #release(nextKind: IoKind | undefined): void {
    if (!this.#held) return;
    this.#held = false;
    const m = this.mutant;
    const last = this.#lastWriteKind;
    const matches = (p: { before: readonly IoKind[]; after: readonly IoKind[] }): boolean =>
      last !== undefined &&
      nextKind !== undefined &&
      p.before.includes(last) &&
      p.after.includes(nextKind);
    if (matches(m) || (m.also !== undefined && matches(m.also))) {
      this.dropped++;
      return;
    }
    this.inner.flush();
  }
}
