import * as fs from 'node:fs';
import { LabError } from '../util/errors.ts';
import { IO_KINDS, type IoKind, type IoRecord } from './types.ts';

/** One host operation as a JSON line (`offset`/`length` omitted for flush, `size` for truncate). */
export function formatIoRecord(record: IoRecord): string {
  return JSON.stringify(record);
}

const KINDS = new Set<string>(IO_KINDS);

/** Parses one JSON line of the I/O log, rejecting anything that is not a well-formed record. */
export function parseIoRecord(line: string, where = 'I/O log'): IoRecord {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new LabError('IO_LOG', `${where}: not JSON: ${line.slice(0, 80)}`);
  }
  const v = value as Record<string, unknown>;
  const isCount = (x: unknown): x is number =>
    typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  switch (v.op) {
    case 'read':
    case 'write':
    case 'zero':
      if (
        !isCount(v.offset) ||
        !isCount(v.length) ||
        typeof v.kind !== 'string' ||
        !KINDS.has(v.kind)
      ) {
        throw new LabError('IO_LOG', `${where}: bad ${v.op} record: ${line.slice(0, 80)}`);
      }
      return { op: v.op, offset: v.offset, length: v.length, kind: v.kind as IoKind };
    case 'flush':
      return { op: 'flush' };
    case 'truncate':
      if (!isCount(v.size))
        throw new LabError('IO_LOG', `${where}: bad truncate record: ${line.slice(0, 80)}`);
      return { op: 'truncate', size: v.size };
    default:
      throw new LabError('IO_LOG', `${where}: unknown op ${JSON.stringify(v.op)}`);
  }
}

/** Parses a whole log (blank lines ignored); errors name the line number. */
export function parseIoLog(text: string): IoRecord[] {
  const records: IoRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]?.trim() ?? '';
    if (line !== '') records.push(parseIoRecord(line, `I/O log line ${i + 1}`));
  }
  return records;
}

/**
 * Appends records to a JSON-lines file, buffered. The file is written under a temporary name and
 * renamed on `close()`, so an interrupted run never leaves a truncated log where a complete one
 * was expected.
 */
export class IoLogWriter {
  readonly path: string;
  readonly #temporaryPath: string;
  #fd: number;
  #buffer: string[] = [];
  #bufferedChars = 0;

  constructor(path: string) {
    this.path = path;
    this.#temporaryPath = `${path}.partial-${process.pid}`;
    this.#fd = fs.openSync(this.#temporaryPath, 'w');
  }

  /** Bound method, usable directly as a MeteredDevice `log` callback. */
  readonly record = (record: IoRecord): void => {
    const line = formatIoRecord(record);
    this.#buffer.push(line);
    this.#bufferedChars += line.length + 1;
    if (this.#bufferedChars >= 1 << 20) this.#drain();
  };

  close(): void {
    if (this.#fd < 0) return;
    this.#drain();
    fs.closeSync(this.#fd);
    this.#fd = -1;
    fs.renameSync(this.#temporaryPath, this.path);
  }

  #drain(): void {
    if (this.#buffer.length === 0) return;
    fs.writeSync(this.#fd, `${this.#buffer.join('\n')}\n`);
    this.#buffer = [];
    this.#bufferedChars = 0;
  }
}
