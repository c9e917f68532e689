import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ResultsFile } from '../bench/results.ts';
import { RESULTS_SCHEMA } from '../bench/results.ts';
import { LabError } from '../util/errors.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { renderSpec } from './chart-kinds.ts';
import { renderMarkdownReport } from './markdown-report.ts';
import { buildReport } from './plots.ts';
import { renderTextReport } from './text-report.ts';

export interface PlotOutput {
  /** PNG files written, in report order. */
  charts: string[];
  text: string;
  markdown: string;
}

/**
 * Where charts go by default: `charts/<suite>/` beside the results directory when the JSON sits
 * in one named `results/` (the lab's own layout: results/default.json → charts/default/), else
 * `charts/<suite>/` in the JSON's directory.
 */
export function defaultChartDir(resultsJsonPath: string, suite: string): string {
  const dir = path.dirname(path.resolve(resultsJsonPath));
  const root = path.basename(dir) === 'results' ? path.dirname(dir) : dir;
  return path.join(root, 'charts', suite);
}

/** The files written, one path a line relative to the current directory (stdout of the CLI). */
export function plotOutputLines(output: PlotOutput): string {
  const show = (p: string) => path.relative(process.cwd(), p) || p;
  return [...output.charts, output.text, output.markdown].map((p) => `${show(p)}\n`).join('');
}

/** Reads a results JSON, with one-line errors for the files a user can get wrong. */
export function readResultsFile(file: string): ResultsFile {
  let textContent: string;
  try {
    textContent = fs.readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new LabError(
      'RESULTS',
      `${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code})`}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(textContent);
  } catch {
    throw new LabError('RESULTS', `${file}: not JSON`);
  }
  const value = parsed as Partial<ResultsFile>;
  if (value.schema !== RESULTS_SCHEMA)
    throw new LabError(
      'RESULTS',
      `${file}: not a ${RESULTS_SCHEMA} results file (schema ${JSON.stringify(value.schema)})`,
    );
  if (!Array.isArray(value.rows) || typeof value.meta !== 'object' || value.meta === null)
    throw new LabError('RESULTS', `${file}: results file without rows or meta`);
  return { ...value, details: value.details ?? {} } as ResultsFile;
}

/**
 * Draws the charts of a results file into `outDir` and writes the text and markdown reports
 * next to the JSON (`<suite>.txt`, `<suite>.md`). Every file is written atomically; charts that
 * would be byte-identical are still rewritten (renames are cheap), so mtime is not a signal.
 */
export function plotResults(resultsJsonPath: string, outDir?: string): PlotOutput {
  const file = readResultsFile(resultsJsonPath);
  const suite = file.meta.suite.name;
  const chartDir = outDir ?? defaultChartDir(resultsJsonPath, suite);
  const report = buildReport(file);
  const base = path.join(path.dirname(resultsJsonPath), suite);
  const textPath = `${base}.txt`;
  const markdownPath = `${base}.md`;
  const charts: string[] = [];
  const textLinks = new Map<string, string>();
  const markdownLinks = new Map<string, string>();
  for (const section of report.sections) {
    for (const spec of section.charts) {
      const png = path.join(chartDir, `${spec.id}.png`);
      writeFileAtomic(png, renderSpec(spec, report.footer).png);
      charts.push(png);
      textLinks.set(spec.id, path.basename(png));
      markdownLinks.set(spec.id, toPosix(path.relative(path.dirname(markdownPath), png)));
    }
  }
  // The default directory belongs to this suite: a chart the results no longer support (data
  // gone, now all zero) must not linger there beside the new ones.
  if (outDir === undefined) {
    const written = new Set(charts.map((c) => path.basename(c)));
    for (const name of fs.existsSync(chartDir) ? fs.readdirSync(chartDir) : []) {
      if (name.endsWith('.png') && !written.has(name)) fs.rmSync(path.join(chartDir, name));
    }
  }
  writeFileAtomic(textPath, renderTextReport(report, textLinks));
  writeFileAtomic(markdownPath, renderMarkdownReport(report, markdownLinks));
  return { charts, text: textPath, markdown: markdownPath };
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}
