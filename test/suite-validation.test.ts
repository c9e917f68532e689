import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSuite, parseSuite, SuiteError } from '../src/bench/suite.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qedlab-suite-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const good = {
  name: 'small',
  seeds: [1, 2],
  groups: [
    {
      name: 'g',
      formats: ['raw'],
      workloads: [{ type: 'random', requests: 100 }],
      sizes: ['1G'],
      devices: ['nvme'],
    },
  ],
};

function withGroup(patch: Record<string, unknown>): unknown {
  return { ...good, groups: [{ ...good.groups[0], ...patch }] };
}

function errorOf(raw: unknown): SuiteError {
  try {
    parseSuite(raw, 'suite.json');
  } catch (error) {
    if (error instanceof SuiteError) return error;
    throw error;
  }
  throw new Error('no error');
}

describe('suite validation rejects bad suites with file, key and reason', () => {
  it('accepts a well-formed suite', () => {
    const suite = parseSuite(good, 'suite.json');
    expect(suite.groups[0]?.seeds).toEqual([1, 2]);
    expect(suite.groups[0]?.sizesBytes).toEqual([2 ** 30]);
    expect(suite.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    [{ ...good, colour: 'blue' }, 'colour', /unknown key/],
    [{ ...good, name: 'a/b' }, 'name', /letters, digits/],
    [{ ...good, seeds: [1, 1] }, 'seeds', /duplicate seeds/],
    [{ ...good, seeds: [-1] }, 'seeds[0]', /32-bit unsigned integer/],
    [{ ...good, groups: [] }, 'groups', /non-empty array/],
    [withGroup({ sizes: ['1Q'] }), 'groups[0].sizes[0]', /invalid size/],
    [withGroup({ sizes: [1000] }), 'groups[0].sizes[0]', /multiple of 512/],
    [
      withGroup({ devices: ['ssd'] }),
      'groups[0].devices[0]',
      /unknown device model "ssd" \(known: none, hdd/,
    ],
    [withGroup({ formats: ['vmdk'] }), 'groups[0].formats[0].format', /unknown format 'vmdk'/],
    [
      withGroup({ formats: [{ format: 'raw', variant: 'turbo' }] }),
      'groups[0].formats[0].variant',
      /unknown variant 'turbo'/,
    ],
    [
      withGroup({ formats: [{ format: 'raw', colour: 1 }] }),
      'groups[0].formats[0].colour',
      /unknown key/,
    ],
    [
      withGroup({ workloads: [{ type: 'randwrite' }] }),
      'groups[0].workloads[0].type',
      /unknown workload "randwrite"/,
    ],
    [
      withGroup({ workloads: [{ type: 'random', blocksize: '4k' }] }),
      'groups[0].workloads[0].blocksize',
      /unknown parameter for workload 'random'/,
    ],
    [
      withGroup({ workloads: [{ type: 'random', bs: 'huge' }] }),
      'groups[0].workloads[0].bs',
      /invalid size/,
    ],
    [
      withGroup({ workloads: [{ type: 'random', readPercent: 150 }] }),
      'groups[0].workloads[0].readPercent',
      /percentage from 0 to 100/,
    ],
    [
      withGroup({ workloads: [{ type: 'sparse', density: '5' }] }),
      'groups[0].workloads[0].density',
      /fraction in \(0, 1\]/,
    ],
    [
      withGroup({ workloads: [{ type: 'checkpoint', snapshots: 20000 }] }),
      'groups[0].workloads[0].snapshots',
      /at most 10000/,
    ],
    [
      withGroup({ workloads: [{ type: 'random', requests: [] }] }),
      'groups[0].workloads[0].requests',
      /empty sweep/,
    ],
    [withGroup({ crashPoints: -1 }), 'groups[0].crashPoints', /whole number from 0 to 1000/],
    [withGroup({ cache: 'none' }), 'groups[0].cache', /writeback, writethrough/],
    [withGroup({ quick: { sizes: ['1G'], bogus: 1 } }), 'groups[0].quick.bogus', /unknown key/],
    [
      { ...good, groups: [good.groups[0], good.groups[0]] },
      'groups[1].name',
      /duplicate group name 'g'/,
    ],
  ])('%#: %s → %s', (raw, key, reason) => {
    const error = errorOf(raw);
    expect(error.file).toBe('suite.json');
    expect(error.key).toBe(key);
    expect(error.reason).toMatch(reason);
    expect(error.message).toBe(`suite.json: ${key}: ${error.reason}`);
  });

  it('reports unreadable and non-JSON files by name', () => {
    const broken = path.join(dir, 'broken.json');
    fs.writeFileSync(broken, '{ "name": ');
    expect(() => loadSuite(broken)).toThrow(/broken\.json: \(file\): not valid JSON/);
    expect(() => loadSuite(path.join(dir, 'absent.json'))).toThrow(
      /absent\.json: cannot read suite: ENOENT/,
    );
  });

  it('the hash ignores key order and whitespace, and changes with content', () => {
    const a = parseSuite(good, 'a.json').hash;
    const reordered = JSON.parse(
      JSON.stringify({ groups: good.groups, seeds: good.seeds, name: good.name }),
    );
    expect(parseSuite(reordered, 'b.json').hash).toBe(a);
    expect(parseSuite({ ...good, seeds: [1, 3] }, 'c.json').hash).not.toBe(a);
  });

  it('--quick applies the group’s quick overrides and keeps the first seed; --seed replaces seeds', () => {
    const raw = withGroup({ quick: { sizes: ['64M'] } });
    const quick = parseSuite(raw, 's.json', { quick: true }).groups[0];
    expect(quick?.sizesBytes).toEqual([64 * 2 ** 20]);
    expect(quick?.seeds).toEqual([1]);
    expect(parseSuite(raw, 's.json', { seeds: [42] }).groups[0]?.seeds).toEqual([42]);
    expect(parseSuite(raw, 's.json').groups[0]?.sizesBytes).toEqual([2 ** 30]);
  });
});
