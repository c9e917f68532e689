import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.ts';
import { readResultsFile } from '../src/report/plot-results.ts';
import { LabError } from '../src/util/errors.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qedlab-plot-bad-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('qedlab plot rejects files that are not results with a one-line error', () => {
  it.each([
    ['missing.json', undefined, /missing\.json: no such file/],
    ['garbage.json', 'not json at all', /garbage\.json: not JSON/],
    ['other.json', '{"schema":"something-else","rows":[]}', /not a qedlab-results\/1 results file/],
    ['norows.json', '{"schema":"qedlab-results/1"}', /without rows or meta/],
  ])('%s', (name, content, message) => {
    const file = path.join(dir, name);
    if (content !== undefined) fs.writeFileSync(file, content);
    expect(() => readResultsFile(file)).toThrow(LabError);
    expect(() => readResultsFile(file)).toThrow(message);
  });

  it('prints qedlab: <message> and exits non-zero from the CLI', async () => {
    const file = path.join(dir, 'garbage2.json');
    fs.writeFileSync(file, '{');
    const writes: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => {
      writes.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      await main(['plot', file, '--out', path.join(dir, 'charts')]);
    } finally {
      process.stderr.write = original;
    }
    expect(writes.join('')).toBe(`qedlab: ${file}: not JSON\n`);
    expect(process.exitCode).toBe(1);
    process.exitCode = 0;
  });
});
