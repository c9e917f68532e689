import { createRequire } from 'node:module';
import * as path from 'node:path';
import { type Canvas, createCanvas, GlobalFonts } from '@napi-rs/canvas';
import {
  Chart,
  type ChartConfiguration,
  type ChartItem,
  type Plugin,
  registerables,
} from 'chart.js';
import type { ChartFooter } from './chart-spec.ts';

/** Layout size in CSS pixels; devicePixelRatio 2 makes the PNG 1600×900 (readable as a mail attachment). */
export const CHART_WIDTH_CSS = 800;
export const CHART_HEIGHT_CSS = 450;
export const CHART_PIXEL_RATIO = 2;
export const CHART_WIDTH_PX = CHART_WIDTH_CSS * CHART_PIXEL_RATIO;
export const CHART_HEIGHT_PX = CHART_HEIGHT_CSS * CHART_PIXEL_RATIO;

/**
 * The charts' font family. Registered from the npm-shipped DejaVu files rather than taken from
 * /usr/share/fonts, so the PNGs come out the same on any machine that ran `npm ci`.
 */
export const FONT_FAMILY = 'Lab Sans';

let ready = false;

/** Registers Chart.js's components and the lab font, once per process. */
export function ensureChartSetup(): void {
  if (ready) return;
  Chart.register(...registerables);
  const require = createRequire(import.meta.url);
  const fontDir = path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
  for (const file of ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf']) {
    if (GlobalFonts.registerFromPath(path.join(fontDir, file), FONT_FAMILY) === null) {
      throw new Error(`could not register chart font ${path.join(fontDir, file)}`);
    }
  }
  Chart.defaults.font.family = FONT_FAMILY;
  Chart.defaults.font.size = 11;
  Chart.defaults.color = '#222222';
  ready = true;
}

/** PNGs are transparent by default, which turns black in dark-mode mail clients. */
const whiteBackground: Plugin = {
  id: 'qedlabWhiteBackground',
  beforeDraw(chart) {
    const { ctx } = chart;
    ctx.save();
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, chart.width, chart.height);
    ctx.restore();
  },
};

const FOOTER_HEIGHT_CSS = 16;

/** The provenance line under every chart: which suite, seeds and lab build produced it. */
export function footerText(footer: ChartFooter): string {
  const seeds =
    footer.seeds.length === 0
      ? 'seeds none'
      : `${footer.seeds.length === 1 ? 'seed' : 'seeds'} ${footer.seeds.join(', ')}`;
  const build = footer.gitCommit ? ` (${footer.gitCommit.slice(0, 12)})` : '';
  return `suite ${footer.suite} · ${seeds} · qedlab ${footer.labVersion}${build} · simulated time`;
}

function footerPlugin(text: string): Plugin {
  return {
    id: 'qedlabFooter',
    afterDraw(chart) {
      const { ctx } = chart;
      ctx.save();
      ctx.font = `10px "${FONT_FAMILY}"`;
      ctx.fillStyle = '#555555';
      ctx.textAlign = 'right';
      ctx.textBaseline = 'bottom';
      ctx.fillText(text, chart.width - 8, chart.height - 4);
      ctx.restore();
    },
  };
}

/** A rendered chart: the PNG, and where the plot area landed (PNG pixels), for checks. */
export interface RenderedChart {
  png: Buffer;
  plotArea: { left: number; top: number; right: number; bottom: number };
}

/**
 * Draws a Chart.js configuration once (no animation, fixed size) and returns the PNG bytes.
 * The same configuration gives byte-identical PNGs: nothing in the picture or in the PNG
 * metadata depends on the time or the machine.
 */
export function renderChart(
  config: ChartConfiguration,
  footer: ChartFooter,
  metadata: { title: string } = { title: '' },
): RenderedChart {
  ensureChartSetup();
  const canvas: Canvas = createCanvas(CHART_WIDTH_CSS, CHART_HEIGHT_CSS);
  const text = footerText(footer);
  const options = config.options ?? {};
  const padding = { top: 4, left: 8, right: 16, bottom: FOOTER_HEIGHT_CSS + 4 };
  const chart = new Chart(
    canvas.getContext('2d') as unknown as ChartItem,
    {
      ...config,
      plugins: [...(config.plugins ?? []), whiteBackground, footerPlugin(text)],
      options: {
        ...options,
        responsive: false,
        animation: false,
        devicePixelRatio: CHART_PIXEL_RATIO,
        layout: { padding },
      },
    } as ChartConfiguration,
  );
  try {
    const area = chart.chartArea;
    const png = canvas.encodeSync('png', {
      title: metadata.title,
      description: text,
      software: 'qedlab (Chart.js on @napi-rs/canvas)',
    });
    const px = (v: number) => Math.round(v * CHART_PIXEL_RATIO);
    return {
      png,
      plotArea: {
        left: px(area.left),
        top: px(area.top),
        right: px(area.right),
        bottom: px(area.bottom),
      },
    };
  } finally {
    chart.destroy();
  }
}
