/**
 * The host-side block device an image format engine talks to: the equivalent of QEMU's `file`
 * protocol node. Synchronous on purpose: the simulation runs millions of requests a second and a
 * promise per request costs more than the work.
 *
 * Every operation carries an `IoKind` so metadata I/O is counted where it happens, not guessed
 * afterwards.
 */
export const IO_KINDS = [
  'header',
  'l1',
  'l2',
  'refblock',
  'reftable',
  'snapshot',
  'freelist',
  'bitmap',
  'data',
  'zero-fill',
] as const;
export type IoKind = (typeof IO_KINDS)[number];

/** Index of each kind in IO_KINDS, for counters kept in typed arrays. */
export const IO_KIND_INDEX: Readonly<Record<IoKind, number>> = Object.fromEntries(
  IO_KINDS.map((k, i) => [k, i]),
) as Record<IoKind, number>;

export type IoOpName = 'read' | 'write' | 'zero' | 'flush' | 'truncate';

/** One host operation, as the I/O log records it (one JSON line each). */
export type IoRecord =
  | { op: 'read' | 'write' | 'zero'; offset: number; length: number; kind: IoKind }
  | { op: 'flush' }
  | { op: 'truncate'; size: number };

export interface BlockDevice {
  /** Returns `lengthBytes` bytes at `offsetBytes`; unwritten ranges and ranges past the end read as zeros. */
  read(offsetBytes: number, lengthBytes: number, kind: IoKind): Uint8Array;
  /** pwrite: writing past the end extends the device. */
  write(offsetBytes: number, data: Uint8Array, kind: IoKind): void;
  /** fallocate(FALLOC_FL_ZERO_RANGE): the range reads as zeros afterwards; may extend the device. */
  zeroRange(offsetBytes: number, lengthBytes: number, kind: IoKind): void;
  /** fdatasync. */
  flush(): void;
  /** Current length in bytes (like the file length). */
  size(): number;
  /** ftruncate: grow (zeros) or shrink. */
  truncate(sizeBytes: number): void;
}

/**
 * A read-only shared zero buffer. Engines pass subarrays of it for explicit zero writes (QED's
 * COW prefill/postfill); devices recognise it by identity and skip scanning or storing zeros.
 */
export const ZERO_BUFFER: Uint8Array = new Uint8Array(64 * 1024 * 1024);

/** A subarray of ZERO_BUFFER of `lengthBytes` (callers must not write into it). */
export function zeroBytes(lengthBytes: number): Uint8Array {
  if (lengthBytes <= ZERO_BUFFER.length) return ZERO_BUFFER.subarray(0, lengthBytes);
  return new Uint8Array(lengthBytes);
}

export function isZeroBufferView(data: Uint8Array): boolean {
  return data.buffer === ZERO_BUFFER.buffer;
}
