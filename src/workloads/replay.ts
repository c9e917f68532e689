import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseQemuIoCommand, type QemuIoCommand } from '../cli/qemu-io-script.ts';
import { LabError } from '../util/errors.ts';
import { formatSize } from '../util/size.ts';
import { fioIologRequests, isFioIolog } from './fio-iolog.ts';
import { ParamError } from './params.ts';
import type { GuestRequest } from './types.ts';
import type { WorkloadType } from './workload-type.ts';

/**
 * Replays a recorded trace: a fio `read_iolog` (v2/v3) file, or a qemu-io command script. The
 * file is parsed once up front to validate it and count its requests, then streamed again line by
 * line for the run, so a long trace is never held as a list of requests.
 */
export const replayWorkload: WorkloadType = {
  name: 'replay',
  describe: 'replay a fio read_iolog (v2/v3) file or a qemu-io command script',
  params: {
    file: { kind: 'string', help: 'trace file (relative to the suite file)' },
    format: {
      kind: 'enum',
      choices: ['auto', 'fio-iolog', 'qemu-io'],
      help: 'trace format (default: auto, by the first line)',
    },
  },
  excludesCommon: ['requests', 'bs', 'offset', 'workingSet', 'align', 'readPercent'],
  create(params, context) {
    if (typeof params.file !== 'string') throw new ParamError('file', 'replay needs a trace file');
    const filePath = path.resolve(context.baseDir ?? '.', params.file);
    let text: string;
    try {
      text = fs.readFileSync(filePath, 'utf8');
    } catch (error) {
      throw new ParamError(
        'file',
        `cannot read '${params.file}': ${(error as NodeJS.ErrnoException).code ?? error}`,
      );
    }
    const format =
      params.format === 'fio-iolog' || params.format === 'qemu-io'
        ? params.format
        : isFioIolog(text)
          ? 'fio-iolog'
          : 'qemu-io';
    const where = params.file;
    const flushEvery = typeof params.flushEvery === 'number' ? params.flushEvery : 0;
    const parse = (): Iterable<GuestRequest> =>
      withFlushEvery(
        format === 'fio-iolog' ? fioIologRequests(text, where) : qemuIoRequests(text, where),
        flushEvery,
      );
    let count = 0;
    for (const request of parse()) {
      if (request.offsetBytes + request.lengthBytes > context.virtualSizeBytes)
        throw new LabError(
          'REPLAY',
          `${where}: ${request.op} ${request.offsetBytes}+${request.lengthBytes} is past the end of the ${formatSize(context.virtualSizeBytes)} image`,
        );
      count++;
    }
    return { type: 'replay', requestCount: count, requests: parse };
  },
};

function* withFlushEvery(
  requests: Iterable<GuestRequest>,
  flushEvery: number,
): Generator<GuestRequest> {
  let sinceFlush = 0;
  for (const request of requests) {
    yield request;
    if (
      flushEvery > 0 &&
      (request.op === 'read' || request.op === 'write') &&
      ++sinceFlush === flushEvery
    ) {
      sinceFlush = 0;
      yield { op: 'flush', offsetBytes: 0, lengthBytes: 0 };
    }
  }
}

/**
 * qemu-io commands, one per line, parsed by the `io` command's own parser so a script replays the
 * same in both. `abort` ends the trace (the runner then cuts the power as at any trace's end).
 */
function* qemuIoRequests(text: string, where: string): Generator<GuestRequest> {
  let lineNo = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    lineNo++;
    let command: QemuIoCommand | undefined;
    try {
      command = parseQemuIoCommand(line);
    } catch (error) {
      throw new LabError('REPLAY', `${where}:${lineNo}: ${(error as Error).message}`);
    }
    if (!command) continue;
    switch (command.op) {
      case 'write':
        yield command.zero
          ? { op: 'zero', offsetBytes: command.offsetBytes, lengthBytes: command.lengthBytes }
          : {
              op: 'write',
              offsetBytes: command.offsetBytes,
              lengthBytes: command.lengthBytes,
              pattern: command.pattern,
            };
        break;
      case 'read':
      case 'discard':
        yield {
          op: command.op,
          offsetBytes: command.offsetBytes,
          lengthBytes: command.lengthBytes,
        };
        break;
      case 'flush':
        yield { op: 'flush', offsetBytes: 0, lengthBytes: 0 };
        break;
      case 'sleep':
        yield { op: 'sleep', offsetBytes: 0, lengthBytes: 0, durationNs: command.ms * 1e6 };
        break;
      case 'abort':
        return;
    }
  }
}
