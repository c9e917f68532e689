import { footerText } from './chart-canvas.ts';
import type { Report } from './report-model.ts';
import { renderComparisonTable } from './text-table.ts';

/** Prose is wrapped for mail: qemu-devel readers quote it inline. */
const WRAP_COLUMNS = 72;

export function wrapText(text: string, columns = WRAP_COLUMNS): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > columns) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines.join('\n');
}

/**
 * The plain-text report to paste into a qemu-devel mail: the setup paragraph, then per question
 * its fixed-width tables (simplebench style) and notes; charts are named as attachments, since
 * a list reads inline text and carries images only as attachments.
 *
 * `chartFiles` maps a chart id to the path to print for it (omitted charts are not mentioned).
 */
export function renderTextReport(report: Report, chartFiles: ReadonlyMap<string, string>): string {
  const out: string[] = [report.title, '='.repeat(report.title.length), '', wrapText(report.setup)];
  report.sections.forEach((section, i) => {
    const heading = `${i + 1}. ${section.heading}`;
    out.push('', '', heading, '-'.repeat(Math.min(heading.length, WRAP_COLUMNS)));
    for (const note of section.notes) out.push('', wrapText(note));
    for (const table of section.tables) out.push('', renderComparisonTable(table));
    const charts = section.charts.flatMap((c) => {
      const file = chartFiles.get(c.id);
      return file === undefined ? [] : [`  ${file}: ${c.title}`];
    });
    if (charts.length > 0) out.push('', 'Charts:', ...charts);
  });
  out.push('', '--', footerText(report.footer), '');
  return out.join('\n');
}
