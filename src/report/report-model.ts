import type { ChartFooter, ChartSpec } from './chart-spec.ts';
import type { ComparisonTable } from './text-table.ts';

/**
 * A results file as a discussion-ready report: what the text and markdown renderers print and
 * what the chart renderer draws. Built by plots.ts from the results, nothing else.
 */
export interface Report {
  /** "qedlab results: suite default". */
  title: string;
  /** One paragraph of setup: device models, sizes, seeds, what a cell means. */
  setup: string;
  sections: ReportSection[];
  footer: ChartFooter;
}

export interface ReportSection {
  id: string;
  /** The question the section answers. */
  heading: string;
  charts: ChartSpec[];
  tables: ComparisonTable[];
  /** Plain sentences: what to look at, or why a chart is missing. */
  notes: string[];
}
