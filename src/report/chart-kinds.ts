import { createCanvas } from '@napi-rs/canvas';
import {
  Chart,
  type ChartConfiguration,
  type ChartDataset,
  type LegendItem,
  type Scale,
  type ScaleOptionsByType,
} from 'chart.js';
import { type RenderedChart, renderChart } from './chart-canvas.ts';
import type {
  AxisSpec,
  BarChartSpec,
  ChartFooter,
  ChartSpec,
  LineSeries,
  Point,
} from './chart-spec.ts';
import { assignFillStyles, assignSeriesStyles, type FillStyle } from './chart-style.ts';
import { binaryLinearTicks, logRange } from './chart-ticks.ts';
import { downsampleMinMax, MAX_SERIES_POINTS } from './downsample.ts';
import { formatValue } from './units.ts';

/**
 * Turns a ChartSpec into a Chart.js configuration: the one place that knows how a line, CDF,
 * timeline or bar chart of the lab looks (fonts, scales, ticks, styles). Every chart gets a
 * title, a subtitle line when given, axis titles, and a legend.
 */
export function chartConfiguration(spec: ChartSpec): ChartConfiguration {
  const body = spec.body;
  const base = {
    title: spec.title,
    ...(spec.subtitle === undefined ? {} : { subtitle: spec.subtitle }),
  };
  switch (body.kind) {
    case 'line':
      return xyConfiguration(base, body.x, body.y, body.series, { markers: true, stepped: false });
    case 'timeline':
      return xyConfiguration(
        base,
        // Request numbers: the axis ends where the run ended, not at the next round number.
        { ...body.x, max: body.x.max ?? timelineEnd(body.series) },
        body.y,
        body.series.map((s) => ({ ...s, points: downsampleMinMax(s.points, MAX_SERIES_POINTS) })),
        { markers: false, stepped: false },
      );
    case 'cdf': {
      const tail = ninesAxis(body.series);
      return xyConfiguration(
        base,
        body.x,
        tail.axis,
        body.series.map((s) => ({
          ...s,
          points: s.points.map((p) => ({ x: p.x, y: tail.toAxis(p.y) })),
        })),
        { markers: false, stepped: true },
      );
    }
    case 'bar':
      return barConfiguration(base, body);
  }
}

/**
 * The y axis of a CDF in "nines": a fraction F sits at -log10(1 - F), so 90 %, 99 %, 99.9 % are
 * evenly spaced. The axis reaches as far into the tail as the sample count resolves (1/n), and
 * F = 1 (every request) is drawn on a last tick labelled 100 % just above.
 */
export function ninesAxis(series: readonly LineSeries[]): {
  axis: AxisSpec;
  toAxis: (fraction: number) => number;
} {
  const counts = series.map((s) => {
    if (s.samples !== undefined) return s.samples;
    const gaps = s.points.map((p) => 1 - p.y).filter((g) => g > 1e-15);
    return gaps.length === 0 ? 10 : 1 / Math.min(...gaps);
  });
  const resolved = Math.max(1, Math.log10(Math.max(10, ...counts)));
  const top = resolved + 0.4;
  const ticks: Array<{ value: number; label: string }> = [
    { value: 0, label: '0%' },
    { value: Math.log10(2), label: '50%' },
  ];
  for (let nines = 1; nines <= Math.floor(resolved + 1e-9); nines++) {
    ticks.push({ value: nines, label: `${Number((100 - 100 * 10 ** -nines).toFixed(nines))}%` });
  }
  ticks.push({ value: top, label: '100%' });
  return {
    axis: {
      title: 'requests at or below (nines scale)',
      unit: 'fraction',
      log: false,
      min: 0,
      max: top,
      ticks,
    },
    toAxis: (fraction) =>
      fraction <= 0 ? 0 : fraction >= 1 ? top : Math.min(top, -Math.log10(1 - fraction)),
  };
}

function timelineEnd(series: readonly LineSeries[]): number {
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  return xs.length === 0 ? 1 : Math.max(...xs);
}

interface Titles {
  title: string;
  subtitle?: string;
}

function commonPlugins(titles: Titles, legendLabels: object) {
  return {
    title: {
      display: true,
      text: wrapLines(titles.title, TITLE_CHARS),
      font: { size: 15, weight: 'bold' as const },
      padding: { top: 6, bottom: titles.subtitle === undefined ? 8 : 2 },
    },
    subtitle: {
      display: titles.subtitle !== undefined,
      text: titles.subtitle ?? '',
      font: { size: 11 },
      color: '#444444',
      padding: { bottom: 8 },
    },
    legend: {
      display: true,
      position: 'top' as const,
      labels: { boxHeight: 10, padding: 10, font: { size: 11 }, ...legendLabels },
    },
    tooltip: { enabled: false },
  };
}

type AxisOptions = Record<string, unknown>;

/** Scale options for one axis: log axes get power-of-two or decade ticks on fixed bounds. */
function axisOptions(axis: AxisSpec, values: readonly number[], position: 'x' | 'y'): AxisOptions {
  const title = {
    display: true,
    text: axisTitle(axis, position),
    font: { size: 12, weight: 'bold' as const },
  };
  const grid = { color: '#e4e4e4' };
  const tickFont = { size: 11 };
  const format = (value: number | string) => formatValue(Number(value), axis.unit);
  if (axis.ticks !== undefined) {
    const explicit = axis.ticks;
    return {
      type: axis.log ? 'logarithmic' : 'linear',
      ...(axis.min === undefined ? {} : { min: axis.min }),
      ...(axis.max === undefined ? {} : { max: axis.max }),
      title,
      grid,
      afterBuildTicks: (scale: Scale) => {
        scale.ticks = explicit.map((t) => ({ value: t.value }));
      },
      ticks: {
        callback: (value: number | string) =>
          explicit.find((t) => Math.abs(t.value - Number(value)) < 1e-9)?.label ?? '',
        font: tickFont,
        maxRotation: 0,
        autoSkip: false,
      },
    };
  }
  if (axis.log) {
    const positives = values.filter((v) => v > 0 && Number.isFinite(v));
    const lo = axis.min ?? (positives.length > 0 ? Math.min(...positives) : 1);
    const hi = axis.max ?? (positives.length > 0 ? Math.max(...positives) : 10);
    // A value axis keeps data off its edges: a point exactly on a decade would sit on the axis
    // line. (Size axes keep their data on the edges: the sweep's ends are its ticks.)
    const pad = position === 'y' && axis.min === undefined ? 1.15 : 1;
    const range = logRange(lo / pad, hi * (axis.max === undefined ? pad : 1), axis.unit);
    return {
      type: 'logarithmic',
      min: range.min,
      max: range.max,
      title,
      grid,
      afterBuildTicks: (scale: Scale) => {
        scale.ticks = range.ticks.map((value) => ({ value }));
      },
      ticks: { callback: format, font: tickFont, maxRotation: 0, autoSkip: false },
    };
  }
  const options: AxisOptions = {
    type: 'linear',
    title,
    grid,
    ticks: { callback: format, font: tickFont, maxRotation: 0 },
  };
  if (axis.min !== undefined) options.min = axis.min;
  else if (position === 'y' || values.every((v) => v >= 0)) options.min = 0;
  if (axis.max !== undefined) options.max = axis.max;
  if (axis.unit === 'bytes' && axis.max === undefined) {
    const finite = values.filter(Number.isFinite);
    const { max, ticks } = binaryLinearTicks(finite.length > 0 ? Math.max(...finite) : 1);
    options.max = max;
    options.afterBuildTicks = (scale: Scale) => {
      scale.ticks = ticks.map((value) => ({ value }));
    };
  }
  return options;
}

/** Log axes say so in the title: a reader comparing slopes must know. */
function axisTitle(axis: AxisSpec, position: 'x' | 'y'): string | string[] {
  const text = axis.log ? `${axis.title} (log scale)` : axis.title;
  // A y title runs along the short side of the chart; an x title has the whole width.
  return position === 'y' ? wrapLines(text, AXIS_TITLE_CHARS) : text;
}

/** Longest line (characters) of a chart title and of a y-axis title before they wrap. */
const TITLE_CHARS = 72;
const AXIS_TITLE_CHARS = 44;

/**
 * Splits text into lines of at most `width` characters at spaces (Chart.js draws an array as
 * several lines; a single long line would run off the canvas or over the axis).
 */
export function wrapLines(text: string, width: number): string | string[] {
  if (text.length <= width) return text;
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

function xyConfiguration(
  titles: Titles,
  x: AxisSpec,
  y: AxisSpec,
  series: readonly LineSeries[],
  look: { markers: boolean; stepped: boolean },
): ChartConfiguration {
  const keys = series.map((s) => s.styleKey ?? s.label);
  const styles = assignSeriesStyles(keys);
  // A log axis cannot place zero or negative values: they are dropped rather than clamped.
  const visible = (p: Point) =>
    Number.isFinite(p.x) && Number.isFinite(p.y) && (!x.log || p.x > 0) && (!y.log || p.y > 0);
  const datasets: ChartDataset<'line', Point[]>[] = series.map((s, i) => {
    const style = styles.get(keys[i] as string);
    if (style === undefined) throw new Error(`no style for series ${s.label}`);
    const points = s.points.filter(visible);
    const showMarkers = look.markers && points.length <= 40;
    return {
      label: s.label,
      data: points,
      borderColor: style.color,
      backgroundColor: style.color,
      borderDash: style.dash,
      borderWidth: look.markers ? 2 : 1.5,
      pointStyle: style.marker,
      pointRadius: showMarkers ? 3.5 : 0,
      pointBorderWidth: 1.5,
      fill: false,
      tension: 0,
      stepped: look.stepped ? 'before' : false,
      parsing: false,
      normalized: true,
      spanGaps: false,
      // Markers on the axis bounds would be cut in half by the plot-area clip.
      clip: false,
      // Later series on top: where lines coincide, the dashed ones drawn over the solid first
      // series stay visible (Chart.js draws the lowest order last).
      order: -i,
    };
  });
  const xs = datasets.flatMap((d) => d.data.map((p) => p.x));
  const ys = datasets.flatMap((d) => d.data.map((p) => p.y));
  return {
    type: 'line',
    data: { datasets },
    options: {
      plugins: commonPlugins(titles, {
        // A line sample in the legend, drawn with the series' dash pattern: the marker alone
        // would not tell dashed from solid.
        usePointStyle: true,
        pointStyle: 'line',
        pointStyleWidth: 36,
        boxHeight: 12,
        // Drawing order is reversed (see `order`); the legend keeps the series order.
        sort: (a: LegendItem, b: LegendItem) => (a.datasetIndex ?? 0) - (b.datasetIndex ?? 0),
        generateLabels: (chart: Chart): LegendItem[] =>
          Chart.defaults.plugins.legend.labels.generateLabels(chart).map((item) => {
            const dataset = datasets[item.datasetIndex ?? -1];
            return dataset === undefined
              ? item
              : {
                  ...item,
                  lineDash: dataset.borderDash as number[],
                  lineWidth: 2,
                  strokeStyle: dataset.borderColor as string,
                };
          }),
      }),
      scales: {
        x: axisOptions(x, xs, 'x') as unknown as ScaleOptionsByType<'linear'>,
        y: axisOptions(y, ys, 'y') as unknown as ScaleOptionsByType<'linear'>,
      },
    },
  };
}

function barConfiguration(titles: Titles, spec: BarChartSpec): ChartConfiguration {
  const keys = spec.series.map((s) => s.styleKey ?? s.label);
  const fills = assignFillStyles(keys);
  const datasets: ChartDataset<'bar', number[]>[] = spec.series.map((s, i) => {
    const fill = fills.get(keys[i] as string) as FillStyle;
    const background = fillPaint(fill);
    // A series that is zero everywhere draws nothing: its legend entry says so.
    const allZero = s.values.every((v) => v === 0);
    return {
      label: allZero ? `${s.label} (0)` : s.label,
      data: s.values.map((v) => (spec.y.log && !(v > 0) ? Number.NaN : v)),
      backgroundColor: background as unknown as string,
      hoverBackgroundColor: background as unknown as string,
      borderColor: '#222222',
      borderWidth: 0.75,
      // One category's bar would otherwise fill the whole width.
      maxBarThickness: 120,
      ...(spec.stacked ? { stack: 'all' } : {}),
    };
  });
  const values = spec.stacked
    ? spec.categories.map((_, c) =>
        spec.series.reduce(
          (sum, s) => sum + (Number.isFinite(s.values[c]) ? (s.values[c] as number) : 0),
          0,
        ),
      )
    : spec.series.flatMap((s) => s.values);
  const y = axisOptions(spec.y, values, 'y');
  if (spec.stacked) y.stacked = true;
  return {
    type: 'bar',
    data: { labels: spec.categories, datasets },
    options: {
      plugins: commonPlugins(titles, { boxWidth: 18, boxHeight: 12 }),
      scales: {
        x: {
          type: 'category',
          stacked: spec.stacked,
          title: { display: true, text: spec.categoryTitle, font: { size: 12, weight: 'bold' } },
          grid: { display: false },
          ticks: { font: { size: 11 }, maxRotation: 0, autoSkip: false },
        },
        y: y as unknown as ScaleOptionsByType<'linear'>,
      },
    },
  };
}

const HATCH_TILE_PX = 8;

/**
 * A colour with hatching drawn on top (a canvas pattern): stacked segments then differ in
 * texture as well as hue, which survives greyscale printing.
 */
function fillPaint(fill: FillStyle): unknown {
  if (fill.hatch === 'none') return fill.color;
  const tile = createCanvas(HATCH_TILE_PX, HATCH_TILE_PX);
  const ctx = tile.getContext('2d');
  ctx.fillStyle = fill.color;
  ctx.fillRect(0, 0, HATCH_TILE_PX, HATCH_TILE_PX);
  const light = isLight(fill.color);
  ctx.strokeStyle = light ? 'rgba(0,0,0,0.75)' : 'rgba(255,255,255,0.85)';
  ctx.fillStyle = ctx.strokeStyle;
  ctx.lineWidth = 1.25;
  const n = HATCH_TILE_PX;
  ctx.beginPath();
  switch (fill.hatch) {
    case 'diagonal':
      ctx.moveTo(0, n);
      ctx.lineTo(n, 0);
      ctx.moveTo(-1, 1);
      ctx.lineTo(1, -1);
      ctx.moveTo(n - 1, n + 1);
      ctx.lineTo(n + 1, n - 1);
      break;
    case 'cross':
      ctx.moveTo(0, 0);
      ctx.lineTo(n, n);
      ctx.moveTo(0, n);
      ctx.lineTo(n, 0);
      break;
    case 'horizontal':
      ctx.moveTo(0, n / 2);
      ctx.lineTo(n, n / 2);
      break;
    case 'vertical':
      ctx.moveTo(n / 2, 0);
      ctx.lineTo(n / 2, n);
      break;
    case 'dots':
      ctx.arc(n / 2, n / 2, 1.3, 0, Math.PI * 2);
      ctx.fill();
      return ctx.createPattern(tile, 'repeat');
  }
  ctx.stroke();
  return ctx.createPattern(tile, 'repeat');
}

function isLight(hex: string): boolean {
  const n = Number.parseInt(hex.slice(1), 16);
  const r = (n >> 16) & 255;
  const g = (n >> 8) & 255;
  const b = n & 255;
  return 0.299 * r + 0.587 * g + 0.114 * b > 140;
}

/** Renders a spec to a 1600×900 PNG with the provenance footer. */
export function renderSpec(spec: ChartSpec, footer: ChartFooter): RenderedChart {
  const seeds = spec.seeds ?? footer.seeds;
  return renderChart(chartConfiguration(spec), { ...footer, seeds }, { title: spec.title });
}
