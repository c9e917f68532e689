/**
 * The device a fuzzed image is opened on: a memory device with a work and memory budget
 * proportional to the file. An engine that loops over a cycle in its tables, or believes a
 * header's huge count and reads or allocates far beyond what the file can hold, runs into the
 * budget instead of hanging or exhausting memory; the fuzzer reports which limit it hit.
 *
 * Limits (file = the image's length when opened, at least 1 MiB):
 * - one read or write longer than 4 × file + 16 MiB (a table larger than the file allows);
 * - more than 64 × file + 32 MiB read in total, or more than 200,000 operations;
 * - the file growing past 8 × file + 64 MiB.
 */
import type { MemoryDevice } from '../device/memory-device.ts';
import type { BlockDevice, IoKind } from '../device/types.ts';

export type BudgetLimit = 'single-request' | 'total-read' | 'operations' | 'growth';

/** Thrown by the device when a limit is hit: never a LabError, so it is never mistaken for one. */
export class BudgetExceededError extends Error {
  readonly limit: BudgetLimit;
  constructor(limit: BudgetLimit, message: string) {
    super(message);
    this.name = 'BudgetExceededError';
    this.limit = limit;
  }
}

const MIB = 1024 * 1024;

export class BudgetDevice implements BlockDevice {
  readonly inner: MemoryDevice;
  readonly maxRequestBytes: number;
  readonly maxReadBytes: number;
  readonly maxOps: number;
  readonly maxSizeBytes: number;
  readBytes = 0;
  ops = 0;
  /** Writes, zero ranges and truncates so far. */
  writeOps = 0;

  constructor(inner: MemoryDevice) {
    this.inner = inner;
    const file = Math.max(inner.size(), MIB);
    this.maxRequestBytes = 4 * file + 16 * MIB;
    this.maxReadBytes = 64 * file + 32 * MIB;
    this.maxOps = 200_000;
    this.maxSizeBytes = 8 * file + 64 * MIB;
  }

  read(offsetBytes: number, lengthBytes: number, kind: IoKind): Uint8Array {
    this.#op(lengthBytes, 'read');
    this.readBytes += lengthBytes;
    if (this.readBytes > this.maxReadBytes) {
      throw new BudgetExceededError('total-read', `read ${this.readBytes} bytes in total`);
    }
    return this.inner.read(offsetBytes, lengthBytes, kind);
  }

  write(offsetBytes: number, data: Uint8Array, kind: IoKind): void {
    this.#op(data.length, 'write');
    this.writeOps++;
    this.#grow(offsetBytes + data.length);
    this.inner.write(offsetBytes, data, kind);
  }

  zeroRange(offsetBytes: number, lengthBytes: number, kind: IoKind): void {
    this.#op(0, 'zero');
    this.writeOps++;
    this.#grow(offsetBytes + lengthBytes);
    this.inner.zeroRange(offsetBytes, lengthBytes, kind);
  }

  flush(): void {
    this.#op(0, 'flush');
  }

  size(): number {
    return this.inner.size();
  }

  truncate(sizeBytes: number): void {
    this.#op(0, 'truncate');
    this.writeOps++;
    this.#grow(sizeBytes);
    this.inner.truncate(sizeBytes);
  }

  #op(lengthBytes: number, what: string): void {
    if (++this.ops > this.maxOps) {
      throw new BudgetExceededError('operations', `more than ${this.maxOps} host operations`);
    }
    if (lengthBytes > this.maxRequestBytes) {
      throw new BudgetExceededError(
        'single-request',
        `one ${what} of ${lengthBytes} bytes on a ${this.inner.size()}-byte file`,
      );
    }
  }

  #grow(endBytes: number): void {
    if (endBytes > this.maxSizeBytes) {
      throw new BudgetExceededError('growth', `file grown to ${endBytes} bytes`);
    }
  }
}
