import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IoLogWriter, parseIoLog } from '../src/device/io-log.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { IO_KINDS, type IoRecord } from '../src/device/types.ts';
import { LabError } from '../src/util/errors.ts';
import { Rng } from '../src/util/rng.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qedlab-io-log-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('I/O log (JSON lines)', () => {
  it('IoLogWriter → parseIoLog gives back the identical records', () => {
    const rng = new Rng(11);
    const records: IoRecord[] = [];
    for (let i = 0; i < 3000; i++) {
      const pick = rng.nextInt(5);
      const kind = IO_KINDS[rng.nextInt(IO_KINDS.length)] ?? 'data';
      if (pick === 0) records.push({ op: 'flush' });
      else if (pick === 1) records.push({ op: 'truncate', size: rng.nextInt(2 ** 50) });
      else {
        const op = pick === 2 ? 'read' : pick === 3 ? 'write' : 'zero';
        records.push({ op, offset: rng.nextInt(2 ** 50), length: rng.nextInt(1 << 24), kind });
      }
    }
    const file = path.join(dir, 'io.jsonl');
    const writer = new IoLogWriter(file);
    for (const r of records) writer.record(r);
    // Written under a temporary name until closed.
    expect(fs.existsSync(file)).toBe(false);
    writer.close();
    expect(parseIoLog(fs.readFileSync(file, 'utf8'))).toEqual(records);
  });

  it('a MeteredDevice log in the documented shape', () => {
    const file = path.join(dir, 'io.jsonl');
    const writer = new IoLogWriter(file);
    const device = new MeteredDevice(new MemoryDevice(), { log: writer.record });
    device.write(0, new Uint8Array(512), 'header');
    device.flush();
    device.truncate(4096);
    writer.close();
    expect(fs.readFileSync(file, 'utf8')).toBe(
      '{"op":"write","offset":0,"length":512,"kind":"header"}\n{"op":"flush"}\n{"op":"truncate","size":4096}\n',
    );
  });

  it.each([
    ['not json', /line 2: not JSON/],
    ['{"op":"read","offset":0,"length":1}', /line 2: bad read record/],
    ['{"op":"write","offset":-1,"length":1,"kind":"data"}', /line 2: bad write record/],
    ['{"op":"zero","offset":0,"length":1.5,"kind":"data"}', /line 2: bad zero record/],
    ['{"op":"read","offset":0,"length":1,"kind":"l3"}', /line 2: bad read record/],
    ['{"op":"truncate"}', /line 2: bad truncate record/],
    ['{"op":"discard","offset":0,"length":1}', /line 2: unknown op "discard"/],
  ])('rejects a malformed line with its line number: %s', (line, message) => {
    const text = `{"op":"flush"}\n${line}\n`;
    expect(() => parseIoLog(text)).toThrow(LabError);
    expect(() => parseIoLog(text)).toThrow(message);
  });

  it('ignores blank lines', () => {
    expect(parseIoLog('\n{"op":"flush"}\n\n')).toEqual([{ op: 'flush' }]);
  });
});
