import { createCanvas, loadImage } from '@napi-rs/canvas';
import type { ChartFooter, ChartSpec } from '../../src/report/chart-spec.ts';
import { cdfFromSamples } from '../../src/report/downsample.ts';
import { Rng } from '../../src/util/rng.ts';

export const FOOTER: ChartFooter = { suite: 'tiny', seeds: [1, 2], labVersion: '0.0.0-test' };

const TIB = 2 ** 40;

/** One small spec of each chart kind, from seeded data. */
export function tinySpecs(): ChartSpec[] {
  const rng = new Rng(7);
  const latencies = (scaleNs: number) =>
    Array.from({ length: 5000 }, () => scaleNs * (1 + rng.nextFloat()));
  return [
    {
      id: 'line',
      title: 'How does fsck time grow with the virtual size?',
      subtitle: 'HDD model',
      body: {
        kind: 'line',
        x: { title: 'virtual size', unit: 'bytes', log: true },
        y: { title: 'simulated fsck time', unit: 'ns', log: true },
        series: [
          { label: 'qed', points: [1, 16, 1024].map((t) => ({ x: t * TIB, y: t * 4e6 })) },
          { label: 'qcow2', points: [1, 16, 1024].map((t) => ({ x: t * TIB, y: t * 9e6 })) },
        ],
      },
    },
    {
      id: 'cdf',
      title: 'How are request latencies distributed?',
      body: {
        kind: 'cdf',
        x: { title: 'request latency', unit: 'ns', log: true },
        series: [
          { label: 'qed', points: cdfFromSamples(latencies(1e5)) },
          { label: 'qcow2', points: cdfFromSamples(latencies(3e5)) },
        ],
      },
    },
    {
      id: 'timeline',
      title: 'Does a refcount-table growth stall a request?',
      body: {
        kind: 'timeline',
        x: { title: 'request number', unit: 'count', log: false },
        y: { title: 'request latency', unit: 'ns', log: true },
        series: [
          {
            label: 'qcow2',
            points: latencies(1e5).map((y, x) => ({ x, y: x === 3000 ? 1e9 : y })),
          },
        ],
      },
    },
    {
      id: 'bar',
      title: 'How many metadata bytes does a GiB of guest data cost?',
      body: {
        kind: 'bar',
        stacked: true,
        categoryTitle: 'workload / format',
        categories: [
          ['sequential', 'qed'],
          ['sequential', 'qcow2'],
        ],
        y: { title: 'metadata written per GiB', unit: 'bytes', log: false },
        series: [
          { label: 'l2', values: [2 ** 20, 2 ** 21] },
          { label: 'refblock', values: [0, 2 ** 19] },
        ],
      },
    },
  ];
}

export interface DecodedPng {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

export async function decodePng(png: Buffer): Promise<DecodedPng> {
  const image = await loadImage(png);
  const canvas = createCanvas(image.width, image.height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(image, 0, 0);
  const data = ctx.getImageData(0, 0, image.width, image.height);
  return { width: image.width, height: image.height, rgba: data.data };
}

/**
 * Pixels inside a rectangle that carry data ink: darker or more saturated than the white
 * background and the light grey grid (#e4e4e4) ever are.
 */
export function inkPixels(
  image: DecodedPng,
  area: { left: number; top: number; right: number; bottom: number },
): number {
  let ink = 0;
  for (let y = Math.ceil(area.top) + 2; y < Math.floor(area.bottom) - 2; y++) {
    for (let x = Math.ceil(area.left) + 2; x < Math.floor(area.right) - 2; x++) {
      const i = (y * image.width + x) * 4;
      const min = Math.min(image.rgba[i] ?? 0, image.rgba[i + 1] ?? 0, image.rgba[i + 2] ?? 0);
      if (min < 200) ink++;
    }
  }
  return ink;
}
