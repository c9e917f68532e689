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

const CHAR_SPACE = 0x20;
const CHAR_0 = 0x30;
const CHAR_9 = 0x39;
const CHAR_MINUS = 0x2d;
const MAX_SIMPLE_WORDS = 8;

/** Start and end of each word of the line being parsed (reused: the fast path allocates none). */
const wordStart = new Int32Array(MAX_SIMPLE_WORDS);
const wordEnd = new Int32Array(MAX_SIMPLE_WORDS);

/** The binary shift of a size suffix letter (either case), or -1. */
function suffixShift(code: number): number {
  switch (code | 0x20) {
    case 0x62: // b
      return 0;
    case 0x6b: // k
      return 10;
    case 0x6d: // m
      return 20;
    case 0x67: // g
      return 30;
    case 0x74: // t
      return 40;
    case 0x70: // p
      return 50;
    case 0x65: // e
      return 60;
    default:
      return -1;
  }
}

/** Decimal digits with an optional one-letter suffix, as a safe integer; -1 for anything else. */
function simpleSize(text: string, start: number, end: number): number {
  let shift = 0;
  const last = text.charCodeAt(end - 1);
  if (last > CHAR_9) {
    shift = suffixShift(last);
    if (shift < 0) return -1;
    end--;
  }
  if (end === start || end - start > 15) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - CHAR_0;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  value *= 2 ** shift;
  return Number.isSafeInteger(value) ? value : -1;
}

function hexDigit(code: number): number {
  if (code >= CHAR_0 && code <= CHAR_9) return code - CHAR_0;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** `0x` and one or two hex digits, or one to three decimal digits, as a byte; -1 otherwise. */
function simplePattern(text: string, start: number, end: number): number {
  const length = end - start;
  if ((length === 3 || length === 4) && text.charCodeAt(start) === CHAR_0) {
    if ((text.charCodeAt(start + 1) | 0x20) === 0x78) {
      let value = 0;
      for (let i = start + 2; i < end; i++) {
        const digit = hexDigit(text.charCodeAt(i));
        if (digit < 0) return -1;
        value = value * 16 + digit;
      }
      return value;
    }
  }
  if (length > 3) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - CHAR_0;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value <= 255 ? value : -1;
}

/** Whether word `w` of the line is exactly `literal`. */
function wordIs(text: string, w: number, literal: string): boolean {
  const start = wordStart[w] as number;
  if ((wordEnd[w] as number) - start !== literal.length) return false;
  for (let i = 0; i < literal.length; i++) {
    if (text.charCodeAt(start + i) !== literal.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * The common lines of a long script — `write [-P PATTERN] [-q] [-z] [-u] OFFSET LENGTH`, `read`,
 * `discard`, `flush`, `abort`; words separated by spaces, decimal sizes with an optional suffix —
 * parsed in place from `text[start, end)` without regular expressions or substrings (a
 * 100,000-line script is mostly these). Gives exactly what {@link parseQemuIoCommandGeneral}
 * gives for such a line, and NOT_SIMPLE for every other line (comments, tabs, hex offsets, `sleep`,
 * anything it would reject, …), which the general parser then handles, errors included.
 */
function parseSimpleLine(
  text: string,
  start: number,
  end: number,
): QemuIoCommand | undefined | typeof NOT_SIMPLE {
  let words = 0;
  let inWord = false;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code === CHAR_SPACE) {
      if (inWord) {
        wordEnd[words++] = i;
        inWord = false;
      }
      continue;
    }
    // Letters, digits and '-' only: anything else (tabs, '#', '.', '\r') takes the general path.
    const lower = code | 0x20;
    if (
      !(
        (lower >= 0x61 && lower <= 0x7a) ||
        (code >= CHAR_0 && code <= CHAR_9) ||
        code === CHAR_MINUS
      )
    ) {
      return NOT_SIMPLE;
    }
    if (!inWord) {
      if (words === MAX_SIMPLE_WORDS) return NOT_SIMPLE;
      wordStart[words] = i;
      inWord = true;
    }
  }
  if (inWord) wordEnd[words++] = end;
  if (words === 0) return undefined;
  let op: 'write' | 'read' | 'discard';
  if (wordIs(text, 0, 'write')) op = 'write';
  else if (wordIs(text, 0, 'read')) op = 'read';
  else if (wordIs(text, 0, 'discard')) op = 'discard';
  else if (wordIs(text, 0, 'flush')) return words === 1 ? { op: 'flush' } : NOT_SIMPLE;
  else if (wordIs(text, 0, 'abort')) return words === 1 ? { op: 'abort' } : NOT_SIMPLE;
  else return NOT_SIMPLE;
  let pattern = -1;
  let zero = false;
  let mayUnmap = false;
  let offsetBytes = -1;
  let lengthBytes = -1;
  for (let w = 1; w < words; w++) {
    const ws = wordStart[w] as number;
    const we = wordEnd[w] as number;
    if (text.charCodeAt(ws) === CHAR_MINUS) {
      if (wordIs(text, w, '-q')) continue;
      if (op === 'write' && !zero && wordIs(text, w, '-z')) zero = true;
      else if (op === 'write' && !mayUnmap && wordIs(text, w, '-u')) mayUnmap = true;
      else if (op !== 'discard' && pattern < 0 && w + 1 < words && wordIs(text, w, '-P')) {
        w++;
        pattern = simplePattern(text, wordStart[w] as number, wordEnd[w] as number);
        if (pattern < 0) return NOT_SIMPLE;
      } else return NOT_SIMPLE;
    } else if (offsetBytes < 0) {
      offsetBytes = simpleSize(text, ws, we);
      if (offsetBytes < 0) return NOT_SIMPLE;
    } else if (lengthBytes < 0) {
      lengthBytes = simpleSize(text, ws, we);
      if (lengthBytes < 0) return NOT_SIMPLE;
    } else return NOT_SIMPLE;
  }
  if (lengthBytes < 0) return NOT_SIMPLE;
  if (op === 'write') {
    if ((zero && pattern >= 0) || (mayUnmap && !zero)) return NOT_SIMPLE;
    return {
      op: 'write',
      offsetBytes,
      lengthBytes,
      pattern: pattern >= 0 ? pattern : QEMU_IO_DEFAULT_PATTERN,
      zero,
      mayUnmap,
    };
  }
  if (op === 'read') {
    return { op: 'read', offsetBytes, lengthBytes, pattern: pattern >= 0 ? pattern : undefined };
  }
  return { op: 'discard', offsetBytes, lengthBytes };
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

/** One command per line (as `text.split('\n')` cuts it); the first bad line throws. */
export function parseQemuIoScript(text: string): QemuIoCommand[] {
  const commands: QemuIoCommand[] = [];
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    let command = parseSimpleLine(text, start, end);
    if (command === NOT_SIMPLE) command = parseQemuIoCommandGeneral(text.slice(start, end));
    if (command) commands.push(command);
    start = end + 1;
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
