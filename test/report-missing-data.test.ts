import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeResults } from '../src/bench/results.ts';
import { plotResults } from '../src/report/plot-results.ts';
import { buildReport } from '../src/report/plots.ts';
import { runTinySuite, TINY_SUITE } from './helpers/report-fixtures.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qedlab-plot-missing-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Only the metadata group: no fsck, no stall group, no snapshots. */
const metadataOnly = () =>
  runTinySuite({
    ...TINY_SUITE,
    groups: TINY_SUITE.groups.filter((g) => g.name === 'metadata'),
  });

describe('a chart whose data the results lack is skipped with a note, not drawn empty', () => {
  it('keeps the section with a "Not drawn" note and no chart', () => {
    const report = buildReport(metadataOnly());
    const section = (id: string) => report.sections.find((s) => s.id === id);
    for (const id of [
      'fsck-vs-size',
      'fsck-vs-density',
      'latency-cdf',
      'stall-timeline',
      'snapshots',
    ]) {
      expect(section(id)?.charts, id).toEqual([]);
      expect(section(id)?.notes[0], id).toMatch(/^Not drawn: /);
    }
    expect(section('metadata-per-gib')?.charts.length).toBeGreaterThan(0);
  });

  it('writes only the charts that have data, and says why the others are missing', () => {
    const json = writeResults(path.join(dir, 'results'), metadataOnly()).json;
    const out = plotResults(json, path.join(dir, 'charts'));
    expect(out.charts.map((c) => path.basename(c))).toEqual(['metadata-per-gib.png']);
    expect(fs.readdirSync(path.join(dir, 'charts'))).toEqual(['metadata-per-gib.png']);
    const text = fs.readFileSync(out.text, 'utf8').replace(/\s+/g, ' ');
    expect(text).toContain(
      'Not drawn: the results hold no fsck measurements at three or more virtual sizes.',
    );
    const markdown = fs.readFileSync(out.markdown, 'utf8');
    expect(markdown).toContain('Not drawn: no case took internal snapshots.');
  });

  it('draws nothing from results whose cases all failed', () => {
    const results = metadataOnly();
    results.rows = results.rows.map((r) => ({ ...r, status: 'error', error: 'engine failed' }));
    const report = buildReport(results);
    expect(report.sections.flatMap((s) => s.charts)).toEqual([]);
    expect(report.sections.every((s) => s.notes[0]?.startsWith('Not drawn: '))).toBe(true);
  });

  it('leaves out a chart whose values are all zero (a device model that charges nothing)', () => {
    const report = buildReport(
      runTinySuite({
        ...TINY_SUITE,
        groups: [
          {
            ...TINY_SUITE.groups.find((g) => g.name === 'stalls'),
            name: 'refcount-growth',
            question: 'Does a refcount-table growth stall a request?',
            devices: ['none'],
          },
        ],
      }),
    );
    const timeline = report.sections.find((s) => s.id === 'stall-timeline');
    expect(timeline?.charts).toEqual([]);
    expect(timeline?.notes).toContain(
      'Not drawn: stall-timeline-random-none: every value is zero.',
    );
    // and no table of zero latencies either
    expect(timeline?.tables).toEqual([]);
  });
});
