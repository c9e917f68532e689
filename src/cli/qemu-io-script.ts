import type { SimClock } from '../device/clock.ts';
import type { ImageFormat } from '../formats/types.ts';
import { LabError, UsageError } from '../util/errors.ts';
import { formatSize, parseSizeBytes } from '../util/size.ts';
import {
  IO_FLAG_MAY_UNMAP,
  IO_FLAG_PATTERN,
  IO_FLAG_ZERO,
  IO_OP_ABORT,
  IO_OP_DISCARD,
  IO_OP_FLUSH,
  IO_OP_READ,
  IO_OP_SLEEP,
  IO_OP_WRITE,
  QemuIoCommandList,
} from './qemu-io-command-list.ts';
import {
  QEMU_IO_DEFAULT_PATTERN,
  SCAN_APPENDED,
  SCAN_BLANK,
  SCAN_NOT_SIMPLE,
  scanSimpleLine,
} from './qemu-io-fast-line.ts';

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

export { QEMU_IO_DEFAULT_PATTERN };

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
  const fast = parseSimpleLine(line, 0, line.length);
  return fast === NOT_SIMPLE ? parseQemuIoCommandGeneral(line) : fast;
}

/** What the fast path returns for a line it leaves to the general parser. */
export const NOT_SIMPLE: unique symbol = Symbol('not a simple qemu-io line');

/**
 * The fast path alone, for tests: the command, undefined for a blank line, or NOT_SIMPLE when the
 * line needs the general parser.
 */
export function parseQemuIoCommandFast(
  line: string,
): QemuIoCommand | undefined | typeof NOT_SIMPLE {
  return parseSimpleLine(line, 0, line.length);
}

/** Where the one-line fast path puts its command before it becomes an object. */
const scratch = new QemuIoCommandList();

/** The fast path for one line, as a command object (see {@link scanSimpleLine}). */
function parseSimpleLine(
  text: string,
  start: number,
  end: number,
): QemuIoCommand | undefined | typeof NOT_SIMPLE {
  scratch.clear();
  const scanned = scanSimpleLine(text, start, end, scratch);
  if (scanned === SCAN_BLANK) return undefined;
  return scanned === SCAN_APPENDED ? scratch.at(0) : NOT_SIMPLE;
}

/** The whole command language, with its one-line errors; the reference for the fast path. */
export function parseQemuIoCommandGeneral(line: string): QemuIoCommand | undefined {
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

/**
 * One command per line (as `text.split('\n')` cuts it), appended to `out` (a new list by
 * default); the first bad line throws (`out` then holds the lines before it). Common lines never
 * become objects (see {@link scanSimpleLine}); the rest go through the general parser, one line
 * at a time.
 */
export function parseQemuIoScriptList(
  text: string,
  out: QemuIoCommandList = new QemuIoCommandList(0),
): QemuIoCommandList {
  // Room for every line at once: the columns are allocated once and each page of them is first
  // touched once (fresh memory costs a page fault per page here), not copied as they grow.
  let lines = 1;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) lines++;
  out.reserve(out.length + lines);
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (scanSimpleLine(text, start, end, out) === SCAN_NOT_SIMPLE) {
      const command = parseQemuIoCommandGeneral(text.slice(start, end));
      if (command) out.push(command);
    }
    start = end + 1;
  }
  return out;
}

/** {@link parseQemuIoScriptList} as command objects. */
export function parseQemuIoScript(text: string): QemuIoCommand[] {
  return parseQemuIoScriptList(text).toArray();
}

/**
 * One pattern buffer per pattern byte, and a view of it for the length last asked: a replay of
 * many same-sized writes neither fills nor slices (a `subarray` costs about as much as a simulated
 * write's bookkeeping).
 */
class PatternBuffers {
  readonly #buffers: (Uint8Array | undefined)[] = new Array(256).fill(undefined);
  readonly #views: (Uint8Array | undefined)[] = new Array(256).fill(undefined);

  get(pattern: number, lengthBytes: number): Uint8Array {
    const view = this.#views[pattern];
    if (view !== undefined && view.length === lengthBytes) return view;
    let buffer = this.#buffers[pattern];
    if (buffer === undefined || buffer.length < lengthBytes) {
      buffer = new Uint8Array(lengthBytes).fill(pattern);
      this.#buffers[pattern] = buffer;
    }
    const fresh = buffer.subarray(0, lengthBytes);
    this.#views[pattern] = fresh;
    return fresh;
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

  /** `write -z` options (as fresh objects per write would be: mayUnmap and fua only when set). */
  readonly #zeroOptions: { mayUnmap?: boolean; fua?: boolean };
  readonly #zeroUnmapOptions: { mayUnmap?: boolean; fua?: boolean };

  constructor(image: ImageFormat, clock: SimClock, options: QemuIoSessionOptions) {
    this.#image = image;
    this.#clock = clock;
    this.#options = options;
    this.#zeroOptions = options.writethrough ? { fua: true } : {};
    this.#zeroUnmapOptions = options.writethrough
      ? { mayUnmap: true, fua: true }
      : { mayUnmap: true };
  }

  /** Runs one command; returns false once `abort` has stopped the session. */
  run(command: QemuIoCommand): boolean {
    switch (command.op) {
      case 'write':
        return this.#run(
          IO_OP_WRITE,
          (command.zero ? IO_FLAG_ZERO : 0) | (command.mayUnmap ? IO_FLAG_MAY_UNMAP : 0),
          command.pattern,
          command.offsetBytes,
          command.lengthBytes,
        );
      case 'read':
        return this.#run(
          IO_OP_READ,
          command.pattern === undefined ? 0 : IO_FLAG_PATTERN,
          command.pattern ?? 0,
          command.offsetBytes,
          command.lengthBytes,
        );
      case 'discard':
        return this.#run(IO_OP_DISCARD, 0, 0, command.offsetBytes, command.lengthBytes);
      case 'flush':
        return this.#run(IO_OP_FLUSH, 0, 0, 0, 0);
      case 'abort':
        return this.#run(IO_OP_ABORT, 0, 0, 0, 0);
      case 'sleep':
        return this.#run(IO_OP_SLEEP, 0, 0, command.ms, 0);
    }
  }

  runAll(commands: readonly QemuIoCommand[]): boolean {
    for (const command of commands) if (!this.run(command)) return false;
    return true;
  }

  /** {@link runAll} for a parsed list: no command object is made on the way. */
  runList(commands: QemuIoCommandList): boolean {
    const count = commands.length;
    for (let i = 0; i < count; i++) {
      const ran = this.#run(
        commands.op(i),
        commands.flags(i),
        commands.pattern(i),
        commands.offsetBytes(i),
        commands.lengthBytes(i),
      );
      if (!ran) return false;
    }
    return true;
  }

  /** One command in {@link QemuIoCommandList} form; `offsetBytes` carries a sleep's ms. */
  #run(op: number, flags: number, pattern: number, offsetBytes: number, lengthBytes: number) {
    if (this.aborted) return false;
    const image = this.#image;
    const writethrough = this.#options.writethrough;
    const startNs = this.#clock.nowNs();
    switch (op) {
      case IO_OP_WRITE:
        if (flags & IO_FLAG_ZERO) {
          image.writeZeroes(
            offsetBytes,
            lengthBytes,
            flags & IO_FLAG_MAY_UNMAP ? this.#zeroUnmapOptions : this.#zeroOptions,
          );
        } else image.write(offsetBytes, this.#patterns.get(pattern, lengthBytes));
        // Writethrough: QEMU marks the write FUA and, as no format here supports it, flushes after.
        if (writethrough) image.flush();
        this.#report('wrote', offsetBytes, lengthBytes, startNs);
        break;
      case IO_OP_READ: {
        const data = image.read(offsetBytes, lengthBytes);
        if (flags & IO_FLAG_PATTERN) verifyPattern(data, pattern, offsetBytes);
        this.#report('read', offsetBytes, lengthBytes, startNs);
        break;
      }
      case IO_OP_DISCARD:
        image.discard(offsetBytes, lengthBytes);
        this.#report('discard', offsetBytes, lengthBytes, startNs);
        break;
      case IO_OP_FLUSH:
        image.flush();
        break;
      case IO_OP_ABORT:
        this.aborted = true;
        return false;
      case IO_OP_SLEEP:
        this.#clock.sleepNs(offsetBytes * 1_000_000);
        break;
    }
    this.#clock.runDueTimers();
    return true;
  }

  #reportedLengthBytes = -1;
  #reportedSize = '';

  #report(verb: string, offsetBytes: number, lengthBytes: number, startNs: number): void {
    const print = this.#options.print;
    if (!print) return;
    const seconds = (this.#clock.nowNs() - startNs) / 1e9;
    print(`${verb} ${lengthBytes}/${lengthBytes} bytes at offset ${offsetBytes}`);
    // A script repeats a few lengths: their human-readable sizes are worked out once each.
    if (lengthBytes !== this.#reportedLengthBytes) {
      this.#reportedLengthBytes = lengthBytes;
      this.#reportedSize = formatSize(lengthBytes);
    }
    print(`${this.#reportedSize}, 1 ops; ${seconds.toFixed(6)} sec simulated`);
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
