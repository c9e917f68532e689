import { footerText } from './chart-canvas.ts';
import type { Report } from './report-model.ts';
import { renderComparisonTable } from './text-table.ts';

/**
 * The report as markdown (`results/<suite>.md`): the same setup, notes and fixed-width tables
 * as the text report, with each chart embedded after its section's prose.
 *
 * `chartLinks` maps a chart id to the image path relative to the markdown file.
 */
export function renderMarkdownReport(
  report: Report,
  chartLinks: ReadonlyMap<string, string>,
): string {
  const out: string[] = [`# ${report.title}`, '', report.setup];
  report.sections.forEach((section, i) => {
    out.push('', `## ${i + 1}. ${escapeMarkdown(section.heading)}`);
    for (const note of section.notes) out.push('', note);
    const captions = new Set<string>();
    for (const chart of section.charts) {
      const link = chartLinks.get(chart.id);
      if (link === undefined) continue;
      out.push('', `![${escapeMarkdown(chart.title)}](${encodeURI(link)})`);
      // One caption per section: the per-device charts of a section share theirs.
      if (chart.caption !== undefined && !captions.has(chart.caption)) {
        captions.add(chart.caption);
        out.push('', `*${escapeMarkdown(chart.caption)}*`);
      }
    }
    for (const table of section.tables) {
      out.push('', '```text', renderComparisonTable(table), '```');
    }
  });
  out.push('', '---', '', `<sub>${footerText(report.footer)}</sub>`, '');
  return out.join('\n');
}

function escapeMarkdown(text: string): string {
  return text.replace(/([\\`*_[\]<>])/g, '\\$1');
}
