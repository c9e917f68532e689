import { IO_KIND_INDEX, IO_KINDS, type IoKind } from './types.ts';

const KIND_COUNT = IO_KINDS.length;

/** Per-kind totals of one op type. */
export interface KindTotals {
  ops: number;
  bytes: number;
}

/** Plain-object view of the counters, for results and tests. */
export interface IoCountersSnapshot {
  read: Record<IoKind, KindTotals>;
  write: Record<IoKind, KindTotals>;
  zero: Record<IoKind, KindTotals>;
  flushes: number;
  truncates: number;
}

/**
 * Ops and bytes per kind for reads, writes and zero-ranges, plus flushes. Kept in typed arrays
 * because the metered device updates them on every host operation.
 */
export class IoCounters {
  readonly readOps = new Float64Array(KIND_COUNT);
  readonly readBytes = new Float64Array(KIND_COUNT);
  readonly writeOps = new Float64Array(KIND_COUNT);
  readonly writeBytes = new Float64Array(KIND_COUNT);
  readonly zeroOps = new Float64Array(KIND_COUNT);
  readonly zeroBytes = new Float64Array(KIND_COUNT);
  flushes = 0;
  truncates = 0;

  reset(): void {
    for (const a of [
      this.readOps,
      this.readBytes,
      this.writeOps,
      this.writeBytes,
      this.zeroOps,
      this.zeroBytes,
    ]) {
      a.fill(0);
    }
    this.flushes = 0;
    this.truncates = 0;
  }

  /** Sum over kinds of bytes written (pwrite) plus zeroed, optionally only metadata kinds. */
  totalWrittenBytes(options: { metadataOnly?: boolean } = {}): number {
    let sum = 0;
    for (let i = 0; i < KIND_COUNT; i++) {
      if (options.metadataOnly && !isMetadataKindIndex(i)) continue;
      sum += (this.writeBytes[i] as number) + (this.zeroBytes[i] as number);
    }
    return sum;
  }

  totalReadBytes(options: { metadataOnly?: boolean } = {}): number {
    let sum = 0;
    for (let i = 0; i < KIND_COUNT; i++) {
      if (options.metadataOnly && !isMetadataKindIndex(i)) continue;
      sum += this.readBytes[i] as number;
    }
    return sum;
  }

  kindWriteBytes(kind: IoKind): number {
    const i = IO_KIND_INDEX[kind];
    return (this.writeBytes[i] as number) + (this.zeroBytes[i] as number);
  }

  kindReadBytes(kind: IoKind): number {
    return this.readBytes[IO_KIND_INDEX[kind]] as number;
  }

  snapshot(): IoCountersSnapshot {
    const table = (ops: Float64Array, bytes: Float64Array): Record<IoKind, KindTotals> =>
      Object.fromEntries(
        IO_KINDS.map((k, i) => [k, { ops: ops[i] as number, bytes: bytes[i] as number }]),
      ) as Record<IoKind, KindTotals>;
    return {
      read: table(this.readOps, this.readBytes),
      write: table(this.writeOps, this.writeBytes),
      zero: table(this.zeroOps, this.zeroBytes),
      flushes: this.flushes,
      truncates: this.truncates,
    };
  }
}

/** Everything but guest data and the zero-fill written around it counts as metadata. */
export function isMetadataKind(kind: IoKind): boolean {
  return kind !== 'data' && kind !== 'zero-fill';
}

const DATA_INDEX = IO_KIND_INDEX.data;
const ZERO_FILL_INDEX = IO_KIND_INDEX['zero-fill'];
function isMetadataKindIndex(i: number): boolean {
  return i !== DATA_INDEX && i !== ZERO_FILL_INDEX;
}
