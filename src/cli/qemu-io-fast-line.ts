import {
  IO_FLAG_MAY_UNMAP,
  IO_FLAG_PATTERN,
  IO_FLAG_ZERO,
  IO_OP_ABORT,
  IO_OP_DISCARD,
  IO_OP_FLUSH,
  IO_OP_READ,
  IO_OP_WRITE,
  type QemuIoCommandList,
} from './qemu-io-command-list.ts';

/** What {@link scanSimpleLine} did with a line. */
export const SCAN_BLANK = 0;
export const SCAN_APPENDED = 1;
export const SCAN_NOT_SIMPLE = 2;

/**
 * What {@link scanLine} returns for a line without a command and for one it leaves to the
 * general parser; for a command it returns `op | flags << 3 | pattern << 8`, the command's
 * offset and length in {@link lineBytes} (so the scanner allocates nothing and stays small).
 */
const LINE_BLANK = -1;
const LINE_NOT_SIMPLE = -2;
const lineBytes = new Float64Array(2);

/** qemu-io fills `write` without -P with 0xcd. */
export const QEMU_IO_DEFAULT_PATTERN = 0xcd;

const CHAR_SPACE = 0x20;
const CHAR_0 = 0x30;
const CHAR_9 = 0x39;
const CHAR_MINUS = 0x2d;
const CHAR_X = 0x78;

/** Sizes have at most 15 digits: below 2^53 however they are scaled. */
const MAX_SIZE_DIGITS = 15;

/**
 * A word's first four characters, and its fifth to seventh, as base-128 numbers: small integers
 * that name every word of up to seven letters, digits and '-' exactly (no command, option or
 * pattern is longer), without reading the word twice.
 */
function headKey(word: string): number {
  let key = 0;
  for (let i = 0; i < Math.min(word.length, 4); i++) key = key * 128 + word.charCodeAt(i);
  return key;
}

function tailKey(word: string): number {
  let key = 0;
  for (let i = 4; i < Math.min(word.length, 7); i++) key = key * 128 + word.charCodeAt(i);
  return key;
}

const WRITE_HEAD = headKey('write');
const WRITE_TAIL = tailKey('write');
const READ_HEAD = headKey('read');
const DISCARD_HEAD = headKey('discard');
const DISCARD_TAIL = tailKey('discard');
const FLUSH_HEAD = headKey('flush');
const FLUSH_TAIL = tailKey('flush');
const ABORT_HEAD = headKey('abort');
const ABORT_TAIL = tailKey('abort');
const OPTION_Q = headKey('-q');
const OPTION_Z = headKey('-z');
const OPTION_U = headKey('-u');
const OPTION_P = headKey('-P');

/** The multiplier of a size suffix letter (either case, as qemu-io's cvtnum takes it), or -1. */
function suffixMultiplier(code: number): number {
  switch (code | 0x20) {
    case 0x62: // b
      return 1;
    case 0x6b: // k
      return 2 ** 10;
    case 0x6d: // m
      return 2 ** 20;
    case 0x67: // g
      return 2 ** 30;
    case 0x74: // t
      return 2 ** 40;
    case 0x70: // p
      return 2 ** 50;
    case 0x65: // e
      return 2 ** 60;
    default:
      return -1;
  }
}

function hexDigit(code: number): number {
  if (code >= CHAR_0 && code <= CHAR_9) return code - CHAR_0;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * A `-P` pattern word as a byte: `0x` and one or two hex digits, or one to three decimal digits
 * up to 255; -1 for anything else. `head` holds its first four characters (see {@link headKey}),
 * `digits` how many of them lead as decimal digits, `value` their value.
 */
function patternOf(length: number, head: number, digits: number, value: number): number {
  if (length === 3 || length === 4) {
    // The first two characters: `0x` or `0X`?
    const prefix = head >> (7 * (length - 2));
    if (prefix >> 7 === CHAR_0 && ((prefix & 127) | 0x20) === CHAR_X) {
      const low = hexDigit(head & 127);
      const high = length === 4 ? hexDigit((head >> 7) & 127) : 0;
      return high < 0 || low < 0 ? -1 : high * 16 + low;
    }
  }
  return digits === length && length <= 3 && value <= 255 ? value : -1;
}

/**
 * An OFFSET or LENGTH word as bytes: decimal digits and an optional suffix letter (its last
 * character `last`), as a safe integer; -1 for anything else.
 */
function sizeOf(length: number, digits: number, value: number, last: number): number {
  if (digits === 0 || digits > MAX_SIZE_DIGITS) return -1;
  if (digits === length) return value;
  if (digits !== length - 1) return -1;
  const multiplier = suffixMultiplier(last);
  if (multiplier < 0) return -1;
  const bytes = value * multiplier;
  return Number.isSafeInteger(bytes) ? bytes : -1;
}

/**
 * The common lines of a long script — `write [-P PATTERN] [-q] [-z] [-u] OFFSET LENGTH`, `read`,
 * `discard`, `flush`, `abort`; words separated by spaces, decimal sizes with an optional suffix,
 * patterns as `0x` and one or two hex digits or as a decimal byte — read once, character by
 * character, from `text[start, end)`, with no regular expression, substring or object (a
 * 100,000-line script is mostly these). Each word is summed up as it is read (its first seven
 * characters as two small numbers, its leading digits' value), so nothing is read twice and the
 * function stays small enough for the JIT to optimise early in a one-shot parse. Gives exactly
 * what the general parser gives for such a line, and LINE_NOT_SIMPLE for every other line —
 * comments, tabs, `\r`, hex offsets, `sleep`, a repeated `-P`, anything the general parser
 * would reject — which the general parser then handles, errors included.
 */
function scanLine(text: string, start: number, end: number): number {
  let op = -1;
  let pattern = -1;
  let wantPattern = false;
  let zero = false;
  let mayUnmap = false;
  let offsetBytes = -1;
  let lengthBytes = -1;
  // The word being read.
  let length = 0;
  let head = 0;
  let tail = 0;
  let digits = 0;
  let value = 0;
  let first = 0;
  let last = 0;
  for (let p = start; ; p++) {
    const code = p < end ? text.charCodeAt(p) : CHAR_SPACE;
    if (code !== CHAR_SPACE) {
      if (code >= CHAR_0 && code <= CHAR_9) {
        if (digits === length) {
          value = value * 10 + (code - CHAR_0);
          digits++;
        }
      } else if (code !== CHAR_MINUS) {
        // Letters, digits and '-' only: anything else takes the general path.
        const lower = code | 0x20;
        if (lower < 0x61 || lower > 0x7a) return LINE_NOT_SIMPLE;
      }
      if (length === 0) first = code;
      if (length < 4) head = head * 128 + code;
      else if (length < 7) tail = tail * 128 + code;
      last = code;
      length++;
      continue;
    }
    if (length > 0) {
      if (op < 0) {
        if (length > 7) return LINE_NOT_SIMPLE;
        if (head === WRITE_HEAD && tail === WRITE_TAIL && length === 5) op = IO_OP_WRITE;
        else if (head === READ_HEAD && length === 4) op = IO_OP_READ;
        else if (head === DISCARD_HEAD && tail === DISCARD_TAIL && length === 7) op = IO_OP_DISCARD;
        else if (head === FLUSH_HEAD && tail === FLUSH_TAIL && length === 5) op = IO_OP_FLUSH;
        else if (head === ABORT_HEAD && tail === ABORT_TAIL && length === 5) op = IO_OP_ABORT;
        else return LINE_NOT_SIMPLE;
      } else if (op === IO_OP_FLUSH || op === IO_OP_ABORT) return LINE_NOT_SIMPLE;
      else if (wantPattern) {
        pattern = patternOf(length, head, digits, value);
        if (pattern < 0) return LINE_NOT_SIMPLE;
        wantPattern = false;
      } else if (first === CHAR_MINUS) {
        if (length !== 2) return LINE_NOT_SIMPLE;
        if (head === OPTION_Q) {
          // -q: quiet, which the session's caller decides.
        } else if (head === OPTION_Z && op === IO_OP_WRITE && !zero) zero = true;
        else if (head === OPTION_U && op === IO_OP_WRITE && !mayUnmap) mayUnmap = true;
        else if (head === OPTION_P && op !== IO_OP_DISCARD && pattern < 0) wantPattern = true;
        else return LINE_NOT_SIMPLE;
      } else {
        if (lengthBytes >= 0) return LINE_NOT_SIMPLE;
        const bytes = sizeOf(length, digits, value, last);
        if (bytes < 0) return LINE_NOT_SIMPLE;
        if (offsetBytes < 0) offsetBytes = bytes;
        else lengthBytes = bytes;
      }
      length = 0;
      head = 0;
      tail = 0;
      digits = 0;
      value = 0;
    }
    if (p >= end) break;
  }
  if (op < 0) return LINE_BLANK;
  if (wantPattern) return LINE_NOT_SIMPLE;
  if (op === IO_OP_FLUSH || op === IO_OP_ABORT) return op;
  if (lengthBytes < 0) return LINE_NOT_SIMPLE;
  let flags = 0;
  if (op === IO_OP_WRITE) {
    if ((zero && pattern >= 0) || (mayUnmap && !zero)) return LINE_NOT_SIMPLE;
    flags = (zero ? IO_FLAG_ZERO : 0) | (mayUnmap ? IO_FLAG_MAY_UNMAP : 0);
    if (pattern < 0) pattern = QEMU_IO_DEFAULT_PATTERN;
  } else if (op === IO_OP_READ && pattern >= 0) flags = IO_FLAG_PATTERN;
  lineBytes[0] = offsetBytes;
  lineBytes[1] = lengthBytes;
  return op | (flags << 3) | (Math.max(pattern, 0) << 8);
}

/**
 * {@link scanLine} for `text[start, end)`, the command appended to `out`: SCAN_APPENDED,
 * SCAN_BLANK, or SCAN_NOT_SIMPLE (nothing appended) for a line the general parser must read.
 */
export function scanSimpleLine(
  text: string,
  start: number,
  end: number,
  out: QemuIoCommandList,
): number {
  const line = scanLine(text, start, end);
  if (line < 0) return line === LINE_BLANK ? SCAN_BLANK : SCAN_NOT_SIMPLE;
  out.append(line & 7, (line >> 3) & 7, line >> 8, lineBytes[0] as number, lineBytes[1] as number);
  return SCAN_APPENDED;
}
