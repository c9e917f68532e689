import { describe, expect, it } from 'vitest';
import { groupedCategoryLabels } from '../src/report/plots.ts';

describe('bar labels name each workload once, under the middle bar of its run', () => {
  it('blanks repeated group names and keeps every format name', () => {
    expect(
      groupedCategoryLabels([
        ['random', 'qed'],
        ['random', 'qcow2'],
        ['random', 'raw'],
        ['discard-churn', 'qed'],
        ['discard-churn', 'raw'],
      ]),
    ).toEqual([
      ['', 'qed'],
      ['random', 'qcow2'],
      ['', 'raw'],
      ['discard-churn', 'qed'],
      ['', 'raw'],
    ]);
  });

  it('groups each line by everything above it', () => {
    expect(
      groupedCategoryLabels([
        ['seq', '1 GiB', 'qed'],
        ['seq', '4 GiB', 'qed'],
        ['rand', '4 GiB', 'qed'],
      ]),
    ).toEqual([
      ['seq', '1 GiB', 'qed'],
      ['', '4 GiB', 'qed'],
      ['rand', '4 GiB', 'qed'],
    ]);
  });
});
