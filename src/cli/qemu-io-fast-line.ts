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

/** qemu-io fills `write` without -P with 0xcd. */
export const QEMU_IO_DEFAULT_PATTERN = 0xcd;

const CHAR_SPACE = 0x20;
const CHAR_0 = 0x30;
const CHAR_9 = 0x39;
const CHAR_MINUS = 0x2d;
const CHAR_P = 0x50;
const CHAR_Q = 0x71;
const CHAR_U = 0x75;
const CHAR_Z = 0x7a;
const CHAR_X = 0x78;
/** A sentinel "character" for the end of the line: ends a word like a space does. */
const END = -1;

/** Sizes have at most 15 digits: below 2^53 however they are scaled. */
const MAX_SIZE_DIGITS = 15;

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

/** Whether `text[at, end)` starts with the word `literal` (followed by a space or the end). */
function wordAt(text: string, at: number, end: number, literal: string): boolean {
  const after = at + literal.length;
  if (after > end || (after < end && text.charCodeAt(after) !== CHAR_SPACE)) return false;
  for (let i = 0; i < literal.length; i++) {
    if (text.charCodeAt(at + i) !== literal.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * The common lines of a long script — `write [-P PATTERN] [-q] [-z] [-u] OFFSET LENGTH`, `read`,
 * `discard`, `flush`, `abort`; words separated by spaces, decimal sizes with an optional suffix,
 * patterns as `0x` and one or two hex digits or as a decimal byte — read once, left to right,
 * from `text[start, end)` and appended to `out`, with no regular expression, substring or object
 * (a 100,000-line script is mostly these). Gives exactly what the general parser gives for such
 * a line, and SCAN_NOT_SIMPLE (appending nothing) for every other line — comments, tabs, `\r`,
 * hex offsets, `sleep`, a repeated `-P`, anything the general parser would reject — which the
 * general parser then handles, errors included.
 */
export function scanSimpleLine(
  text: string,
  start: number,
  end: number,
  out: QemuIoCommandList,
): number {
  let p = start;
  while (p < end && text.charCodeAt(p) === CHAR_SPACE) p++;
  if (p === end) return SCAN_BLANK;
  let op: number;
  if (wordAt(text, p, end, 'write')) {
    op = IO_OP_WRITE;
    p += 5;
  } else if (wordAt(text, p, end, 'read')) {
    op = IO_OP_READ;
    p += 4;
  } else if (wordAt(text, p, end, 'discard')) {
    op = IO_OP_DISCARD;
    p += 7;
  } else if (wordAt(text, p, end, 'flush')) {
    op = IO_OP_FLUSH;
    p += 5;
  } else if (wordAt(text, p, end, 'abort')) {
    op = IO_OP_ABORT;
    p += 5;
  } else return SCAN_NOT_SIMPLE;
  let pattern = -1;
  let zero = false;
  let mayUnmap = false;
  let offsetBytes = -1;
  let lengthBytes = -1;
  for (;;) {
    while (p < end && text.charCodeAt(p) === CHAR_SPACE) p++;
    if (p === end) break;
    if (op === IO_OP_FLUSH || op === IO_OP_ABORT) return SCAN_NOT_SIMPLE;
    let code = text.charCodeAt(p);
    if (code === CHAR_MINUS) {
      // One option letter, alone in its word.
      if (p + 1 === end || (p + 2 < end && text.charCodeAt(p + 2) !== CHAR_SPACE)) {
        return SCAN_NOT_SIMPLE;
      }
      const option = text.charCodeAt(p + 1);
      p += 2;
      if (option === CHAR_Q) continue;
      if (option === CHAR_Z && op === IO_OP_WRITE && !zero) zero = true;
      else if (option === CHAR_U && op === IO_OP_WRITE && !mayUnmap) mayUnmap = true;
      else if (option === CHAR_P && op !== IO_OP_DISCARD && pattern < 0) {
        while (p < end && text.charCodeAt(p) === CHAR_SPACE) p++;
        if (p === end) return SCAN_NOT_SIMPLE;
        let value = 0;
        let digits = 0;
        code = text.charCodeAt(p);
        if (
          code === CHAR_0 &&
          p + 2 < end &&
          (text.charCodeAt(p + 1) | 0x20) === CHAR_X &&
          hexDigit(text.charCodeAt(p + 2)) >= 0
        ) {
          p += 2;
          code = text.charCodeAt(p);
          let digit = hexDigit(code);
          while (digit >= 0) {
            value = value * 16 + digit;
            digits++;
            code = ++p < end ? text.charCodeAt(p) : END;
            digit = hexDigit(code);
          }
          if (digits > 2) return SCAN_NOT_SIMPLE;
        } else {
          while (code >= CHAR_0 && code <= CHAR_9) {
            value = value * 10 + (code - CHAR_0);
            digits++;
            code = ++p < end ? text.charCodeAt(p) : END;
          }
          if (digits === 0 || digits > 3 || value > 255) return SCAN_NOT_SIMPLE;
        }
        if (code !== END && code !== CHAR_SPACE) return SCAN_NOT_SIMPLE;
        pattern = value;
      } else return SCAN_NOT_SIMPLE;
    } else {
      // OFFSET or LENGTH: decimal digits and an optional suffix letter.
      if (lengthBytes >= 0) return SCAN_NOT_SIMPLE;
      let value = 0;
      let digits = 0;
      while (code >= CHAR_0 && code <= CHAR_9) {
        value = value * 10 + (code - CHAR_0);
        digits++;
        code = ++p < end ? text.charCodeAt(p) : END;
      }
      if (digits === 0 || digits > MAX_SIZE_DIGITS) return SCAN_NOT_SIMPLE;
      if (code !== END && code !== CHAR_SPACE) {
        const multiplier = suffixMultiplier(code);
        if (multiplier < 0) return SCAN_NOT_SIMPLE;
        value *= multiplier;
        if (++p < end && text.charCodeAt(p) !== CHAR_SPACE) return SCAN_NOT_SIMPLE;
        if (!Number.isSafeInteger(value)) return SCAN_NOT_SIMPLE;
      }
      if (offsetBytes < 0) offsetBytes = value;
      else lengthBytes = value;
    }
  }
  if (op === IO_OP_FLUSH || op === IO_OP_ABORT) {
    out.append(op, 0, 0, 0, 0);
    return SCAN_APPENDED;
  }
  if (lengthBytes < 0) return SCAN_NOT_SIMPLE;
  if (op === IO_OP_WRITE) {
    if ((zero && pattern >= 0) || (mayUnmap && !zero)) return SCAN_NOT_SIMPLE;
    out.append(
      IO_OP_WRITE,
      (zero ? IO_FLAG_ZERO : 0) | (mayUnmap ? IO_FLAG_MAY_UNMAP : 0),
      pattern >= 0 ? pattern : QEMU_IO_DEFAULT_PATTERN,
      offsetBytes,
      lengthBytes,
    );
  } else if (op === IO_OP_READ) {
    out.append(
      IO_OP_READ,
      pattern >= 0 ? IO_FLAG_PATTERN : 0,
      Math.max(pattern, 0),
      offsetBytes,
      lengthBytes,
    );
  } else out.append(IO_OP_DISCARD, 0, 0, offsetBytes, lengthBytes);
  return SCAN_APPENDED;
}
