import { LabError } from '../util/errors.ts';
import type { GuestRequest } from './types.ts';

/**
 * fio `read_iolog` files, versions 2 and 3 ("fio version 2 iolog"): one line per action,
 * `FILE add|open|close` or `FILE read|write|trim|sync|datasync|wait OFFSET LENGTH`; version 3
 * prefixes each line with a timestamp in milliseconds. `wait` carries its delay in microseconds in
 * the offset field (what fio's iolog replay reads). A trace of one file maps onto one image.
 */
export const FIO_IOLOG_HEADER = /^fio version ([23]) iolog\s*$/;

export function isFioIolog(text: string): boolean {
  return FIO_IOLOG_HEADER.test(firstLine(text));
}

/** Yields the guest requests of an iolog's text, parsing line by line; errors name the line. */
export function* fioIologRequests(text: string, where: string): Generator<GuestRequest> {
  const header = FIO_IOLOG_HEADER.exec(firstLine(text));
  if (!header)
    throw new LabError(
      'REPLAY',
      `${where}: not a fio iolog (expected "fio version 2 iolog" on line 1)`,
    );
  const version = Number(header[1]);
  let fileName: string | undefined;
  let lastTimestampMs: number | undefined;
  let lineNo = 1;
  let start = text.indexOf('\n') + 1;
  while (start > 0 && start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).trim();
    start = end + 1;
    lineNo++;
    if (line === '') continue;
    const fail = (reason: string): never => {
      throw new LabError('REPLAY', `${where}:${lineNo}: ${reason}: ${line.slice(0, 80)}`);
    };
    const fields = line.split(/\s+/);
    if (version === 3) {
      const ts = parseCount(fields.shift());
      if (ts === undefined) fail('expected a timestamp in ms first (iolog version 3)');
      else {
        if (lastTimestampMs !== undefined && ts > lastTimestampMs)
          yield {
            op: 'sleep',
            offsetBytes: 0,
            lengthBytes: 0,
            durationNs: (ts - lastTimestampMs) * 1e6,
          };
        lastTimestampMs = ts;
      }
    }
    const [file, action, offsetText, lengthText] = fields;
    if (file === undefined || action === undefined) fail('expected "FILE ACTION [OFFSET LENGTH]"');
    if (fileName === undefined) fileName = file;
    else if (file !== fileName)
      fail(`a second file '${file}' (the lab replays a trace of one file onto one image)`);
    switch (action) {
      case 'add':
      case 'open':
      case 'close':
        continue;
      case 'read':
      case 'write':
      case 'trim': {
        const offsetBytes = parseCount(offsetText);
        const lengthBytes = parseCount(lengthText);
        if (offsetBytes === undefined || lengthBytes === undefined)
          fail('expected a byte offset and length');
        yield {
          op: action === 'trim' ? 'discard' : action,
          offsetBytes: offsetBytes as number,
          lengthBytes: lengthBytes as number,
        };
        continue;
      }
      case 'sync':
      case 'datasync':
        yield { op: 'flush', offsetBytes: 0, lengthBytes: 0 };
        continue;
      case 'wait': {
        const delayUs = parseCount(offsetText);
        if (delayUs === undefined) fail('expected the delay in µs');
        yield {
          op: 'sleep',
          offsetBytes: 0,
          lengthBytes: 0,
          durationNs: (delayUs as number) * 1000,
        };
        continue;
      }
      default:
        fail(`unknown action '${action}'`);
    }
  }
}

function firstLine(text: string): string {
  const nl = text.indexOf('\n');
  return nl < 0 ? text : text.slice(0, nl);
}

function parseCount(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
