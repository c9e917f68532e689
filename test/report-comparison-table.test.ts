import { describe, expect, it } from 'vitest';
import { measure, renderComparisonTable } from '../src/report/text-table.ts';

describe('comparison tables are fixed-width with differences against the baseline column', () => {
  it('letters three or more columns and prints a difference row under each case', () => {
    const text = renderComparisonTable({
      title: 'fsck time after a power cut, ms (HDD)',
      rowTitle: 'virtual size',
      columns: ['qed', 'qcow2', 'raw'],
      rows: [
        { label: '1 TiB', cells: [measure([100, 100]), measure([150, 150]), measure([0, 0])] },
        { label: '1 PiB', cells: [measure([2000, 2200]), undefined, measure([0, 0])] },
      ],
    });
    expect(text).toBe(
      [
        'fsck time after a power cut, ms (HDD)',
        '',
        '              A             B        C',
        'virtual size  qed           qcow2    raw',
        '------------  ------------  -------  ------',
        '1 TiB         1e+02         1.5e+02  0',
        '                            A+50%    A-100%',
        '1 PiB         2.1e+03 ± 7%  -        0',
        '                                     A-100%',
      ].join('\n'),
    );
  });

  it('keeps every column aligned to a fixed width', () => {
    const text = renderComparisonTable({
      title: 't',
      rowTitle: 'workload',
      columns: ['qed', 'qed:freelist'],
      rows: [
        { label: 'discard-churn', cells: [measure([1]), measure([2])] },
        { label: 'random', cells: [measure([12345]), measure([10])] },
      ],
    });
    const lines = text.split('\n').slice(2);
    const qedColumn = (lines[0] ?? '').indexOf('qed');
    const variantColumn = (lines[0] ?? '').indexOf('qed:freelist');
    expect(lines[2]?.indexOf('1')).toBe(qedColumn);
    expect(lines[2]?.lastIndexOf('2')).toBe(variantColumn);
    // two columns: no letters, differences read +100%
    expect(lines[3]?.trim()).toBe('+100%');
    expect(lines[4]?.indexOf('1.2e+04')).toBe(qedColumn);
    expect(lines[5]?.trim()).toBe('-100%');
  });
});
