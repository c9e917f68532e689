import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeResults } from '../src/bench/results.ts';
import { renderSpec } from '../src/report/chart-kinds.ts';
import { type PlotOutput, plotResults } from '../src/report/plot-results.ts';
import { buildReport } from '../src/report/plots.ts';
import { decodePng, inkPixels, runTinySuite } from './helpers/report-fixtures.ts';

describe('qedlab plot turns a results file into charts and reports', () => {
  let dir: string;
  let jsonPath: string;
  let output: PlotOutput;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qedlab-plot-'));
    jsonPath = writeResults(path.join(dir, 'results'), runTinySuite()).json;
    output = plotResults(jsonPath, path.join(dir, 'charts', 'tiny'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('draws fsck vs size, the latency CDF and the metadata chart as 1600×900 PNGs with data', async () => {
    const names = output.charts.map((c) => path.basename(c));
    expect(names).toEqual(
      expect.arrayContaining([
        'fsck-vs-size-hdd.png',
        'latency-cdf-random-nvme.png',
        'metadata-per-gib.png',
      ]),
    );
    const report = buildReport(JSON.parse(fs.readFileSync(jsonPath, 'utf8')));
    const specs = report.sections.flatMap((s) => s.charts);
    expect(specs.map((s) => `${s.id}.png`)).toEqual(names);
    for (const spec of specs) {
      const file = path.join(dir, 'charts', 'tiny', `${spec.id}.png`);
      const rendered = renderSpec(spec, report.footer);
      // the file is what the spec renders to, so the plot area found here is the file's
      expect(fs.readFileSync(file).equals(rendered.png)).toBe(true);
      const image = await decodePng(rendered.png);
      expect([image.width, image.height]).toEqual([1600, 900]);
      expect(inkPixels(image, rendered.plotArea), spec.id).toBeGreaterThan(200);
    }
  });

  it('writes the text report next to the JSON with the fsck table rows and differences', () => {
    expect(output.text).toBe(path.join(dir, 'results', 'tiny.txt'));
    const text = fs.readFileSync(output.text, 'utf8');
    expect(text).toContain('qedlab results: suite tiny');
    const prose = text.replace(/\s+/g, ' ');
    expect(prose).toContain('Seeds 1, 2: a value is the mean over seeds');
    expect(prose).toContain('hdd = a 7200 rpm disk');
    expect(text.split('\n').every((l) => l.length <= 100)).toBe(true);
    const table = text.slice(
      text.indexOf('Simulated open + check time after a power cut, ms (HDD'),
    );
    const lines = table.split('\n');
    expect(lines[2]).toMatch(/^virtual size\s+qed\s+raw$/);
    expect(lines[3]).toMatch(/^-+ {2}-+ {2}-+$/);
    expect(lines[4]).toMatch(/^1 GiB\s+\S+.*\s0$/);
    expect(lines[5]?.trim()).toBe('-100%');
    expect(lines[6]).toMatch(/^4 GiB\s/);
    expect(lines[8]).toMatch(/^16 GiB\s/);
    // the latency tables compare raw against qed, value ± spread or plain
    expect(text).toMatch(/P99 request latency, µs/);
    expect(text).toMatch(/random, NVMe\s+\d[\d.e+-]*( ± \d+%)?\s+\d/);
  });

  it('embeds every chart in the markdown report with links that resolve', () => {
    const markdown = fs.readFileSync(output.markdown, 'utf8');
    const links = [...markdown.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1] ?? '');
    expect(links).toHaveLength(output.charts.length);
    for (const link of links) {
      expect(fs.existsSync(path.resolve(path.dirname(output.markdown), decodeURI(link)))).toBe(
        true,
      );
    }
    expect(markdown).toContain('```text\nSimulated open + check time after a power cut, ms');
  });

  it('writes byte-identical files when run again, by default into charts/<suite>/ beside results/', () => {
    const before = [...output.charts, output.text, output.markdown].map((f) => fs.readFileSync(f));
    // a chart left from an earlier run that these results no longer produce is removed
    const stale = path.join(dir, 'charts', 'tiny', 'stale-chart.png');
    fs.writeFileSync(stale, 'old');
    const again = plotResults(jsonPath);
    expect(fs.existsSync(stale)).toBe(false);
    expect(again.charts.map((c) => path.dirname(c))).toEqual(
      output.charts.map(() => path.join(dir, 'charts', 'tiny')),
    );
    const after = [...again.charts, again.text, again.markdown].map((f) => fs.readFileSync(f));
    expect(after.length).toBe(before.length);
    after.forEach((bytes, i) => {
      expect(bytes.equals(before[i] as Buffer)).toBe(true);
    });
  });
});
