import * as fs from 'node:fs';
import { LabError } from '../util/errors.ts';
import { type BlockDevice, type IoKind, zeroBytes } from './types.ts';

const ZERO_CHUNK_BYTES = 1 << 20;

/**
 * A real file (sparse where the file system allows): pread/pwrite/fdatasync/ftruncate through
 * fs.*Sync. Used by the CLI on images QEMU can open, and to compare with qemu-io on real files.
 */
export class FileDevice implements BlockDevice {
  readonly path: string;
  readonly readOnly: boolean;
  #fd: number;
  #sizeBytes: number;

  private constructor(path: string, fd: number, readOnly: boolean) {
    this.path = path;
    this.#fd = fd;
    this.readOnly = readOnly;
    this.#sizeBytes = fs.fstatSync(fd).size;
  }

  /** Opens an existing file. */
  static open(path: string, options: { readOnly?: boolean } = {}): FileDevice {
    const readOnly = options.readOnly ?? false;
    try {
      return new FileDevice(path, fs.openSync(path, readOnly ? 'r' : 'r+'), readOnly);
    } catch (error) {
      throw fileError(path, error);
    }
  }

  /** Creates (or truncates to empty) a file. */
  static create(path: string): FileDevice {
    try {
      return new FileDevice(path, fs.openSync(path, 'w+'), false);
    } catch (error) {
      throw fileError(path, error);
    }
  }

  size(): number {
    return this.#sizeBytes;
  }

  read(offsetBytes: number, lengthBytes: number, _kind?: IoKind): Uint8Array {
    // pread fills the buffer, so it need not be zeroed first (zeroing a fresh 256 KiB table buffer
    // cost as much as reading it). A plain Uint8Array over its own ArrayBuffer, offset 0.
    const buffer = Buffer.allocUnsafeSlow(lengthBytes);
    const out = new Uint8Array(buffer.buffer, buffer.byteOffset, lengthBytes);
    this.readInto(offsetBytes, out);
    return out;
  }

  /** pread into `out`; past EOF reads as zeros. */
  readInto(offsetBytes: number, out: Uint8Array, _kind?: IoKind): void {
    const lengthBytes = out.length;
    let done = 0;
    while (done < lengthBytes) {
      const n = fs.readSync(this.#fd, out, done, lengthBytes - done, offsetBytes + done);
      if (n === 0) break;
      done += n;
    }
    if (done < lengthBytes) out.fill(0, done);
  }

  write(offsetBytes: number, data: Uint8Array, _kind?: IoKind): void {
    let done = 0;
    while (done < data.length) {
      done += fs.writeSync(this.#fd, data, done, data.length - done, offsetBytes + done);
    }
    this.#sizeBytes = Math.max(this.#sizeBytes, offsetBytes + data.length);
  }

  /**
   * Node has no fallocate; writing zeros gives the same contents (QEMU's ZERO_RANGE falls back to
   * the same when the file system refuses it). Past EOF an ftruncate suffices.
   */
  zeroRange(offsetBytes: number, lengthBytes: number, _kind?: IoKind): void {
    const end = offsetBytes + lengthBytes;
    const writeEnd = Math.min(end, this.#sizeBytes);
    for (let pos = offsetBytes; pos < writeEnd; pos += ZERO_CHUNK_BYTES) {
      this.write(pos, zeroBytes(Math.min(ZERO_CHUNK_BYTES, writeEnd - pos)));
    }
    if (end > this.#sizeBytes) this.truncate(end);
  }

  flush(): void {
    fs.fdatasyncSync(this.#fd);
  }

  truncate(sizeBytes: number): void {
    fs.ftruncateSync(this.#fd, sizeBytes);
    this.#sizeBytes = sizeBytes;
  }

  close(): void {
    if (this.#fd >= 0) fs.closeSync(this.#fd);
    this.#fd = -1;
  }
}

function fileError(path: string, error: unknown): LabError {
  const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
  const reason =
    code === 'ENOENT'
      ? 'No such file or directory'
      : code === 'EACCES'
        ? 'Permission denied'
        : code;
  return new LabError('FILE', `Could not open '${path}': ${reason}`, { cause: error });
}
