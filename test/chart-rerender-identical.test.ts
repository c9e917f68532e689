import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { renderSpec } from '../src/report/chart-kinds.ts';
import { FOOTER, tinySpecs } from './helpers/report-fixtures.ts';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const hashAll = () => tinySpecs().map((s) => sha256(renderSpec(s, FOOTER).png));

describe('rendering a chart again gives the same bytes', () => {
  it('is byte-identical within a process and in a fresh process', () => {
    const first = hashAll();
    expect(hashAll()).toEqual(first);
    expect(new Set(first).size).toBe(first.length);
    // A fresh process starts Chart.js and the font registry from scratch: what a rerun of
    // `qedlab plot` does before overwriting committed charts.
    const script = `
      import { createHash } from 'node:crypto';
      import { renderSpec } from './src/report/chart-kinds.ts';
      import { FOOTER, tinySpecs } from './test/helpers/report-fixtures.ts';
      const h = tinySpecs().map((s) => createHash('sha256').update(renderSpec(s, FOOTER).png).digest('hex'));
      process.stdout.write(JSON.stringify(h));`;
    const output = execFileSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: new URL('..', import.meta.url).pathname,
        encoding: 'utf8',
      },
    );
    expect(JSON.parse(output)).toEqual(first);
  });

  it('a different footer gives different bytes', () => {
    const [line] = tinySpecs();
    if (line === undefined) throw new Error('fixture changed');
    const a = sha256(renderSpec(line, FOOTER).png);
    const b = sha256(renderSpec(line, { ...FOOTER, seeds: [3] }).png);
    expect(b).not.toBe(a);
  });
});
