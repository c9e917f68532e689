import { describe, expect, it } from 'vitest';
import { expandSuite } from '../src/bench/cases.ts';
import { filterCases } from '../src/bench/filter.ts';
import { parseSuite } from '../src/bench/suite.ts';

const raw = {
  name: 'sweep',
  seeds: [1, 2, 3],
  groups: [
    {
      name: 'size',
      formats: ['raw', { format: 'raw', label: 'raw-big' }],
      workloads: [{ type: 'sparse', density: ['0.01%', '0.1%'], bs: ['4k', '64k'] }],
      sizes: ['1G', '1T'],
      devices: ['hdd', 'nvme'],
    },
    {
      name: 'one',
      formats: ['raw'],
      workloads: [{ type: 'random', label: 'rw', requests: 10 }],
      sizes: ['1G'],
      seeds: [9],
    },
  ],
};

describe('suite expansion: formats × workloads (× swept params) × sizes × devices × seeds', () => {
  const suite = parseSuite(raw, 'sweep.json');
  const { cases } = expandSuite(suite);

  it('produces the cartesian product, in a stable order', () => {
    // 2 formats × (2 densities × 2 block sizes) × 2 sizes × 2 devices × 3 seeds + 1
    expect(cases).toHaveLength(2 * 4 * 2 * 2 * 3 + 1);
    expect(cases[0]?.caseId).toBe('size/raw/sparse(density=0.01%,bs=4KiB)/1GiB/hdd/seed=1');
    expect(cases[1]?.caseId).toBe('size/raw/sparse(density=0.01%,bs=4KiB)/1GiB/hdd/seed=2');
    expect(cases.at(-1)?.caseId).toBe('one/raw/rw/1GiB/none/seed=9');
    expect(new Set(cases.map((c) => c.caseId)).size).toBe(cases.length);
    expect(expandSuite(suite).cases.map((c) => c.caseId)).toEqual(cases.map((c) => c.caseId));
  });

  it('seeds share a config id', () => {
    const ids = cases.filter((c) => c.group === 'size').map((c) => c.configId);
    expect(new Set(ids).size).toBe(ids.length / 3);
  });

  it('filters: key=glob terms joined by commas, bare words match the case id, repeats are unions', () => {
    expect(filterCases(cases, ['device=hdd,size=1TiB,seed=1'])).toHaveLength(2 * 4);
    expect(filterCases(cases, ['label=raw-*'])).toHaveLength(48);
    expect(filterCases(cases, ['group!=size'])).toHaveLength(1);
    expect(filterCases(cases, ['64KiB)'])).toHaveLength(48);
    expect(filterCases(cases, ['group=one', 'device=nvme,seed=3,label=raw'])).toHaveLength(
      1 + 4 * 2,
    );
    expect(() => filterCases(cases, ['colour=red'])).toThrow(/--filter: unknown key 'colour'/);
  });

  it('sizeOptions add create options above a virtual size', () => {
    const s = parseSuite(
      {
        name: 'x',
        groups: [
          {
            name: 'g',
            formats: [
              {
                format: 'raw',
                options: {},
                sizeOptions: [{ above: '64T', options: { table_size: 16 } }],
              },
            ],
            workloads: [{ type: 'tb-sparse', requests: 8 }],
            sizes: ['64T', '128T'],
          },
        ],
      },
      'x.json',
    );
    expect(expandSuite(s).cases.map((c) => c.createOptions)).toEqual([{}, { table_size: '16' }]);
  });

  it('a workload that does not fit a size is a suite error naming the workload key', () => {
    const s = parseSuite(
      {
        name: 'x',
        groups: [
          {
            name: 'g',
            formats: ['raw'],
            workloads: [{ type: 'random', workingSet: '2G' }],
            sizes: ['1G'],
          },
        ],
      },
      'x.json',
    );
    expect(() => expandSuite(s)).toThrow(
      /^x\.json: groups\[0\]\.workloads\[0\]\.workingSet: at size 1GiB: offset \+ workingSet/,
    );
  });

  it('optional formats without a driver are skipped and reported', () => {
    const s = parseSuite(
      {
        name: 'x',
        groups: [
          {
            name: 'g',
            formats: ['raw', { format: 'vhdx', optional: true }],
            workloads: [{ type: 'random', requests: 1 }],
            sizes: ['1G'],
          },
        ],
      },
      'x.json',
    );
    const e = expandSuite(s);
    expect(e.skippedFormats).toEqual(['vhdx']);
    expect(e.cases.map((c) => c.format)).toEqual(['raw']);
  });
});
