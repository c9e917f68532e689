import { describe, expect, it } from 'vitest';
import type { ResultsFile } from '../src/bench/results.ts';
import { renderSpec } from '../src/report/chart-kinds.ts';
import { buildReport } from '../src/report/plots.ts';
import { renderComparisonTable } from '../src/report/text-table.ts';
import { decodePng, inkPixels, runTinySuite, TINY_SUITE } from './helpers/report-fixtures.ts';

/**
 * Results of a group comparing QEMU's QED with a design variant. The variant's rows are the
 * baseline's with a smaller image file, as a freelist that reuses clusters would give.
 */
function variantResults(): ResultsFile {
  const results = runTinySuite({
    ...TINY_SUITE,
    groups: [
      {
        ...TINY_SUITE.groups.find((g) => g.name === 'metadata'),
        name: 'qed-freelist',
        question: 'Does the freelist let QED reuse discarded space?',
      },
    ],
  });
  const variantRows = results.rows
    .filter((r) => r.format === 'qed')
    .map((r) => ({
      ...r,
      variant: 'freelist',
      label: 'qed:freelist',
      case_id: `${r.case_id}/freelist`,
      image_file_size_bytes: Number(r.image_file_size_bytes) / 2,
    }));
  results.rows.push(...variantRows);
  return results;
}

describe('a design-variant group gets a comparison section against the baseline', () => {
  it('charts the variant beside QEMU behaviour and tables the relative difference', async () => {
    const report = buildReport(variantResults());
    const section = report.sections.find((s) => s.id === 'variant-space');
    expect(section?.heading).toMatch(/reuses space/);
    expect(section?.notes).toContain(
      'qed-freelist: Does the freelist let QED reuse discarded space?',
    );
    const chart = section?.charts[0];
    if (chart?.body.kind !== 'bar') throw new Error('expected a bar chart');
    expect(chart.id).toBe('variant-space-qed-freelist');
    expect(chart.body.series.map((s) => s.label)).toEqual(['qed', 'raw', 'qed:freelist']);
    const table = section?.tables.find((t) => t.title.startsWith('Image file size'));
    if (table === undefined) throw new Error('no image size table');
    expect(table.columns).toEqual(['qed', 'raw', 'qed:freelist']);
    const differences = renderComparisonTable(table).split('\n')[6] ?? '';
    expect(differences.trim().split(/\s+/).at(-1)).toBe('A-50%');
    const rendered = renderSpec(chart, report.footer);
    expect(inkPixels(await decodePng(rendered.png), rendered.plotArea)).toBeGreaterThan(200);
  });

  it('leaves out comparison sections no group asks for', () => {
    const report = buildReport(variantResults());
    const variantSections = report.sections.filter((s) => s.id.startsWith('variant-'));
    expect(variantSections.map((s) => s.id)).toEqual(['variant-space']);
  });
});
