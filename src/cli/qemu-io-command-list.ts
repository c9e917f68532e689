import type { QemuIoCommand } from './qemu-io-script.ts';

/** Operation codes of a {@link QemuIoCommandList} entry. */
export const IO_OP_WRITE = 0;
export const IO_OP_READ = 1;
export const IO_OP_DISCARD = 2;
export const IO_OP_FLUSH = 3;
export const IO_OP_ABORT = 4;
export const IO_OP_SLEEP = 5;

/** Flag bits of an entry. */
export const IO_FLAG_ZERO = 1;
export const IO_FLAG_MAY_UNMAP = 2;
/** `read -P`: the read has a pattern to verify (a write always has one). */
export const IO_FLAG_PATTERN = 4;

const INITIAL_CAPACITY = 1024;

/**
 * A parsed qemu-io script held column-wise in typed arrays: 19 bytes per command and no object per
 * command, so a 100,000-line script parses without feeding the garbage collector 100,000
 * objects. Holds exactly what a {@link QemuIoCommand} holds (`at` gives the command back); a
 * `sleep`'s milliseconds live in the offset column.
 */
export class QemuIoCommandList {
  #count = 0;
  #ops: Uint8Array;
  #flags: Uint8Array;
  #patterns: Uint8Array;
  #offsetsBytes: Float64Array;
  #lengthsBytes: Float64Array;

  constructor(capacity = INITIAL_CAPACITY) {
    this.#ops = new Uint8Array(capacity);
    this.#flags = new Uint8Array(capacity);
    this.#patterns = new Uint8Array(capacity);
    this.#offsetsBytes = new Float64Array(capacity);
    this.#lengthsBytes = new Float64Array(capacity);
  }

  get length(): number {
    return this.#count;
  }

  op(index: number): number {
    return this.#ops[index] as number;
  }

  flags(index: number): number {
    return this.#flags[index] as number;
  }

  pattern(index: number): number {
    return this.#patterns[index] as number;
  }

  offsetBytes(index: number): number {
    return this.#offsetsBytes[index] as number;
  }

  lengthBytes(index: number): number {
    return this.#lengthsBytes[index] as number;
  }

  /** Appends one entry; `offsetBytes` carries a sleep's milliseconds. */
  append(op: number, flags: number, pattern: number, offsetBytes: number, lengthBytes: number) {
    const index = this.#count;
    if (index === this.#ops.length) this.#resize(Math.max(2 * index, INITIAL_CAPACITY));
    this.#ops[index] = op;
    this.#flags[index] = flags;
    this.#patterns[index] = pattern;
    this.#offsetsBytes[index] = offsetBytes;
    this.#lengthsBytes[index] = lengthBytes;
    this.#count = index + 1;
  }

  push(command: QemuIoCommand): void {
    switch (command.op) {
      case 'write':
        this.append(
          IO_OP_WRITE,
          (command.zero ? IO_FLAG_ZERO : 0) | (command.mayUnmap ? IO_FLAG_MAY_UNMAP : 0),
          command.pattern,
          command.offsetBytes,
          command.lengthBytes,
        );
        break;
      case 'read':
        this.append(
          IO_OP_READ,
          command.pattern === undefined ? 0 : IO_FLAG_PATTERN,
          command.pattern ?? 0,
          command.offsetBytes,
          command.lengthBytes,
        );
        break;
      case 'discard':
        this.append(IO_OP_DISCARD, 0, 0, command.offsetBytes, command.lengthBytes);
        break;
      case 'flush':
        this.append(IO_OP_FLUSH, 0, 0, 0, 0);
        break;
      case 'abort':
        this.append(IO_OP_ABORT, 0, 0, 0, 0);
        break;
      case 'sleep':
        this.append(IO_OP_SLEEP, 0, 0, command.ms, 0);
        break;
    }
  }

  /** Forgets every entry, keeping the storage. */
  clear(): void {
    this.#count = 0;
  }

  /** Entry `index` as the command object the general parser gives for it. */
  at(index: number): QemuIoCommand {
    if (!(index >= 0 && index < this.#count)) throw new RangeError(`no command ${index}`);
    const offsetBytes = this.#offsetsBytes[index] as number;
    const lengthBytes = this.#lengthsBytes[index] as number;
    const flags = this.#flags[index] as number;
    switch (this.#ops[index]) {
      case IO_OP_WRITE:
        return {
          op: 'write',
          offsetBytes,
          lengthBytes,
          pattern: this.#patterns[index] as number,
          zero: (flags & IO_FLAG_ZERO) !== 0,
          mayUnmap: (flags & IO_FLAG_MAY_UNMAP) !== 0,
        };
      case IO_OP_READ:
        return {
          op: 'read',
          offsetBytes,
          lengthBytes,
          pattern: flags & IO_FLAG_PATTERN ? (this.#patterns[index] as number) : undefined,
        };
      case IO_OP_DISCARD:
        return { op: 'discard', offsetBytes, lengthBytes };
      case IO_OP_FLUSH:
        return { op: 'flush' };
      case IO_OP_ABORT:
        return { op: 'abort' };
      default:
        return { op: 'sleep', ms: offsetBytes };
    }
  }

  toArray(): QemuIoCommand[] {
    const commands: QemuIoCommand[] = [];
    for (let i = 0; i < this.#count; i++) commands.push(this.at(i));
    return commands;
  }

  /**
   * Makes room for `count` commands in all: a parser that knows how many lines are coming
   * allocates once, and fresh memory costs a page fault per 4 KiB page on first touch.
   */
  reserve(count: number): void {
    if (count > this.#ops.length) this.#resize(count);
  }

  #resize(capacity: number): void {
    const ops = new Uint8Array(capacity);
    ops.set(this.#ops.subarray(0, this.#count));
    this.#ops = ops;
    const flags = new Uint8Array(capacity);
    flags.set(this.#flags.subarray(0, this.#count));
    this.#flags = flags;
    const patterns = new Uint8Array(capacity);
    patterns.set(this.#patterns.subarray(0, this.#count));
    this.#patterns = patterns;
    const offsetsBytes = new Float64Array(capacity);
    offsetsBytes.set(this.#offsetsBytes.subarray(0, this.#count));
    this.#offsetsBytes = offsetsBytes;
    const lengthsBytes = new Float64Array(capacity);
    lengthsBytes.set(this.#lengthsBytes.subarray(0, this.#count));
    this.#lengthsBytes = lengthsBytes;
  }
}
