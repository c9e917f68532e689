import type { SimClock } from '../device/clock.ts';
import type { ImageFormat } from '../formats/types.ts';
import { LabError, UsageError } from '../util/errors.ts';
import { formatSize, parseSizeBytes } from '../util/size.ts';

/**
 * qemu-io's command language, as far as the lab speaks it: one command per line (a script file
 * is what qemu-io reads on standard input), or one per `-c`. Parsing is separate from running so
 * the bench runner's replay workload can reuse both.
 */
export type QemuIoCommand =
  | {
      op: 'write';
      offsetBytes: number;
      lengthBytes: number;
      pattern: number;
      zero: boolean;
      /** `write -z -u`: BDRV_REQ_MAY_UNMAP, the format may deallocate (qcow2). */
      mayUnmap: boolean;
    }
  | { op: 'read'; offsetBytes: number; lengthBytes: number; pattern: number | undefined }
  | { op: 'discard'; offsetBytes: number; lengthBytes: number }
  | { op: 'flush' }
  | { op: 'abort' }
  | { op: 'sleep'; ms: number };

/** qemu-io fills `write` without -P with 0xcd. */
export const QEMU_IO_DEFAULT_PATTERN = 0xcd;

/** qemu-io's cvtnum: decimal or 0x hex, with an optional binary suffix. */
function parseNumber(text: string, what: string): number {
  if (/^0x[0-9a-f]+$/i.test(text)) return Number.parseInt(text.slice(2), 16);
  return parseSizeBytes(text, what);
}

function parsePattern(text: string | undefined): number {
  if (text === undefined) throw new UsageError('-P needs a pattern');
  const value = /^0x[0-9a-f]+$/i.test(text) ? Number.parseInt(text.slice(2), 16) : Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 255) {
    throw new UsageError(`invalid pattern '${text}': expected a byte value`);
  }
  return value;
}

/** One line; undefined for blank lines and `#` comments. */
export function parseQemuIoCommand(line: string): QemuIoCommand | undefined {
  const words = line
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
  const name = words[0];
  if (name === undefined || name.startsWith('#')) return undefined;
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 1; i < words.length; i++) {
    const w = words[i] as string;
    if (w === '-P') flags.set('P', words[++i] ?? '');
    else if (/^-[a-zA-Z]+$/.test(w)) for (const ch of w.slice(1)) flags.set(ch, true);
    else positional.push(w);
  }
  const range = (command: string): { offsetBytes: number; lengthBytes: number } => {
    if (positional.length !== 2)
      throw new UsageError(`${command}: expected OFFSET LENGTH in '${line.trim()}'`);
    return {
      offsetBytes: parseNumber(positional[0] as string, 'offset'),
      lengthBytes: parseNumber(positional[1] as string, 'length'),
    };
  };
  const allowFlags = (command: string, allowed: string): void => {
    for (const f of flags.keys()) {
      if (!allowed.includes(f)) throw new UsageError(`${command}: unsupported option -${f}`);
    }
  };
  switch (name) {
    case 'write': {
      allowFlags('write', 'Pzqu');
      const zero = flags.has('z');
      if (zero && flags.has('P')) throw new UsageError('write: -P and -z cannot be combined');
      const pattern = flags.has('P')
        ? parsePattern(flags.get('P') as string)
        : QEMU_IO_DEFAULT_PATTERN;
      if (flags.has('u') && !zero) throw new UsageError('write: -u needs -z');
      return { op: 'write', ...range('write'), pattern, zero, mayUnmap: flags.has('u') };
    }
    case 'read': {
      allowFlags('read', 'Pq');
      const pattern = flags.has('P') ? parsePattern(flags.get('P') as string) : undefined;
      return { op: 'read', ...range('read'), pattern };
    }
    case 'discard':
      allowFlags('discard', 'q');
      return { op: 'discard', ...range('discard') };
    case 'flush':
      return { op: 'flush' };
    case 'abort':
      return { op: 'abort' };
    case 'sleep': {
      const ms = Number(positional[0]);
      if (positional.length !== 1 || !Number.isInteger(ms) || ms < 0) {
        throw new UsageError(`sleep: expected milliseconds in '${line.trim()}'`);
      }
      return { op: 'sleep', ms };
    }
    default:
      throw new UsageError(
        `unknown command '${name}' (known: write, read, discard, flush, abort, sleep)`,
      );
  }
}

export function parseQemuIoScript(text: string): QemuIoCommand[] {
  const commands: QemuIoCommand[] = [];
  for (const line of text.split('\n')) {
    const command = parseQemuIoCommand(line);
    if (command) commands.push(command);
  }
  return commands;
}

/** One reusable pattern buffer per (pattern, length), so a replay of many writes allocates little. */
class PatternBuffers {
  #buffers = new Map<number, Uint8Array>();

  get(pattern: number, lengthBytes: number): Uint8Array {
    let buffer = this.#buffers.get(pattern);
    if (!buffer || buffer.length < lengthBytes) {
      buffer = new Uint8Array(lengthBytes).fill(pattern);
      this.#buffers.set(pattern, buffer);
    }
    return buffer.subarray(0, lengthBytes);
  }
}

export interface QemuIoSessionOptions {
  /** qemu-io's default: every guest write is followed by a flush. */
  writethrough: boolean;
  /** Receives qemu-io's output lines; omit for silence. */
  print?: (line: string) => void;
}

/** Thrown by `read -P` when the data differs: the CLI exits non-zero with this message. */
export class PatternMismatchError extends LabError {
  constructor(message: string) {
    super('PATTERN', message);
    this.name = 'PatternMismatchError';
  }
}

/**
 * Runs commands against an open image, playing qemu-io's main loop: due timers (QED's
 * need-check timer) run between commands, `sleep` idles on the simulated clock.
 */
export class QemuIoSession {
  readonly #image: ImageFormat;
  readonly #clock: SimClock;
  readonly #options: QemuIoSessionOptions;
  readonly #patterns = new PatternBuffers();
  aborted = false;

  constructor(image: ImageFormat, clock: SimClock, options: QemuIoSessionOptions) {
    this.#image = image;
    this.#clock = clock;
    this.#options = options;
  }

  /** Runs one command; returns false once `abort` has stopped the session. */
  run(command: QemuIoCommand): boolean {
    if (this.aborted) return false;
    const image = this.#image;
    const startNs = this.#clock.nowNs();
    switch (command.op) {
      case 'write': {
        if (command.zero) {
          const options: { mayUnmap?: boolean; fua?: boolean } = {};
          if (command.mayUnmap) options.mayUnmap = true;
          if (this.#options.writethrough) options.fua = true;
          image.writeZeroes(command.offsetBytes, command.lengthBytes, options);
        } else {
          image.write(
            command.offsetBytes,
            this.#patterns.get(command.pattern, command.lengthBytes),
          );
        }
        // Writethrough: QEMU marks the write FUA and, as no format here supports it, flushes after.
        if (this.#options.writethrough) image.flush();
        this.#report('wrote', command.offsetBytes, command.lengthBytes, startNs);
        break;
      }
      case 'read': {
        const data = image.read(command.offsetBytes, command.lengthBytes);
        if (command.pattern !== undefined)
          verifyPattern(data, command.pattern, command.offsetBytes);
        this.#report('read', command.offsetBytes, command.lengthBytes, startNs);
        break;
      }
      case 'discard':
        image.discard(command.offsetBytes, command.lengthBytes);
        this.#report('discard', command.offsetBytes, command.lengthBytes, startNs);
        break;
      case 'flush':
        image.flush();
        break;
      case 'abort':
        this.aborted = true;
        return false;
      case 'sleep':
        this.#clock.sleepNs(command.ms * 1_000_000);
        break;
    }
    this.#clock.runDueTimers();
    return true;
  }

  runAll(commands: readonly QemuIoCommand[]): boolean {
    for (const command of commands) if (!this.run(command)) return false;
    return true;
  }

  #report(verb: string, offsetBytes: number, lengthBytes: number, startNs: number): void {
    const print = this.#options.print;
    if (!print) return;
    const seconds = (this.#clock.nowNs() - startNs) / 1e9;
    print(`${verb} ${lengthBytes}/${lengthBytes} bytes at offset ${offsetBytes}`);
    print(`${formatSize(lengthBytes)}, 1 ops; ${seconds.toFixed(6)} sec simulated`);
  }
}

/** Throws naming the first byte that differs, like qemu-io's "Pattern verification failed". */
export function verifyPattern(data: Uint8Array, pattern: number, offsetBytes: number): void {
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== pattern) {
      throw new PatternMismatchError(
        `Pattern verification failed at offset ${offsetBytes}, ${data.length} bytes: ` +
          `first mismatch at offset ${offsetBytes + i} (expected 0x${pattern.toString(16)}, ` +
          `got 0x${(data[i] as number).toString(16)})`,
      );
    }
  }
}
