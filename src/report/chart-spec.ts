import type { Unit } from './units.ts';

/**
 * What a chart shows, independent of Chart.js: the plot layer builds these from results, the
 * chart layer turns them into Chart.js configurations. Keeping the two apart lets tests check
 * what a chart contains without decoding pixels, and keeps Chart.js out of the result mapping.
 */

export interface AxisSpec {
  /** Axis title; the unit is appended by the chart layer where ticks do not carry it. */
  title: string;
  unit: Unit;
  log: boolean;
  /** Explicit bounds (in the axis unit); default: from the data. */
  min?: number;
  max?: number;
  /** Explicit ticks with their labels (replaces generated ticks and unit formatting). */
  ticks?: Array<{ value: number; label: string }>;
}

export interface Point {
  x: number;
  y: number;
}

export interface LineSeries {
  label: string;
  points: Point[];
  /** For a CDF: how many samples it summarises (sets how far into the tail the axis reaches). */
  samples?: number;
  /** Series with the same styleKey look the same in every chart (default: the label). */
  styleKey?: string;
}

/** Lines over a numeric x axis (log–log sweeps, the snapshot-count chart). */
export interface LineChartSpec {
  kind: 'line';
  x: AxisSpec;
  y: AxisSpec;
  series: LineSeries[];
}

/**
 * Empirical CDFs: each series is a list of (value, cumulative fraction) steps, drawn stepped so
 * the shape is exact; the y axis is the fraction of requests at or below x, on a "nines" scale
 * (0 %, 90 %, 99 %, 99.9 %, … evenly spaced) so the tail where stalls live is as visible as the
 * median.
 */
export interface CdfChartSpec {
  kind: 'cdf';
  x: AxisSpec;
  series: LineSeries[];
}

/** Per-request values in order (the allocation-stall timeline); drawn without markers. */
export interface TimelineChartSpec {
  kind: 'timeline';
  x: AxisSpec;
  y: AxisSpec;
  series: LineSeries[];
}

export interface BarSeries {
  label: string;
  /** One value per category; NaN leaves a gap. */
  values: number[];
  styleKey?: string;
}

/** Bars per category; stacked (one bar per category made of the series) or grouped. */
export interface BarChartSpec {
  kind: 'bar';
  /** Category labels; an array is drawn as several lines. */
  categories: Array<string | string[]>;
  categoryTitle: string;
  y: AxisSpec;
  series: BarSeries[];
  stacked: boolean;
}

export type ChartBody = LineChartSpec | CdfChartSpec | TimelineChartSpec | BarChartSpec;

export interface ChartSpec {
  /** File stem: `<id>.png`; lower-case, digits and dashes. */
  id: string;
  /** The question the chart answers, as its title. */
  title: string;
  /** One line of setup under the title (device model, cluster size, …). */
  subtitle?: string;
  body: ChartBody;
  /** Two or three sentences for the report: what to look at. */
  caption?: string;
  /** The seeds behind this chart, when fewer than the results file's (its footer names them). */
  seeds?: number[];
}

/** Footer text common to every chart of one results file. */
export interface ChartFooter {
  suite: string;
  seeds: readonly number[];
  labVersion: string;
  gitCommit?: string;
}
