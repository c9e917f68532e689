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

/** The length of the shared zero buffer (zeroBytes). */
export const ZERO_BUFFER_BYTES = 64 * 1024 * 1024;

/**
 * A read-only shared zero buffer. Engines pass subarrays of it for explicit zero writes (QED's
 * COW prefill/postfill); devices recognise it by identity and skip scanning or storing zeros.
 * Made at first use: allocated at module load, its 64 MiB set off garbage collections (V8
 * collects when external memory grows that much) in every CLI start, `qedlab check` included.
 */
let zeroBuffer: Uint8Array | undefined;

/** A subarray of the shared zero buffer of `lengthBytes` (callers must not write into it). */
export function zeroBytes(lengthBytes: number): Uint8Array {
  if (lengthBytes > ZERO_BUFFER_BYTES) return new Uint8Array(lengthBytes);
  zeroBuffer ??= new Uint8Array(ZERO_BUFFER_BYTES);
  return zeroBuffer.subarray(0, lengthBytes);
}

export function isZeroBufferView(data: Uint8Array): boolean {
  return zeroBuffer !== undefined && data.buffer === zeroBuffer.buffer;
}

/** Bytes to place at `atBytes` from the start of a patched write. */
export interface WritePatch {
  readonly atBytes: number;
  readonly bytes: Uint8Array;
}

/**
 * The content of one host write described by what changed. QEMU writes whole tables (a 64 KiB
 * refblock with one changed entry, a fresh 1 MiB QED L2 holding one entry); a simulation that
 * copies every byte of those spends its time in memcpy. The op is still one write of the full
 * length: only the device's work changes.
 */
export interface PatchedWrite {
  /** Bytes outside the patches: `zero`, or `unchanged` (what the device holds there now). */
  readonly base: 'zero' | 'unchanged';
  /** Disjoint, inside the op. */
  readonly patches: readonly WritePatch[];
  /**
   * The whole content, when the caller holds it: devices that store every byte write it as is,
   * and a verifying MemoryDevice checks an `unchanged` write against it.
   */
  readonly whole?: Uint8Array;
}

export interface PatchWritableDevice extends BlockDevice {
  writePatched(offsetBytes: number, lengthBytes: number, write: PatchedWrite, kind: IoKind): void;
}

/** One host write of `lengthBytes` at `offsetBytes` with the content `write` describes. */
export function writePatched(
  device: BlockDevice,
  offsetBytes: number,
  lengthBytes: number,
  write: PatchedWrite,
  kind: IoKind,
): void {
  const patchable = device as Partial<PatchWritableDevice>;
  if (typeof patchable.writePatched === 'function') {
    patchable.writePatched(offsetBytes, lengthBytes, write, kind);
    return;
  }
  device.write(offsetBytes, materializePatchedWrite(device, offsetBytes, lengthBytes, write), kind);
}

/** The full bytes of a patched write, for devices that store every byte. */
export function materializePatchedWrite(
  device: BlockDevice,
  offsetBytes: number,
  lengthBytes: number,
  write: PatchedWrite,
): Uint8Array {
  if (write.whole !== undefined) {
    if (write.whole.length !== lengthBytes) {
      throw new Error(`patched write: whole is ${write.whole.length} bytes, op is ${lengthBytes}`);
    }
    return write.whole;
  }
  if (write.base === 'zero' && write.patches.length === 0) return zeroBytes(lengthBytes);
  const bytes =
    write.base === 'zero'
      ? new Uint8Array(lengthBytes)
      : // A copy: devices may hand out views of their own storage.
        device.read(offsetBytes, lengthBytes, 'data').slice();
  for (const patch of write.patches) bytes.set(patch.bytes, patch.atBytes);
  return bytes;
}
