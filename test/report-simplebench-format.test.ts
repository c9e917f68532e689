import { describe, expect, it } from 'vitest';
import { formatMeasured, formatRelative, measure } from '../src/report/text-table.ts';
import { formatG } from '../src/report/units.ts';

describe("cells are written the way QEMU's simplebench writes them", () => {
  it("formats numbers like Python's '.2g' (reference values from python3 format(x, '.2g'))", () => {
    const cases: Array<[number, string]> = [
      [2100, '2.1e+03'],
      [0.52, '0.52'],
      [12, '12'],
      [123, '1.2e+02'],
      [0.0001234, '0.00012'],
      [0.00001234, '1.2e-05'],
      [1, '1'],
      [99.5, '1e+02'],
      [9.96, '10'],
      [1250, '1.2e+03'], // exact tie: Python rounds half to even
      [0.125, '0.12'], // exact tie: JS toPrecision would say 0.13
      [2.25, '2.2'],
      [-3.35, '-3.4'],
      [1e21, '1e+21'],
      [0, '0'],
    ];
    for (const [value, text] of cases) expect(formatG(value), String(value)).toBe(text);
    expect(formatG(123, 3)).toBe('123');
    expect(formatG(0.000123, 3)).toBe('0.000123');
  });

  it('appends the spread over seeds as a rounded-up percentage, dropped below 1.5 %', () => {
    // mean 2100, sample stdev 60 (2.9 %) and 100 (4.8 %): rounded up, as simplebench does
    expect(formatMeasured(measure([2040, 2100, 2160]))).toBe('2.1e+03 ± 3%');
    expect(formatMeasured(measure([2000, 2100, 2200]))).toBe('2.1e+03 ± 5%');
    // stdev 1 % of the mean: not worth printing
    expect(formatMeasured(measure([99, 100, 101]))).toBe('1e+02');
    // one seed: no spread at all
    expect(formatMeasured(measure([512]))).toBe('5.1e+02');
    expect(formatMeasured(measure([512]), 'exact')).toBe('512');
  });

  it('writes relative differences against the baseline as signed percentages or ratios', () => {
    expect(formatRelative(112, 100)).toBe('+12%');
    expect(formatRelative(97, 100)).toBe('-3%');
    expect(formatRelative(100, 100)).toBe('+0%');
    expect(formatRelative(1, 100)).toBe('-99%');
    expect(formatRelative(1200, 100)).toBe('×12');
    expect(formatRelative(5, 0)).toBe('--');
  });
});
